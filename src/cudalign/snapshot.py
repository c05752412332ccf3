"""``cudalign snapshot``: this host and its environment as one JSON document, to compare later with ``diff``.

A snapshot is the ``doctor --json`` report plus every installed distribution of the interpreter (name,
version, build label, and where it came from: the installer that wrote it and, per PEP 610, the URL or
directory of a direct install). :func:`read_distributions` reads the metadata files; nothing is imported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cudalign._dataclass import dataclass
from cudalign.errors import InvalidInput

__all__ = ["SCHEMA", "Distribution", "make_snapshot", "read_distributions"]

SCHEMA = "cudalign.env-snapshot/1"
"""Not ``cudalign.snapshot/…``: that name is the PyPI-derived knowledge-base snapshot's."""


@dataclass(frozen=True, slots=True)
class Distribution:
    """One installed distribution."""

    name: str
    """Normalised name."""
    version: str
    """Full version, local label included (``2.9.0+cu128``)."""
    label: str | None
    """The local version label (``cu128``), the build variant where a package has them."""
    installer: str | None
    """What installed it (the ``INSTALLER`` file: ``pip``, ``uv``, ``conda``)."""
    source: str | None
    """Where it came from when not an index: the PEP 610 ``direct_url.json`` URL (``file:///src`` editable,
    a VCS or archive URL)."""
    location: str


def _name(text: str) -> str:
    return text.strip().lower().replace("_", "-").replace(".", "-")


def _headers(text: str) -> tuple[str | None, str | None]:
    name = version = None
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        if key == "Name" and name is None:
            name = value.strip()
        elif key == "Version" and version is None:
            version = value.strip()
    return name, version


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def read_distributions(site_dirs: Iterable[str | Path]) -> tuple[Distribution, ...]:
    """Every ``*.dist-info`` in the given site directories (the first of a name wins, as on ``sys.path``)."""
    seen: dict[str, Distribution] = {}
    for site in site_dirs:
        try:
            entries = sorted(os.scandir(site), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if not entry.name.endswith(".dist-info") or not entry.is_dir():
                continue
            folder = Path(entry.path)
            meta = _read(folder / "METADATA")
            if meta is None:
                continue
            name, version = _headers(meta)
            if not name or not version or _name(name) in seen:
                continue
            installer = (_read(folder / "INSTALLER") or "").strip() or None
            source = None
            direct = _read(folder / "direct_url.json")
            if direct:
                try:
                    url = json.loads(direct).get("url")
                    source = str(url) if url else None
                except (ValueError, AttributeError):
                    source = None
            label = version.split("+", 1)[1] if "+" in version else None
            seen[_name(name)] = Distribution(_name(name), version, label, installer, source, str(site))
    return tuple(sorted(seen.values(), key=lambda d: d.name))


def make_snapshot(
    doctor: Mapping[str, Any], distributions: Iterable[Distribution], *, taken: str, python: str
) -> dict[str, Any]:
    """The snapshot document: when, which interpreter, the doctor report and the distributions."""
    from cudalign.model import to_jsonable

    if doctor.get("schema") != "cudalign.doctor/1":
        raise InvalidInput("snapshot: the doctor report is not cudalign.doctor/1")
    return {
        "schema": SCHEMA,
        "taken": taken,
        "python": python,
        "doctor": dict(doctor),
        "distributions": to_jsonable(tuple(distributions)),
    }
