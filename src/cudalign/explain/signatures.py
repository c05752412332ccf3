"""Error signatures: the knowledge base's patterns, matched line by line, each distinct cause once.

Time is linear in the input: a signature's regular expression runs only on the lines that hold its
literal text (:mod:`cudalign.explain.literals`, found with ``str.find`` over the whole input), and the
patterns themselves are written so that one search is linear in the line (``tests/explain`` holds every
pattern to that with adversarial lines, and flags nested or overlapping quantifiers).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from functools import cache, lru_cache
from itertools import accumulate
from typing import TYPE_CHECKING

from cudalign._dataclass import dataclass, field
from cudalign.explain.literals import LiteralFilter, literal_filter

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts
    from cudalign.facts.schema import Regex


__all__ = ["Match", "Signature", "match_line", "rule_code", "scan", "signatures"]


def rule_code(name: str) -> str:
    """The catalogue code of a rule name (``image-requires-newer-driver`` -> ``CA401``)."""
    from cudalign.explain.catalogue import RULES

    if name in RULES:
        return RULES[name][0]
    from cudalign.rules import rule

    try:
        return rule(name).code
    except (KeyError, LookupError, ValueError):
        return "CA000"


_MAX_TEXT = 300


@cache
def _ansi() -> re.Pattern[str]:
    """Terminal colour and cursor codes (compiled on first use: most inputs hold none)."""
    return re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


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
    family: str = ""
    """The group of messages it belongs to (``library``, ``device``, ``capability`` …)."""
    severity: str | None = None
    """``error``, ``warning`` or ``info`` where it differs from the rule's severity."""
    when_path: tuple[str, ...] = ()
    """The match counts only where its ``path`` group names one of these packages or modules."""
    consequence_of: tuple[str, ...] = ()
    """Families whose cause, found in the same log, explains this message (it is folded under it)."""
    feature: str = ""
    """The feature fact a capability message is about (``fp8``, ``bf16``, ``flash-attention-2`` …)."""

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
            family=fact.get("family") or "",
            severity=fact.get("severity"),
            when_path=tuple(fact.get("when_path") or ()),
            consequence_of=tuple(fact.get("consequence_of") or ()),
            feature=fact.get("feature") or "",
        )

    def admits(self, m: re.Match[str]) -> bool:
        """Whether a match of the pattern counts: for a signature limited to some packages, its path must
        name one of them (a directory, or a module's first part: ``flash_attn_2_cuda`` names flash_attn)."""
        if not self.when_path:
            return True
        path = m.groupdict().get("path") or m.group(0)
        parts = path.replace("\\", "/").replace(".", "/").split("/")
        return any(part == w or part.startswith(w + "_") for part in parts for w in self.when_path)

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
    if "\x1b" in line:
        line = _ansi().sub("", line)
    return line.rstrip("\r\n")


def match_line(line: str, sigs: Sequence[Signature]) -> tuple[Signature, re.Match[str]] | None:
    """The first signature whose pattern occurs in ``line``, with its match."""
    for sig in sigs:
        m = sig.pattern.search(line)
        if m is not None and sig.admits(m):
            return sig, m
    return None


def _groups(m: re.Match[str]) -> dict[str, str]:
    return {k: v for k, v in m.groupdict().items() if v is not None}


def _message_start(m: re.Match[str]) -> int:
    """Where the message starts: the match, or the first group for patterns that match context before it
    (anchored at the line start, or at the start of a run of words by a look-behind)."""
    starts = [m.start(k) for k, v in m.groupdict().items() if v is not None]
    anchored = m.start() == 0 or m.re.pattern.startswith("(?<")
    return min(starts) if anchored and starts else m.start()


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
    lo, hi = 0, min(len(line), len(nxt))  # the length of the common prefix, by halving (compares in C)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if line[:mid] == nxt[:mid]:
            lo = mid
        else:
            hi = mid - 1
    n = lo
    cut = max(nxt.rfind(" ", 0, n), nxt.rfind("|", 0, n)) + 1 if n else 0
    return nxt[cut:].strip()


_Hit = tuple[Signature, re.Match[str]]
_KEY = 9
"""Characters of a filter word looked for in the input: a shared prefix (``cudaError…``) is one search."""
_MIN_KEY = 7
"""Shortest word used as a key where the alternative has one that long: short words (``==``, ``error``,
``cuda``) are on many lines of a log, and every line holding a key is tried."""


_Plan = tuple[list[LiteralFilter | None], dict[str, list[int]]]


def _prepared(patterns: tuple[str, ...]) -> _Plan:
    """Each pattern's literal filter and the keys that select them (:func:`_plan`), read from a small
    cache keyed on the patterns and on the code that makes them (working them out costs ~30 ms, a fifth
    of a one-line explain); written atomically, never trusted blindly: a cache that does not unpickle
    into one filter per pattern and keys naming those patterns is ignored."""
    import os
    import pickle
    from pathlib import Path

    from cudalign.facts.digest import sha256
    from cudalign.facts.snapshot import user_cache_dir

    code = [Path(__file__), Path(__file__).with_name("literals.py")]
    stamp = "".join(f"{p.name}:{st.st_size}:{st.st_mtime_ns}\0" for p in code for st in (p.stat(),))
    digest = sha256(("\0".join(patterns) + "\0" + stamp).encode()).hexdigest()[:24]
    path = user_cache_dir() / f"explain-plan-{digest}.pickle"
    try:
        cached = pickle.loads(path.read_bytes())  # our own file, keyed on the exact patterns and code
        if _valid_plan(cached, len(patterns)):
            filters, by_key = cached
            return [f if isinstance(f, LiteralFilter) else None for f in filters], dict(by_key)
    except Exception:  # a missing or damaged cache is rebuilt
        pass
    plan = _plan([literal_filter(p) for p in patterns])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(path)
    except OSError:
        pass
    return plan


def _valid_plan(cached: object, count: int) -> bool:
    if not (isinstance(cached, tuple) and len(cached) == 2):
        return False
    filters, by_key = cached
    return (
        isinstance(filters, list)
        and len(filters) == count
        and all(f is None or isinstance(f, LiteralFilter) for f in filters)
        and isinstance(by_key, dict)
        and all(
            isinstance(k, str)
            and isinstance(v, list)
            and all(isinstance(i, int) and 0 <= i < count for i in v)
            for k, v in by_key.items()
        )
    )


def _plan(filters: list[LiteralFilter | None]) -> _Plan:
    """The filters, and what to look for in the whole input: few keys, since each is one pass over it.

    A key is the first characters of a word (4 or more characters; else the alternative's longest word)
    that every match of an alternative contains; greedily, the key that serves the most alternatives not
    yet served. Each key maps to the signatures (by index) it selects."""
    alts = [
        (i, [w for run in runs for w in run.split()])
        for i, f in enumerate(filters)
        for runs in (f.alternatives if f is not None else ())
    ]
    words = {w[:_KEY] for _, ws in alts for w in ws if len(w) >= _MIN_KEY}
    words |= {max(ws, key=len)[:_KEY] for _, ws in alts if ws and all(len(w) < _MIN_KEY for w in ws)}
    covers = {k: {a for a, (_, ws) in enumerate(alts) if any(k in w for w in ws)} for k in words}
    keys: list[str] = []
    todo = set(range(len(alts)))
    while todo:
        key = max(words, key=lambda k: (len(covers[k] & todo), len(k), k))
        keys.append(key)
        todo -= covers[key]
    by_key = {k: sorted({alts[a][0] for a in covers[k]}) for k in sorted(keys, key=lambda k: -len(k))}
    return filters, by_key


@lru_cache(maxsize=4)
def _matcher(sigs: tuple[Signature, ...]) -> _Matcher:
    return _Matcher(sigs)


class _Matcher:
    """The signatures with their literal filters, and which signatures each key (a filter word's first
    characters, looked for in the whole input) selects."""

    def __init__(self, sigs: Sequence[Signature]) -> None:
        self.sigs = list(sigs)
        self.filters, self.by_key = _prepared(tuple(s.pattern.pattern for s in self.sigs))
        self.unfiltered = [i for i, f in enumerate(self.filters) if f is None]

    def first(self, text: str, keys: Iterable[str]) -> _Hit | None:
        """:func:`match_line` over the signatures that ``keys`` (those ``text`` holds) select."""
        chosen = set(self.unfiltered)
        for key in keys:
            chosen.update(self.by_key[key])
        for i in sorted(chosen) if len(chosen) > 1 else chosen:
            f = self.filters[i]
            if f is None or f.admits(text):
                m = self.sigs[i].pattern.search(text)
                if m is not None and self.sigs[i].admits(m):
                    return self.sigs[i], m
        return None


def _cleaned(lines: Iterable[str], text: str | None = None) -> tuple[list[str], str]:
    """The lines without colour codes and line ends, and the same joined with newlines (``text`` itself when
    the lines were split from it at newlines only: a 50 MB log is not joined again)."""
    raw = lines if isinstance(lines, list) else list(lines)
    size = sum(map(len, raw)) + max(len(raw) - 1, 0)
    if text is not None and text[size : size + 1] in ("", "\n") and len(text) <= size + 1:
        body = text[:size] if len(text) > size else text
    else:
        body = "\n".join(raw)
    if "\r" in body or body.count("\n") != max(len(raw) - 1, 0):  # line ends inside lines
        cleaned = [_clean(line) for line in raw]
    elif "\x1b" in body:
        ansi = _ansi()
        cleaned = [ansi.sub("", line) if "\x1b" in line else line for line in raw]
    else:
        return raw, body  # nothing to clean: no per-line work on a large log
    return cleaned, "\n".join(cleaned)


def _keys_by_line(keys: Iterable[str], cleaned: Sequence[str], body: str) -> dict[int, list[str]]:
    """For each line of ``body`` (``cleaned`` joined with newlines) that holds some of ``keys``, which."""
    starts = list(accumulate(map((1).__add__, map(len, cleaned)), initial=0))
    holding: dict[int, list[str]] = {}
    for key in keys:
        pos = body.find(key)
        while pos >= 0:
            k = bisect_right(starts, pos) - 1
            holding.setdefault(k, []).append(key)
            pos = body.find(key, starts[k + 1])  # once per line is enough
    return holding


def scan(lines: Iterable[str], sigs: Sequence[Signature], *, text: str | None = None) -> tuple[Match, ...]:
    """Each distinct cause once, in order of first appearance.

    A cause is a signature (and, for missing libraries, the library): the same error repeated by every
    worker of a server is one cause with a count. A line no signature matches is tried joined with the next
    one, for messages a terminal or logger wrapped; such a match must span the join. Only the lines that
    hold a signature's literal text (or precede one that does) are tried: the others cannot match.
    ``text``, when given, is what ``lines`` were split from (saves joining them again).
    """
    cleaned, body = _cleaned(lines, text)
    matcher = _matcher(tuple(sigs))
    holding = _keys_by_line(matcher.by_key, cleaned, body)
    # a line that holds no signature's key cannot match, nor can it joined with a next line holding none
    visit = (
        range(len(cleaned)) if matcher.unfiltered else sorted(holding.keys() | {k - 1 for k in holding if k})
    )
    found: dict[tuple[str, str], Match] = {}
    resume = 0
    for i in visit:
        if i < resume:
            continue
        hit, skip = _hit(cleaned, i, matcher, holding)
        if hit is None:
            continue
        resume = i + 1 + skip
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


def _hit(
    cleaned: Sequence[str], i: int, matcher: _Matcher, holding: Mapping[int, list[str]]
) -> tuple[_Hit | None, int]:
    """The match that line ``i`` starts (alone, or joined with the next one or two), and how many of the
    following lines it used. A key in a joined text lies wholly in one of its lines (keys hold no space)."""
    line, keys = cleaned[i], holding.get(i, [])
    hit = matcher.first(line, keys)
    if hit is not None or i + 1 >= len(cleaned):
        return hit, 0
    head = line.rstrip()
    joined = f"{head} {_continuation(line, cleaned[i + 1])}"
    keys = [*keys, *holding.get(i + 1, [])]
    wrapped = matcher.first(joined, keys)
    if wrapped is None or not wrapped[1].start() < len(head) < wrapped[1].end():
        return None, 0
    if i + 2 < len(cleaned):  # a third line may complete the optional groups
        longer_text = f"{joined} {_continuation(cleaned[i + 1], cleaned[i + 2])}"
        longer = matcher.first(longer_text, [*keys, *holding.get(i + 2, [])])
        if longer is not None and len(_groups(longer[1])) > len(_groups(wrapped[1])):
            return longer, 2
    return wrapped, 1
