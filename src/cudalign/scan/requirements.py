"""Requirements and constraints files: requirements, ``-r``/``-c`` includes, index options, markers.

Follows pip's file grammar: a trailing backslash continues a line, ``#`` starts a comment at the
start of a line or after whitespace, options may stand alone or after a requirement (``--hash``).
A line that is neither an option nor a PEP 508 requirement becomes a :class:`Problem` (CA609).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from cudalign._pep508 import error_line
from cudalign.model import Location
from cudalign.scan import shellwords
from cudalign.scan.model import Declared, Include, IndexRef, Problem, SourceFile

__all__ = ["declared", "logical_lines", "parse_requirements", "shorten", "version_problem"]

_INDEX_OPTIONS = {
    "-i": "index-url",
    "--index-url": "index-url",
    "--extra-index-url": "extra-index-url",
    "-f": "find-links",
    "--find-links": "find-links",
}
_INCLUDE_OPTIONS = {
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
}
# options that take a value and say nothing about CUDA
_VALUE_OPTIONS = {
    "--trusted-host",
    "--hash",
    "--config-settings",
    "--global-option",
    "--install-option",
    "--use-feature",
    "--only-binary",
    "--no-binary",
    "--progress-bar",
}
_FLAG_OPTIONS = {"--pre", "--prefer-binary", "--require-hashes", "--no-deps", "--upgrade", "-U"}
# one whitespace character, not a run: a run before a non-match makes a search quadratic
_PER_LINE_OPTION = r"\s--?[A-Za-z]"
_LOCAL_PATH = r"^(\.{1,2}/|/|~|file:|git\+|hg\+|svn\+|bzr\+|https?://)"


def _strip_comment(line: str) -> str:
    """``line`` without its comment: ``#`` at the start or after whitespace, as pip reads it."""
    at = line.find("#")
    while at != -1:
        if at == 0 or line[at - 1].isspace():
            return line[:at].rstrip()
        at = line.find("#", at + 1)
    return line


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield ``(first physical line number, joined line)`` with comments removed and ``\\`` joined."""
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if not buf:
            start = number
        if line.endswith("\\"):
            buf.append(line[:-1])
            continue
        buf.append(line)
        joined = " ".join(part.strip() for part in buf).strip()
        buf = []
        if joined:
            yield start, joined
    if buf:
        joined = " ".join(part.strip() for part in buf).strip()
        if joined:
            yield start, joined


def shorten(text: str, width: int = 80) -> str:
    """``text`` cut to ``width`` characters for a message (a line may be megabytes long)."""
    return text if len(text) <= width else text[: width - 1] + "…"


def version_problem(version: str) -> str | None:
    """Why ``version`` is no usable version (``None`` when it is one): packaging raises a plain
    ``ValueError``, not ``InvalidVersion``, for a number too long to convert to an integer."""
    from packaging.version import InvalidVersion, Version

    try:
        Version(version[:-2] if version.endswith(".*") else version)
    except InvalidVersion:
        return f"not a version: {shorten(version, 40)!r}"
    except ValueError:
        return f"version {shorten(version, 40)!r} has a number too long to be one"
    return None


def declared(text: str, location: Location) -> Declared | Problem | None:
    """A PEP 508 requirement as a :class:`Declared`; ``None`` for local paths and VCS URLs."""
    text = text.strip()
    if not text or re.match(_LOCAL_PATH, text):
        return None
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        return Problem(location, f"not a valid requirement {shorten(text)!r}: {error_line(exc)}")
    except ValueError:  # older packaging raises it bare for a number too long to convert
        too_long = "a version in it has a number too long to be one"
        return Problem(location, f"not a valid requirement {shorten(text)!r}: {too_long}")
    for spec in req.specifier:
        why = version_problem(spec.version) if spec.operator != "===" else None
        if why:
            return Problem(location, f"not a valid requirement {shorten(text)!r}: {why}")
    return Declared(
        name=canonicalize_name(req.name),
        text=text,
        specifier=str(req.specifier),
        location=location,
        marker=str(req.marker) if req.marker is not None else None,
        url=req.url,
    )


def _split_option(token: str) -> tuple[str, str | None]:
    """``--index-url=URL`` -> (``--index-url``, URL); ``-iURL`` -> (``-i``, URL)."""
    if token.startswith("--") and "=" in token:
        name, value = token.split("=", 1)
        return name, value
    if len(token) > 2 and token[:2] in ("-i", "-f", "-r", "-c", "-e") and not token.startswith("--"):
        return token[:2], token[2:]
    return token, None


def parse_requirements(path: str, text: str) -> SourceFile:
    """Parse a requirements or constraints file; never raises on malformed content."""
    reqs: list[Declared] = []
    indexes: list[IndexRef] = []
    includes: list[Include] = []
    problems: list[Problem] = []
    notes: list[str] = []
    no_index = False
    for number, line in logical_lines(text):
        loc = Location(path, number)
        if not line.startswith("-"):
            # a requirement, possibly followed by per-requirement options (--hash=…)
            option = re.search(_PER_LINE_OPTION, line)
            requirement = line[: option.start()] if option else line
            result = declared(requirement, loc)
            if isinstance(result, Problem):
                problems.append(result)
            elif result is not None:
                reqs.append(result)
            continue
        try:
            tokens = shellwords.split(line)
        except ValueError:
            tokens = line.split()
        if not tokens:
            continue
        name, value = _split_option(tokens[0])
        rest = tokens[1:]
        if value is None and name in {*_INDEX_OPTIONS, *_INCLUDE_OPTIONS, "-e", "--editable"}:
            value = rest.pop(0) if rest else None
        if name in _INDEX_OPTIONS:
            if value:
                indexes.append(IndexRef(value, _INDEX_OPTIONS[name], loc))
            else:
                problems.append(Problem(loc, f"{name} without a URL"))
        elif name in _INCLUDE_OPTIONS:
            if value:
                includes.append(Include(value, _INCLUDE_OPTIONS[name], loc))
            else:
                problems.append(Problem(loc, f"{name} without a file"))
        elif name == "--no-index":
            no_index = True
        elif name in ("-e", "--editable"):
            notes.append(f"{path}:{number}: editable {value or ''} not resolved (local code)")
        elif name not in _VALUE_OPTIONS and name not in _FLAG_OPTIONS:
            notes.append(f"{path}:{number}: option {name} ignored")
    return SourceFile(
        path=path,
        kind="requirements",
        requirements=tuple(reqs),
        indexes=tuple(indexes),
        no_index=no_index,
        includes=tuple(includes),
        problems=tuple(problems),
        notes=tuple(notes),
    )
