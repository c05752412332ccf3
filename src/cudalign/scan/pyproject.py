"""``pyproject.toml``: ``[project]`` dependencies and extras, dependency groups, uv sources and indexes.

``tomllib`` gives no line numbers, so each declaration's line is found by searching the text for the
quoted string after the header of the table that holds it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cudalign.model import Location
from cudalign.scan.model import Declared, IndexRef, Problem, SourceFile
from cudalign.scan.requirements import declared

__all__ = ["TextLines", "parse_pyproject", "toml_loads"]

_TOML_LINE = re.compile(r"line (\d+)")


def toml_loads(text: str) -> dict[str, Any]:
    """``tomllib.loads`` (``tomli`` on Python 3.10); raises ``ValueError`` subclasses on bad TOML."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    result: dict[str, Any] = tomllib.loads(text)
    return result


def toml_problem(path: str, exc: Exception) -> Problem:
    """A TOML decode error as a problem at the line its message names."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    m = _TOML_LINE.search(message)
    return Problem(Location(path, int(m.group(1)) if m else 1), f"not valid TOML: {message}")


class TextLines:
    """Find the line of a value in a TOML (or YAML) text: the first line at or after a header that
    contains the quoted value."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self._taken: set[tuple[str, int]] = set()

    def header(self, name: str, start: int = 0) -> int:
        """Index (0-based) of the line ``[name]`` or ``[[name]]``, or ``start`` when absent."""
        pattern = re.compile(r"^\s*\[\[?\s*" + re.escape(name).replace(r"\.", r"\s*\.\s*") + r"\s*\]\]?")
        for i in range(start, len(self.lines)):
            if pattern.match(self.lines[i]):
                return i
        return start

    def find(self, needle: str, start: int = 0, *, quoted: bool = True) -> int:
        """1-based line of the first occurrence of ``needle`` at or after ``start`` (0-based) that an
        earlier search for the same needle has not returned (the same string in two tables)."""
        variants = (f'"{needle}"', f"'{needle}'") if quoted else (needle,)
        order: list[int] = [*range(start, len(self.lines)), *range(min(start, len(self.lines)))]
        for i in order:
            if (needle, i) not in self._taken and any(v in self.lines[i] for v in variants):
                self._taken.add((needle, i))
                return i + 1
        for i in range(len(self.lines)):
            if any(v in self.lines[i] for v in variants):
                return i + 1
        return start + 1


_EXTRA_MARKER = re.compile(r"""extra\s*==\s*['"]([\w.\-]+)['"]""")


def _marker_extra(marker: Any) -> str | None:
    """The extra a marker requires (``extra == 'cuda' and …`` -> ``cuda``), if any."""
    if not isinstance(marker, str):
        return None
    m = _EXTRA_MARKER.search(marker)
    return m.group(1) if m else None


def _poetry_sources(path: str, poetry: Mapping[str, Any], lines: TextLines) -> list[IndexRef]:
    """``[[tool.poetry.source]]`` and the packages ``[tool.poetry.dependencies]`` send to each."""
    named: dict[str, str] = {}
    out: list[IndexRef] = []
    start = lines.header("tool.poetry.source")
    for entry in poetry.get("source", ()) if isinstance(poetry.get("source"), list) else ():
        if (
            isinstance(entry, Mapping)
            and isinstance(entry.get("url"), str)
            and isinstance(entry.get("name"), str)
        ):
            named[entry["name"]] = entry["url"]
            if str(entry.get("priority", "primary")) in ("primary", "supplemental", "default"):
                out.append(
                    IndexRef(entry["url"], "uv-index", Location(path, lines.find(entry["url"], start)))
                )
    deps = poetry.get("dependencies")
    start = lines.header("tool.poetry.dependencies")
    for package, spec in deps.items() if isinstance(deps, Mapping) else ():
        for one in spec if isinstance(spec, list) else [spec]:
            if isinstance(one, Mapping) and isinstance(one.get("source"), str) and one["source"] in named:
                out.append(
                    IndexRef(
                        named[one["source"]],
                        "uv-source",
                        Location(path, lines.find(one["source"], start)),
                        packages=(str(package),),
                        extra=_marker_extra(one.get("markers")),
                    )
                )
    return out


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def parse_pyproject(path: str, text: str) -> SourceFile:
    """Parse a ``pyproject.toml``; never raises on malformed content."""
    try:
        data = toml_loads(text)
    except Exception as exc:  # tomllib.TOMLDecodeError, or UnicodeError from odd input
        return SourceFile(path, "pyproject", problems=(toml_problem(path, exc),))
    lines = TextLines(text)
    reqs: list[Declared] = []
    problems: list[Problem] = []

    def add(items: list[str], header: str, extra: str | None = None) -> None:
        start = lines.header(header)
        for item in items:
            line = lines.find(item, start)
            result = declared(item, Location(path, line))
            if isinstance(result, Problem):
                problems.append(result)
            elif result is not None:
                reqs.append(replace(result, extra=extra) if extra else result)

    project = data.get("project")
    if isinstance(project, Mapping):
        add(_strings(project.get("dependencies")), "project")
        extras = project.get("optional-dependencies")
        if isinstance(extras, Mapping):
            for name, deps in extras.items():
                add(_strings(deps), "project.optional-dependencies", str(name))
    groups = data.get("dependency-groups")
    if isinstance(groups, Mapping):
        for deps in groups.values():
            add(_strings(deps), "dependency-groups")
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, Mapping) else None
    indexes: list[IndexRef] = []
    members: list[str] = []
    if isinstance(uv, Mapping):
        add(_strings(uv.get("dev-dependencies")), "tool.uv")
        add(_strings(uv.get("constraint-dependencies")), "tool.uv")
        named: dict[str, tuple[str, Location]] = {}
        start = lines.header("tool.uv.index")
        for entry in uv.get("index", ()) if isinstance(uv.get("index"), list) else ():
            if isinstance(entry, Mapping) and isinstance(entry.get("url"), str):
                line = lines.find(entry["url"], start)
                loc = Location(path, line)
                start = line
                name = entry.get("name")
                if isinstance(name, str):
                    named[name] = (entry["url"], loc)
                if not entry.get("explicit"):
                    indexes.append(IndexRef(entry["url"], "uv-index", loc))
        sources = uv.get("sources")
        if isinstance(sources, Mapping):
            start = lines.header("tool.uv.sources")
            for package, spec in sources.items():
                for one in spec if isinstance(spec, list) else [spec]:
                    if isinstance(one, Mapping) and isinstance(one.get("index"), str):
                        url = named[one["index"]][0] if one["index"] in named else one["index"]
                        line = lines.find(one["index"], start)
                        extra = one.get("extra") if isinstance(one.get("extra"), str) else None
                        indexes.append(
                            IndexRef(
                                url,
                                "uv-source",
                                Location(path, line),
                                packages=(str(package),),
                                extra=extra or _marker_extra(one.get("marker")),
                            )
                        )
        workspace = uv.get("workspace")
        if isinstance(workspace, Mapping):
            members = _strings(workspace.get("members"))
    poetry = tool.get("poetry") if isinstance(tool, Mapping) else None
    if isinstance(poetry, Mapping):
        indexes.extend(_poetry_sources(path, poetry, lines))
    return SourceFile(
        path,
        "pyproject",
        requirements=tuple(reqs),
        indexes=tuple(indexes),
        problems=tuple(problems),
        workspace_members=tuple(members),
    )
