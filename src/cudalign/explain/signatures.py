"""Error signatures: the knowledge base's patterns, matched line by line, each distinct cause once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts
    from cudalign.facts.schema import Regex


__all__ = ["Match", "Signature", "match_line", "rule_code", "scan", "signatures"]


def rule_code(name: str) -> str:
    """The catalogue code of a rule name (``image-requires-newer-driver`` -> ``CA401``)."""
    from cudalign.rules import rule

    try:
        return rule(name).code
    except (KeyError, LookupError, ValueError):
        return "CA000"


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_MAX_TEXT = 300


@dataclass(frozen=True, slots=True)
class Signature:
    """One error-message shape from the knowledge base."""

    id: str
    rule: str
    """Rule name, e.g. ``image-requires-newer-driver``."""
    title: str
    pattern: Regex
    meaning: str
    fix: str
    source: str
    """The tracker issue (or vendor page) where the message was reported."""

    @classmethod
    def from_fact(cls, fact: Fact) -> Signature:
        return cls(
            id=fact.id,
            rule=fact["rule"],
            title=fact["title"],
            pattern=fact["pattern"],
            meaning=fact["meaning"],
            fix=fact["fix"],
            source=fact.source,
        )

    @property
    def code(self) -> str:
        return rule_code(self.rule)


@dataclass(frozen=True, slots=True)
class Match:
    """One distinct cause found in the input."""

    signature: Signature
    line: int
    """1-based number of the first line it appeared on."""
    text: str
    """That line, without colour codes, shortened to a few hundred characters."""
    groups: Mapping[str, str] = field(default_factory=dict)
    """Named groups captured (merged over repeats: the first value seen wins)."""
    count: int = 1
    """How many lines carried this cause."""
    at: int = 0
    """Where in ``text`` the matched message starts (for renderers that show only part of a line)."""


def signatures(facts: Facts) -> tuple[Signature, ...]:
    """Every signature in the knowledge base, in file order (the first that matches a line claims it)."""
    return tuple(Signature.from_fact(f) for f in facts.of_kind("signature"))


def _clean(line: str) -> str:
    return _ANSI.sub("", line).rstrip("\r\n")


def match_line(line: str, sigs: Sequence[Signature]) -> tuple[Signature, re.Match[str]] | None:
    """The first signature whose pattern occurs in ``line``, with its match."""
    for sig in sigs:
        m = sig.pattern.search(line)
        if m is not None:
            return sig, m
    return None


def _groups(m: re.Match[str]) -> dict[str, str]:
    return {k: v for k, v in m.groupdict().items() if v is not None}


def _message_start(m: re.Match[str]) -> int:
    """Where the message starts: the match, or for patterns anchored at the line start, the first group."""
    starts = [m.start(k) for k, v in m.groupdict().items() if v is not None]
    return min(starts) if m.start() == 0 and starts else m.start()


def _excerpt(text: str, start: int) -> tuple[str, int]:
    """The line, or for a long one the part from a little before the match; and where the match starts."""
    stripped = text.lstrip()
    start -= len(text) - len(stripped)
    text = stripped.rstrip()
    if len(text) <= _MAX_TEXT:
        return text, max(start, 0)
    begin = max(0, start - 60)
    prefix = "…" if begin else ""
    return prefix + text[begin : begin + _MAX_TEXT], start - begin + len(prefix)


def _continuation(line: str, nxt: str) -> str:
    """The next line without the log prefix it shares with ``line`` (``sidecar  | ``, ``(Worker pid=3) ``)."""
    n = 0
    for a, b in zip(line, nxt, strict=False):
        if a != b:
            break
        n += 1
    cut = max(nxt.rfind(" ", 0, n), nxt.rfind("|", 0, n)) + 1 if n else 0
    return nxt[cut:].strip()


def scan(lines: Iterable[str], sigs: Sequence[Signature]) -> tuple[Match, ...]:
    """Each distinct cause once, in order of first appearance.

    A cause is a signature (and, for missing libraries, the library): the same error repeated by every
    worker of a server is one cause with a count. A line no signature matches is tried joined with the next
    one, for messages a terminal or logger wrapped; such a match must span the join.
    """
    cleaned = [_clean(line) for line in lines]
    found: dict[tuple[str, str], Match] = {}
    skip = 0
    for i, line in enumerate(cleaned):
        if skip:
            skip -= 1
            continue
        hit = match_line(line, sigs)
        if hit is None and i + 1 < len(cleaned):
            head = line.rstrip()
            joined = f"{head} {_continuation(line, cleaned[i + 1])}"
            wrapped = match_line(joined, sigs)
            if wrapped is not None and wrapped[1].start() < len(head) < wrapped[1].end():
                hit, skip = wrapped, 1
                if i + 2 < len(cleaned):  # a third line may complete the optional groups
                    longer = match_line(f"{joined} {_continuation(cleaned[i + 1], cleaned[i + 2])}", sigs)
                    if longer is not None and len(_groups(longer[1])) > len(_groups(wrapped[1])):
                        hit, skip = longer, 2
        if hit is None:
            continue
        sig, m = hit
        groups = _groups(m)
        key = (sig.id, groups.get("library", ""))
        prev = found.get(key)
        if prev is None:
            text, at = _excerpt(m.string, _message_start(m))
            found[key] = Match(sig, i + 1, text, groups, at=at)
        else:
            merged = {**groups, **prev.groups}
            found[key] = Match(prev.signature, prev.line, prev.text, merged, prev.count + 1, prev.at)
    return tuple(found.values())
