"""Requirements files given on the command line (``-r FILE``, ``-c FILE``), read as pip reads them.

Lines are joined at ``\\`` and stripped of comments; ``-r``/``--requirement`` includes another file
(relative to the including one; a file included twice is read once, so a loop ends), ``-c``/``--constraint``
adds constraints, ``--index-url``/``--extra-index-url`` name the index, per-requirement options
(``--hash=…``) are dropped, and direct references (``torch @ https://….whl``, ``./wheels/x.whl``) are kept
for the request to judge by their file names. UTF-16 files (PowerShell's ``>``) are read. A line that is no
requirement is an :class:`~cudalign.errors.InvalidInput` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cudalign._dataclass import dataclass, field
from cudalign.errors import InvalidInput

__all__ = ["RequirementFiles", "read_requirement_files"]

_INCLUDE = {"-r": False, "--requirement": False, "-c": True, "--constraint": True}
_INDEX = ("-i", "--index-url", "--extra-index-url")
_IGNORED_WITH_VALUE = ("-f", "--find-links", "--trusted-host", "--config-settings", "--global-option")
_MAX_FILES = 1000


@dataclass(slots=True)
class RequirementFiles:
    """What the files ask for: requirement lines, constraint lines, index URLs, and what was skipped."""

    requirements: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    index_urls: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    """Every file read, resolved (the given ones and those they include)."""


def _split_option(line: str) -> tuple[str, str]:
    """``("-r", "base.txt")`` from ``-r base.txt``, ``-rbase.txt``, ``--requirement=base.txt``."""
    if line.startswith("--"):
        head, sep, value = line.partition("=")
        if sep:
            return head, value.strip()
        parts = line.split(None, 1)
        return parts[0], parts[1].strip() if len(parts) > 1 else ""
    if len(line) > 2 and not line[2].isspace():
        return line[:2], line[2:].strip()
    parts = line.split(None, 1)
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


def _requirement(line: str, where: str) -> str:
    """The requirement on ``line`` without per-requirement options; checked unless it is a direct path."""
    from cudalign._pep508 import Requirement, error_line

    text = line.split(" --", 1)[0].strip()
    if text.startswith((".", "/", "~", "file:")) or "://" in text.split("@", 1)[0]:
        return text  # a local file or bare URL: the request reads its file name
    try:
        Requirement(text)
    except ValueError as exc:  # packaging's InvalidRequirement, or a bare one from older packaging
        raise InvalidInput(f"{where}: not a valid requirement {text[:80]!r}: {error_line(exc)}") from None
    return text


def read_requirement_files(
    requirement_files: Iterable[str], constraint_files: Iterable[str] = ()
) -> RequirementFiles:
    """Read ``-r`` and ``-c`` files and everything they include; one-line errors name the file and line."""
    from cudalign.scan.requirements import logical_lines
    from cudalign.scan.walk import read_text

    out = RequirementFiles()
    seen: set[Path] = set()
    todo: list[tuple[str, bool, str | None, str]] = [(p, False, None, p) for p in requirement_files]
    todo += [(p, True, None, p) for p in constraint_files]
    todo.reverse()
    while todo:
        name, constraint, included_from, written = todo.pop()
        path = Path(name).expanduser()
        flag = "-c" if constraint else "-r"
        shown = f"{included_from}: {flag} {written}" if included_from else f"{flag} {name}"
        try:
            real = path.resolve(strict=True)
        except FileNotFoundError:
            raise InvalidInput(f"{shown}: no such file") from None
        except (OSError, RuntimeError) as exc:  # a loop of symbolic links, a name too long
            raise InvalidInput(f"{shown}: cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
        if real in seen:
            continue
        if len(seen) >= _MAX_FILES:
            raise InvalidInput(f"{shown}: more than {_MAX_FILES} requirement files included")
        seen.add(real)
        out.paths.append(real)
        if real.is_dir():
            raise InvalidInput(f"{shown}: is a directory; give a requirements file")
        try:
            text, why = read_text(real, name)
        except OSError as exc:
            raise InvalidInput(f"{shown}: cannot read it: {exc.strerror or exc}") from None
        if text is None:
            raise InvalidInput(f"{shown}: cannot read it: {why}")
        nested: list[tuple[str, bool, str | None, str]] = []
        for number, line in logical_lines(text):
            where = f"{name}:{number}"
            if not line.startswith("-"):
                (out.constraints if constraint else out.requirements).append(_requirement(line, where))
                continue
            option, value = _split_option(line)
            if option in _INCLUDE:
                if not value:
                    raise InvalidInput(f"{where}: {option} without a file")
                target = value if Path(value).expanduser().is_absolute() else str(path.parent / value)
                nested.append((target, constraint or _INCLUDE[option], where, value))
            elif option in _INDEX:
                if not value:
                    raise InvalidInput(f"{where}: {option} without a URL")
                out.index_urls.append(value.split()[0])
            elif option in ("-e", "--editable"):
                out.notes.append(f"{where}: editable {value} is local code: not judged")
            elif option not in _IGNORED_WITH_VALUE and option not in (
                "--no-index",
                "--pre",
                "--prefer-binary",
            ):
                out.notes.append(f"{where}: option {option} ignored")
        todo.extend(reversed(nested))
    return out
