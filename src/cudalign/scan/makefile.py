"""Makefiles, as far as a Dockerfile's ``RUN make TARGET`` needs them: which commands a target runs.

A CUDA kernel is often built through a ``make`` target (``make build-flash-attention``) whose recipe runs
``python setup.py build`` or ``pip install --no-build-isolation …``. :func:`parse_makefile` reads the
rules (target, prerequisites, recipe lines with their line numbers) and ``include`` directives; nothing
is expanded or run. :func:`find_build` follows the targets through their prerequisites, ``$(MAKE)``
calls and included Makefiles, each rule once and to a bounded depth, so the time is linear in the files.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from cudalign.model import Location
from cudalign.scan import shellwords
from cudalign.scan.model import Include, MakeCall, MakeRule, SourceFile

__all__ = ["find_build", "parse_makefile"]

_MAX_DEPTH = 8
"""How deep targets, ``$(MAKE)`` calls and includes are followed."""
_ASSIGNMENT = re.compile(r"^(?:export\s+|override\s+)?[^\s:=#]+\s*(?::{1,3}=|[?+!]?=)")
_DIRECTIVES = ("ifeq", "ifneq", "ifdef", "ifndef", "else", "endif", "export", "unexport", "vpath")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with backslash continuations joined, each with the number of its first physical line."""
    out: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not parts:
            start = number
        if raw.endswith("\\"):
            parts.append(raw[:-1])
            continue
        parts.append(raw)
        out.append((start, " ".join(p if i == 0 else p.strip() for i, p in enumerate(parts))))
        parts = []
    if parts:
        out.append((start, " ".join(parts)))
    return out


def parse_makefile(path: str, text: str) -> SourceFile:
    """The rules of a Makefile, in file order, and the files it ``include``s (relative to its folder)."""
    rules: list[MakeRule] = []
    includes: list[Include] = []
    current: tuple[list[str], tuple[str, ...], list[tuple[int, str]]] | None = None
    in_define = False

    def close() -> None:
        if current is not None:
            targets, prerequisites, recipe = current
            rules.extend(MakeRule(t, prerequisites, tuple(recipe)) for t in targets)

    for number, line in _logical_lines(text):
        if in_define:
            in_define = not line.strip().startswith("endef")
            continue
        if line.startswith("\t"):
            if current is not None and line.strip() and not line.strip().startswith("#"):
                current[2].append((number, line.strip()))
            continue
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        word = stripped.split(None, 1)[0]
        if word == "define":
            in_define = True
            continue
        if word in ("include", "-include", "sinclude"):
            close()
            current = None
            for name in stripped.split()[1:]:
                if "$" not in name:
                    includes.append(Include(name, "makefile", Location(path, number)))
            continue
        if word in _DIRECTIVES or _ASSIGNMENT.match(stripped):
            continue
        head, colon, rest = stripped.partition(":")
        if not colon or "=" in head:
            continue
        close()
        rest = rest.lstrip(":")
        if "=" in rest.split(";", 1)[0]:  # a target-specific variable, not a rule
            current = None
            continue
        prerequisites, _, inline = rest.partition(";")
        recipe = [(number, inline.strip())] if inline.strip() else []
        current = (head.split(), tuple(p for p in prerequisites.split() if p != "|"), recipe)
    close()
    return SourceFile(path, "makefile", includes=tuple(includes), make_rules=tuple(rules))


_SPLIT = re.compile(r"&&|\|\||;|\|")


def find_build(
    call: MakeCall,
    load: Callable[[str], SourceFile | None],
    build_command: Callable[[list[str], bool], tuple[str, bool] | None],
) -> tuple[str, bool] | None:
    """The first command of ``call``'s targets (prerequisites first, as ``make`` runs them) that compiles a
    CUDA extension: ``(command with its file:line, installs a package by name)``; None when none does or
    the Makefile is not in the repository. ``build_command(tokens, arch_list)`` judges one command."""
    rules: dict[str, tuple[MakeRule, str]] = {}  # target -> its rule, and the file that holds it
    order: list[str] = []
    todo = [(call.makefile, 0)]
    loaded: set[str] = set()
    while todo:  # the Makefile and what it includes, breadth first
        path, depth = todo.pop(0)
        if path in loaded or depth > _MAX_DEPTH:
            continue
        loaded.add(path)
        sf = load(path)
        if sf is None:
            continue
        for rule in sf.make_rules:
            order.append(rule.target)
            known = rules.get(rule.target)
            if known is None or (not known[0].recipe and rule.recipe):
                rules[rule.target] = (rule, path)
        folder = posixpath.dirname(path)
        todo.extend((posixpath.normpath(posixpath.join(folder, i.path)), depth + 1) for i in sf.includes)
    if not rules:
        return None
    default = next((t for t in order if not t.startswith(".") and "%" not in t), None)
    start = list(call.targets) or ([default] if default else [])
    seen: set[str] = set()

    def visit(target: str, depth: int) -> tuple[str, bool] | None:
        if target in seen or depth > _MAX_DEPTH or target not in rules:
            return None
        seen.add(target)
        rule, where = rules[target]
        for prerequisite in rule.prerequisites:
            found = visit(prerequisite, depth + 1)
            if found is not None:
                return found
        for number, line in rule.recipe:
            for command in _SPLIT.split(line.lstrip("@-+ ")):
                try:
                    tokens = shellwords.split(command, comments=True)
                except ValueError:
                    tokens = command.split()
                if tokens and tokens[0] in ("$(MAKE)", "${MAKE}", "make"):
                    if any(w.startswith(("-C", "-f", "--directory", "--file")) for w in tokens[1:]):
                        continue  # another Makefile: not followed
                    for sub in (w for w in tokens[1:] if not w.startswith("-") and "=" not in w):
                        found = visit(sub, depth + 1)
                        if found is not None:
                            return found
                    continue
                judged = build_command(tokens, call.arch_list)
                if judged is not None:
                    return f"{' '.join(['make', *start])}: {judged[0]} ({where}:{number})", judged[1]
        return None

    for target in start:
        found = visit(target, 0)
        if found is not None:
            return found
    return None
