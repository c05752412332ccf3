"""The literal filter in front of the signatures: what it reads from a pattern, and that it loses no match."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cudalign.explain import Match, Signature, match_line, scan, signatures
from cudalign.explain.literals import literal_filter
from cudalign.explain.signatures import _clean, _continuation, _excerpt, _groups, _message_start
from cudalign.facts import DATA_DIR, Facts, load_file

FACTS = Facts(load_file(DATA_DIR / "signatures.toml"))
SIGS = signatures(FACTS)
EXAMPLES = [ex for f in FACTS.of_kind("signature") for ex in f["examples"]]
EXAMPLES_OF = {f.id: tuple(f["examples"]) for f in FACTS.of_kind("signature")}
COUNTERS = [ex for f in FACTS.of_kind("signature") for ex in f.get("counter_examples", ())]


@pytest.mark.parametrize(
    ("pattern", "words", "runs"),
    [
        ("undefined symbol: (?P<s>nccl[A-Z]\\w*)", ("undefined",), (("undefined symbol: ",),)),
        ("ab+c", ("ab",), (("ab", "c"),)),
        ("ab?c", ("a",), (("a", "c"),)),
        ("a{0,3}bc", ("bc",), (("bc",),)),
        ("x{2,3}yz", ("yz",), (("x", "yz"),)),
        ("a{b", ("a{b",), (("a{b",),)),
        ("C\\+\\+/CUDA (?:major )?versions\\.", ("versions.",), (("C++/CUDA ", "versions."),)),
        ("foo|ba[rz]|^qux", ("foo", "ba", "qux"), (("foo",), ("ba",), ("qux",))),
        ("(?<![\\w ])NVIDIA (?P<gpu>.+?) with", ("NVIDIA",), (("NVIDIA ", " with"),)),
        ("foo(?i:bar)baz", ("foo",), (("foo", "baz"),)),
    ],
)
def test_reads_words_and_literal_runs(
    pattern: str, words: tuple[str, ...], runs: tuple[tuple[str, ...]]
) -> None:
    lits = literal_filter(pattern)
    assert lits is not None
    assert (lits.words, lits.alternatives) == (words, runs)


@pytest.mark.parametrize(
    "pattern", ["(?i)abc", "(?x)a b c", "a\\1", "\\x41bc", "abc|\\d+", "[ab]+", "a)", "(a"]
)
def test_gives_up_where_it_cannot_be_sure(pattern: str) -> None:
    """Catches not: case-insensitive or verbose patterns, escapes it does not know, an alternative with no
    literal word, malformed text: no filter, so the signature is tried on every line."""
    assert literal_filter(pattern) is None


@pytest.mark.parametrize("sig", SIGS, ids=[s.id for s in SIGS])
def test_every_shipped_signature_has_a_filter_that_admits_its_examples(sig: Signature) -> None:
    lits = literal_filter(sig.pattern.pattern)
    assert lits is not None, "a signature without a literal filter is tried on every line of a log"
    assert all(w and not any(c.isspace() for c in w) for w in lits.words)
    assert all(lits.admits(example) for example in EXAMPLES_OF[sig.id])


_ALPHABET = st.sampled_from([*" .:/_-()'\"=aA1é\t", "undefined symbol", "NVIDIA", "capability", ".so"])


@settings(max_examples=300, deadline=None)
@given(line=st.sampled_from(EXAMPLES), cut=st.integers(0, 400), insert=st.lists(_ALPHABET, max_size=6))
def test_a_filter_never_rejects_a_line_its_pattern_matches(line: str, cut: int, insert: list[str]) -> None:
    """Property: wherever a pattern matches (real lines, altered at random), its filter admits the line."""
    cut %= len(line) + 1
    text = line[:cut] + "".join(insert) + line[cut:]
    for sig in SIGS:
        lits = literal_filter(sig.pattern.pattern)
        if sig.pattern.search(text) is not None:
            assert lits is None or lits.admits(text), (sig.id, text)


def _reference_scan(lines: list[str], sigs: tuple[Signature, ...]) -> tuple[Match, ...]:
    """The scan without any filter: every signature on every line, and every line joined with the next."""
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
                if i + 2 < len(cleaned):
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


def _wrapped(line: str, at: int, prefix: str) -> list[str]:
    """``line`` broken at the space nearest ``at``, both halves behind a shared log prefix."""
    spaces = [m.start() for m in re.finditer(" ", line)] or [len(line)]
    cut = min(spaces, key=lambda s: abs(s - at))
    return [prefix + line[:cut], prefix + line[cut + 1 :]]


_NOISE = [
    "INFO 11-22 09:14:04 [api_server.py:1896] vLLM API server version 0.11.0",
    "(EngineCore_DP0 pid=212) NCCL version 2.27.3+cuda12.9",
    "Nov 22 03:40:00 gpu-node-7 nvidia-persistenced[1201]: Failed to initialize NVML: Unknown Error",
    "",
    "   ",
    "\x1b[32mINFO\x1b[0m NVIDIA driver loaded",
]


@st.composite
def _logs(draw: st.DrawFn) -> list[str]:
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["example", "counter", "noise", "wrapped", "colour", "crlf"]))
        line = draw(st.sampled_from(EXAMPLES))
        if kind == "counter":
            lines.append(draw(st.sampled_from(COUNTERS)))
        elif kind == "noise":
            lines.append(draw(st.sampled_from(_NOISE)))
        elif kind == "wrapped":
            prefix = draw(st.sampled_from(["", "sidecar  | ", "(Worker pid=3) "]))
            lines += _wrapped(line, draw(st.integers(0, len(line))), prefix)
        elif kind == "colour":
            lines.append(f"\x1b[31m{line}\x1b[0m")
        elif kind == "crlf":
            lines.append(line + "\r\n")
        else:
            lines.append(line)
    return lines


@settings(max_examples=200, deadline=None)
@given(lines=_logs())
def test_the_filtered_scan_finds_what_trying_everything_finds(lines: list[str]) -> None:
    """Property: the scan that runs each signature only where its words are finds the same causes, on the
    same lines, with the same groups and counts, as trying every signature on every line and join."""
    assert scan(lines, SIGS) == _reference_scan(lines, SIGS)
