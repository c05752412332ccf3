"""The torch build an image release installs, read from the project's own Dockerfile and lock file.

A serving project's image (``ghcr.io/huggingface/text-generation-inference:3.3.0``) carries the torch
its build installs, and that torch's architecture list decides which GPUs the image runs on, whatever
its nvidia/cuda base. :func:`lock_dir` finds the ``uv sync --frozen`` (or ``--locked``) step of the
Dockerfile's final stage (following ``FROM <stage>`` lines): uv then makes the environment match the lock
exactly, so the lock's torch is the image's. :func:`locked_torch` reads that torch from ``uv.lock`` for
the image's platform and Python; :func:`torch_facts` turns the releases' torches into ``[[image_torch]]``
facts, one per run of releases with the same torch (``scripts/derive_image_torch.py`` reads the tags
from a clone of the project). A release whose final stage installs torch otherwise (conda's ``pytorch``
package, an unpinned ``pip install torch``) is left out: its build is not known from these files.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from packaging.version import InvalidVersion, Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["LockedTorch", "final_runs", "lock_dir", "locked_torch", "python_version", "torch_facts"]

_FROM = r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$"
_SET = r"^\s*(?:ARG|ENV)\s+([A-Za-z_][A-Za-z0-9_]*)[= ](\S+)\s*$"
_INDEX = r"/whl/(cu\d+|cpu|rocm[\d.]+|xpu)/?$"


class LockedTorch(NamedTuple):
    """The torch a lock file installs on one platform (a plain record: only the derivation uses it)."""

    version: str
    """Its public version (``2.7.0``)."""
    variant: str | None
    """``cu128`` … from its local label or its index's path; None for PyPI's own build."""
    registry: str
    """The index the lock takes it from."""


def _stages(text: str) -> tuple[list[tuple[str, str | None, list[str]]], str]:
    """``(base, name, instructions)`` per stage, with continuation lines joined."""
    joined = re.sub(r"\\\s*\n", " ", text)
    stages: list[tuple[str, str | None, list[str]]] = []
    for line in joined.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.match(_FROM, line, flags=re.IGNORECASE)
        if m:
            stages.append((m.group(1), m.group(2).lower() if m.group(2) else None, []))
        elif stages:
            stages[-1][2].append(line.strip())
    return stages, joined


def final_runs(text: str) -> list[str]:
    """The ``RUN``/``ARG``/``ENV`` instructions of the final stage and the stages it descends from
    (``FROM base`` -> the stage named ``base``), oldest first."""
    stages, _ = _stages(text)
    if not stages:
        return []
    by_name = {name: i for i, (_, name, _) in enumerate(stages) if name}
    chain: list[int] = []
    i: int | None = len(stages) - 1
    while i is not None and i not in chain:
        chain.append(i)
        i = by_name.get(stages[i][0].lower())
    return [line for j in reversed(chain) for line in stages[j][2]]


def lock_dir(text: str) -> str | None:
    """The directory whose ``uv.lock`` the final stage installs exactly (``uv sync --frozen|--locked``,
    after ``cd DIR &&`` in the same ``RUN``, else the working directory ``.``); None when it runs none."""
    for line in final_runs(text):
        if not re.match(r"RUN\b", line, flags=re.IGNORECASE):
            continue
        for step in re.split(r"&&|;", line[3:]):
            if re.search(r"\buv\s+sync\b", step) and re.search(r"--(?:frozen|locked)\b", step):
                cds = re.findall(r"\bcd\s+(\S+)\s*(?:&&|;)", line[: line.find(step)] + "&&")
                return cds[-1].strip("\"'").rstrip("/") if cds else "."
    return None


def python_version(text: str) -> str | None:
    """The ``PYTHON_VERSION`` the final stage sets (``ENV``/``ARG``), e.g. ``3.11``."""
    found = None
    for line in final_runs(text):
        m = re.match(_SET, line, flags=re.IGNORECASE)
        if m and m.group(1) == "PYTHON_VERSION":
            found = m.group(2).strip("\"'")
    return found


def _environment(python: str, machine: str) -> dict[str, str]:
    full = python if python.count(".") >= 2 else f"{python}.0"
    return {
        "python_full_version": full,
        "python_version": ".".join(full.split(".")[:2]),
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": machine,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }


def locked_torch(lock_text: str, *, python: str, machine: str = "x86_64") -> LockedTorch | None:
    """The torch ``uv.lock`` installs on Linux ``machine`` under ``python``: the ``torch`` package whose
    ``resolution-markers`` admit that environment (or the only one); None when none or several do."""
    from packaging.markers import Marker

    env = _environment(python, machine)
    data = tomllib.loads(lock_text)
    found: list[Mapping[str, object]] = []
    for pkg in data.get("package", ()):
        if pkg.get("name") != "torch":
            continue
        markers = pkg.get("resolution-markers")
        if not markers or any(Marker(str(m)).evaluate(env) for m in markers):
            found.append(pkg)
    if len(found) != 1:
        return None
    pkg = found[0]
    source = pkg.get("source")
    registry = str(source.get("registry", "")) if isinstance(source, Mapping) else ""
    try:
        v = Version(str(pkg.get("version")))
    except InvalidVersion:
        return None
    variant = v.local if v.local and re.fullmatch(r"cu\d+|cpu|rocm[\d.]+|xpu", v.local) else None
    if variant is None:
        m = re.search(_INDEX, registry)
        variant = m.group(1) if m else None
    return LockedTorch(v.public, variant, registry)


def _release(tag: str) -> Version | None:
    try:
        v = Version(tag.lstrip("v"))
    except InvalidVersion:
        return None
    return v if not v.is_prerelease and not v.is_devrelease else None


def torch_facts(
    torches: Sequence[tuple[str, LockedTorch | None, str]],
    *,
    repository: str,
    fact_prefix: str,
    checked: str,
    latest: bool = True,
) -> str:
    """``[[image_torch]]`` TOML for ``(tag, torch or None, source URL)`` of release tags: one fact per run of
    consecutive releases (by version) with the same torch, ``versions`` spanning it; ``tags`` names each
    ``X.Y`` whose releases all share it and, for the newest run when ``latest`` is set, ``latest``.
    Releases whose torch is unknown break runs and get no fact. ``source`` is the first release's."""
    rows = sorted((v, t, lt, src) for t, lt, src in torches if (v := _release(t)) is not None)
    runs: list[tuple[LockedTorch | None, list[Version], str]] = []
    for v, _t, lt, src in rows:
        if runs and lt is not None and runs[-1][0] == lt:
            runs[-1][1].append(v)
        else:
            runs.append((lt, [v], src))
    minors: dict[tuple[int, int], set[LockedTorch | None]] = {}
    for v, _t, lt, _src in rows:
        minors.setdefault((v.major, v.minor), set()).add(lt)
    newest = max((i for i, r in enumerate(runs) if r[0] is not None), default=None)
    out: list[str] = []
    for i, (lt, versions, src) in enumerate(runs):
        if lt is None:
            continue
        first, final = versions[0], versions[-1]
        spec = f"=={first}" if first == final else f">={first},<={final}"
        tags = [
            f"{mm[0]}.{mm[1]}"
            for mm in dict.fromkeys((v.major, v.minor) for v in versions)
            if minors[mm] == {lt}
        ]
        if latest and i == newest:
            tags.append("latest")
        span = str(first) if first == final else f"{first} to {final}"
        where = "PyPI's own build for the platform" if lt.variant is None else f"the {lt.variant} build"
        lines = [
            "[[image_torch]]",
            f'id = "{fact_prefix}.{first}.torch"',
            f'repository = "{repository}"',
            f'versions = "{spec}"',
        ]
        if tags:
            lines.append("tags = [" + ", ".join(f'"{t}"' for t in tags) + "]")
        lines.append(f'torch = "{lt.version}"')
        if lt.variant is not None:
            lines.append(f'torch_variant = "{lt.variant}"')
        lines += [
            f'note = "Releases {span} install torch {lt.version}, {where} (from {lt.registry}), as the '
            "uv.lock their Dockerfile's final stage syncs (uv sync --frozen) pins it for Linux x86_64 "
            "(scripts/derive_image_torch.py)"
            + (", and latest is the newest release when derived" if "latest" in tags else "")
            + '."',
            f'source = "{src}"',
            f"checked = {checked}",
        ]
        out.append("\n".join(lines))
    return "\n\n".join(out) + ("\n" if out else "")
