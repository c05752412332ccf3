"""The ``-r``/``-c`` include graph of requirements files: includes that loop back and includes of files
the repository lacks, each a :class:`Problem` at the line that names the file (pip stops on both)."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Mapping

from cudalign._dataclass import dataclass
from cudalign.scan.model import Include, Problem, SourceFile

__all__ = ["IncludeCheck", "include_problems", "include_target"]

_FLAG = {"requirement": "-r", "constraint": "-c"}


def include_target(includer: str, include: Include) -> str | None:
    """The repo-relative path an include names, or None when it is no file of the repository: a URL,
    a path with an environment variable, an absolute path or one that leaves the repository."""
    path = include.path
    if "://" in path or "${" in path or posixpath.isabs(path) or path.startswith("~"):
        return None
    target = posixpath.normpath(posixpath.join(posixpath.dirname(includer), path))
    return None if target == ".." or target.startswith("../") else target


@dataclass(frozen=True, slots=True)
class IncludeCheck:
    """What the include graph shows."""

    problems: tuple[Problem, ...]
    """Includes of missing files, and includes that close a loop."""
    missing: frozenset[str]
    """The missing files those problems name, repo-relative."""
    notes: tuple[str, ...]
    """Includes scan does not follow (URLs)."""


def include_problems(
    files: Mapping[str, SourceFile], exists: Callable[[str], bool], entries: Iterable[str] = ()
) -> IncludeCheck:
    """A problem for each include of a requirements file that names a missing file, or that leads back
    to a file already including it (pip: "recursively references itself"). ``files`` are the parsed
    files by repo-relative path; ``exists(path)`` says whether the repository holds a file there; a
    loop is reported at the include that closes it as seen from ``entries`` (the files a user
    installs from), walked first."""
    missing: set[str] = set()
    notes: list[str] = []
    edges: dict[str, list[tuple[Include, str]]] = {}
    problems: list[Problem] = []
    for path in sorted(files):
        sf = files[path]
        if sf.kind != "requirements":
            continue
        for inc in sf.includes:
            target = include_target(path, inc)
            flag = _FLAG.get(inc.kind, "-r")
            if "://" in inc.path:
                where = f"{inc.location.file}:{inc.location.line}"
                notes.append(f"{where}: {flag} {inc.path} not fetched (scan reads only the repository)")
            if target is None:
                continue
            if target in files:
                edges.setdefault(path, []).append((inc, target))
            elif not exists(target):
                problems.append(
                    Problem(
                        inc.location,
                        f"{flag} {inc.path}: no such file ({target})",
                        "point the include at a file in the repository, or remove it",
                    )
                )
                missing.add(target)
    first = sorted((e for e in entries if e in edges), key=lambda p: (p.count("/"), p))  # outermost first
    problems.extend(_cycles(edges, [*first, *sorted(edges)]))
    return IncludeCheck(tuple(problems), frozenset(missing), tuple(notes))


def _cycles(edges: Mapping[str, list[tuple[Include, str]]], starts: Iterable[str]) -> list[Problem]:
    """One problem per include that closes a loop, found by an iterative depth-first walk (a chain of
    thousands of files cannot exhaust the stack)."""
    done: set[str] = set()
    problems: list[Problem] = []
    for start in starts:
        if start in done:
            continue
        path = [start]  # the files being walked, outermost first
        on_path = {start}
        stack = [iter(edges.get(start, ()))]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            inc, target = step
            if target in on_path:
                loop = [*path[path.index(target) :], target]
                flag = _FLAG.get(inc.kind, "-r")
                if target == inc.location.file:
                    what = "includes the file it is in"
                else:
                    shown = loop if len(loop) <= 6 else [*loop[:2], f"… {len(loop) - 4} more …", *loop[-2:]]
                    what = "leads back to a file that includes it (" + " -> ".join(shown) + ")"
                problems.append(
                    Problem(
                        inc.location,
                        f"{flag} {inc.path} {what}: pip stops with 'recursively references itself'",
                        "remove this include to break the loop",
                    )
                )
            elif target not in done:
                path.append(target)
                on_path.add(target)
                stack.append(iter(edges.get(target, ())))
    return problems
