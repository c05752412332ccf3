"""Lock files: ``uv.lock`` and ``pylock.toml`` (PEP 751), each package with its exact version and index."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.utils import canonicalize_name

from cudalign.model import Location
from cudalign.scan.model import Declared, Problem, SourceFile
from cudalign.scan.pyproject import TextLines, toml_loads, toml_problem
from cudalign.scan.requirements import shorten, version_problem

__all__ = ["parse_poetry_lock", "parse_pylock", "parse_uv_lock"]


def _locked(path: str, kind: str, text: str, key: str, index_of: Any) -> SourceFile:
    try:
        data = toml_loads(text)
    except Exception as exc:  # TOMLDecodeError or UnicodeError
        return SourceFile(path, kind, problems=(toml_problem(path, exc),))
    lines = TextLines(text)
    reqs: list[Declared] = []
    problems: list[Problem] = []
    packages = data.get(key)
    start = 0
    for pkg in packages if isinstance(packages, list) else ():
        if not isinstance(pkg, Mapping):
            continue
        name, version = pkg.get("name"), pkg.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            continue
        line = lines.find(f'name = "{name}"', start, quoted=False)
        start = line
        why = version_problem(version)
        if why:
            problems.append(Problem(Location(path, line), f"{shorten(name, 40)}: {why}"))
            continue
        reqs.append(
            Declared(
                name=canonicalize_name(name),
                text=f"{name}=={version}",
                specifier=f"=={version}",
                location=Location(path, line),
                locked=True,
                index_url=index_of(pkg),
            )
        )
    return SourceFile(path, kind, requirements=tuple(reqs), problems=tuple(problems))


def _uv_index(pkg: Mapping[str, Any]) -> str | None:
    source = pkg.get("source")
    if isinstance(source, Mapping) and isinstance(source.get("registry"), str):
        return str(source["registry"])
    return None


def _poetry_index(pkg: Mapping[str, Any]) -> str | None:
    source = pkg.get("source")
    if isinstance(source, Mapping) and isinstance(source.get("url"), str):
        return str(source["url"])
    return None


def _pylock_index(pkg: Mapping[str, Any]) -> str | None:
    index = pkg.get("index")
    return index if isinstance(index, str) else None


def parse_uv_lock(path: str, text: str) -> SourceFile:
    """Every ``[[package]]`` of a ``uv.lock`` with its version and registry."""
    return _locked(path, "uv-lock", text, "package", _uv_index)


def parse_poetry_lock(path: str, text: str) -> SourceFile:
    """Every ``[[package]]`` of a ``poetry.lock`` with its version and source."""
    return _locked(path, "poetry-lock", text, "package", _poetry_index)


def parse_pylock(path: str, text: str) -> SourceFile:
    """Every ``[[packages]]`` of a ``pylock.toml`` with its version and index."""
    return _locked(path, "pylock", text, "packages", _pylock_index)
