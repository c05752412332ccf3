"""Hosts written by ``cudalign doctor --json`` (one file per node, or a directory of them) -> nodes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cudalign.errors import InvalidHost, InvalidInput
from cudalign.fleet import NO_GPU, Node

__all__ = ["collect"]


def _files(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix == ".json" and f.is_file())
            if not found:
                raise InvalidInput(f"{p}: no .json files in this directory")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise InvalidInput(f"{p}: no such file or directory")
    return out


def _read(path: Path) -> Any:
    """The JSON in ``path``; one line naming the file (and line) when it cannot be read."""
    import json

    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc.__class__.__name__}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not valid JSON: not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except (RecursionError, ValueError) as exc:
        raise InvalidInput(f"{path}: not valid JSON: {exc.__class__.__name__}") from None


_MASK = "<hidden>"
"""What ``doctor --json`` writes for the hostname unless asked to show it: no name to tell nodes apart."""


def collect(paths: Sequence[Path]) -> list[Node]:
    """One node per file, named by the host's hostname, else (hidden or repeated) by the file's name.

    A host whose probe found no GPU is a node without GPUs: counted, not judged.
    """
    from cudalign.model import host_from_json

    nodes = []
    seen: set[str] = set()
    for path in _files(paths):
        data = _read(path)
        try:
            host = host_from_json(data, where="")
        except InvalidHost as exc:
            raise InvalidHost(f"{path}: {exc}") from None
        name = host.hostname if host.hostname and host.hostname != _MASK else path.stem
        if name in seen:
            name = f"{name} ({path})"
        seen.add(name)
        if host.gpus:
            nodes.append(Node(name, host))
        else:
            nodes.append(Node(name, None, NO_GPU, "the probe found no GPU"))
    return nodes
