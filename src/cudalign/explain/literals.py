"""The literal text a signature's pattern cannot match without: a cheap test before the regex runs.

A log of hundreds of thousands of lines holds a known error on a handful of them. Rather than run every
signature's regular expression on every line, :func:`literal_filter` reads a pattern once and returns,
for each of its top-level alternatives, the literal runs that every match of it contains, and one word of
them (no whitespace) to look for: ``str.find`` over the whole log finds the few lines that hold a word,
and only those are tried. The reading is conservative: groups, classes and quantified atoms contribute
nothing, and a pattern it cannot read with certainty (inline ``(?i)`` or ``(?x)``, an escape it does not
know, an alternative without a literal word) gets ``None``, which means "try it on every line".

Words hold no whitespace so that they survive the join of a wrapped message (two lines joined with one
space): a word found in the joined text lies wholly in one of the two lines.
"""

from __future__ import annotations

from functools import lru_cache

from cudalign._dataclass import dataclass

__all__ = ["LiteralFilter", "literal_filter"]

_CLASS_ESCAPES = frozenset("dDwWsSbBAZ")
_FLAGS = frozenset("aiLmsux")


class _Unreadable(Exception):
    """The pattern uses syntax this reader does not follow; no filter is derived."""


def _skip_class(p: str, i: int) -> int:
    """Index just past the character class that starts at ``p[i] == '['``."""
    i += 1
    if i < len(p) and p[i] == "^":
        i += 1
    if i < len(p) and p[i] == "]":
        i += 1
    while i < len(p) and p[i] != "]":
        i += 2 if p[i] == "\\" else 1
    if i >= len(p):
        raise _Unreadable("unterminated class")
    return i + 1


def _skip_group(p: str, i: int) -> int:
    """Index just past the group that starts at ``p[i] == '('``."""
    depth = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _skip_class(p, i)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise _Unreadable("unbalanced group")


def _quantifier_end(p: str, i: int) -> int:
    """Index past the quantifier at ``p[i]`` (with a lazy or possessive mark), or ``i`` if there is none."""
    if i >= len(p):
        return i
    if p[i] in "*+?":
        j = i + 1
    elif p[i] == "{":
        close = p.find("}", i)
        body = p[i + 1 : close] if close > 0 else ""
        lo, _, hi = body.partition(",")
        if close < 0 or not (lo.isdigit() or (not lo and hi.isdigit())) or (hi and not hi.isdigit()):
            return i  # a literal '{'
        j = close + 1
    else:
        return i
    return j + 1 if j < len(p) and p[j] in "?+" else j


def _optional(p: str, i: int) -> bool:
    """Whether the quantifier at ``p[i]`` allows zero repetitions."""
    if p[i] in "*?":
        return True
    if p[i] == "+":
        return False
    low = p[i + 1 : p.index("}", i)].partition(",")[0]
    return int(low or "0") == 0


def _alternatives(p: str) -> list[list[str]]:
    """The literal runs of each top-level alternative (text that every match of it contains in order)."""
    alts: list[list[str]] = []
    runs: list[str] = []
    cur: list[str] = []

    def cut() -> None:
        if cur:
            runs.append("".join(cur))
            cur.clear()

    i = 0
    while i < len(p):
        c = p[i]
        literal: str | None = None
        if c == "\\":
            if i + 1 >= len(p):
                raise _Unreadable("trailing backslash")
            e = p[i + 1]
            if e.isalnum() or e == "_":
                if e not in _CLASS_ESCAPES:
                    raise _Unreadable(f"escape \\{e}")
            else:
                literal = e
            i += 2
        elif c == "[":
            i = _skip_class(p, i)
        elif c == "(":
            if p.startswith("(?", i) and i + 2 < len(p) and p[i + 2] in _FLAGS:
                k = i + 2
                while k < len(p) and p[k] in _FLAGS:
                    k += 1
                if k < len(p) and p[k] == ")":  # global flags
                    if set(p[i + 2 : k]) & {"i", "x"}:
                        raise _Unreadable("case-insensitive or verbose pattern")
                    cut()
                    i = k + 1
                    continue
            i = _skip_group(p, i)
        elif c == "|":
            cut()
            alts.append(runs)
            runs = []
            i += 1
            continue
        elif c == ")":
            raise _Unreadable("unbalanced group")
        elif c in ".^$":
            i += 1
        elif c in "*+?" or (c == "{" and _quantifier_end(p, i) != i):
            raise _Unreadable("quantifier without an atom")
        else:
            literal = c
            i += 1
        j = _quantifier_end(p, i)
        if literal is not None and (j == i or not _optional(p, i)):
            cur.append(literal)
        if j != i or literal is None:  # after a repeat or a non-literal atom the run cannot go on
            cut()
        i = j
    cut()
    alts.append(runs)
    return alts


@dataclass(frozen=True, slots=True)
class LiteralFilter:
    """What a line must hold for a pattern to have a chance: per alternative, all of its literal text."""

    words: tuple[str, ...]
    """One word (no whitespace) per alternative, the longest of its literal text, duplicates dropped:
    the lines that hold none cannot match, whichever line a wrapped message is joined with."""
    alternatives: tuple[tuple[str, ...], ...]
    """Each top-level alternative's literal runs, all of which every match of it contains."""

    def admits(self, text: str) -> bool:
        """Whether ``text`` holds all the literal runs of at least one alternative."""
        for runs in self.alternatives:  # loops, not any/all over generators: this runs on every candidate
            for run in runs:
                if run not in text:
                    break
            else:
                return True
        return False


@lru_cache(maxsize=256)
def literal_filter(pattern: str) -> LiteralFilter | None:
    """The filter of ``pattern``, or ``None`` where it cannot be derived with certainty (try every line)."""
    try:
        alts = _alternatives(pattern)
    except _Unreadable:
        return None
    words: list[str] = []
    for runs in alts:
        candidates = [w for run in runs for w in run.split()]
        if not candidates:
            return None
        best = max(candidates, key=len)
        if best not in words:
            words.append(best)
    return LiteralFilter(tuple(words), tuple(tuple(runs) for runs in alts))
