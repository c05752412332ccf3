"""Every signature runs in linear time: adversarial lines, and no nested or overlapping quantifiers.

The time bound is a ratio to a plain scan of the same lines (``str.count``), both measured here in CPU
time, so a slow or busy machine slows both sides alike. The shipped patterns stay under 200 times a plain
scan; a quadratic one on 4,000 characters is past 20,000, and the one this guards against (a 2 KB
``undefined symbol:`` line took 84 s) is cubic. A run that does not finish within a generous wall-clock
limit is stopped (the regex engine checks for signals) and fails.
"""

from __future__ import annotations

import importlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import pytest

from cudalign.explain import scan, signatures
from cudalign.explain.literals import literal_filter
from cudalign.facts import DATA_DIR, Fact, Facts, load_file

FACTS = Facts(load_file(DATA_DIR / "signatures.toml"))
SIGS = signatures(FACTS)
BY_ID = {f.id: f for f in FACTS.of_kind("signature")}

LENGTH = 4000
"""Characters of filler in each adversarial line."""
RATIO = 2000
"""Most a signature may take on an adversarial line, as a multiple of ``str.count`` over it."""
LIMIT_S = 60
"""Wall-clock seconds after which a run is stopped as super-linear."""
FILLERS = ["a", "A", "1", " ", ".", "/", "_", "-", ":", "(", "é", "A a", "a."]


def _cuts(line: str) -> list[str]:
    """Prefixes of ``line`` cut where a pattern is likely to be midway: after separators, at the middle."""
    ends = {m.end() for m in re.finditer(r"[\s.:/(\"'=,_-]+", line)} | {len(line) // 2, len(line) - 1}
    ends = {e for e in ends if 0 < e < len(line)}
    step = max(1, len(ends) // 8)  # about eight, spread over the line
    return [line[:e] for e in sorted(ends)[::step]]


def adversarial(fact: Fact, length: int = LENGTH) -> Iterator[str]:
    """Lines built to make a backtracking pattern blow up: the start of a real message followed by a long
    run of one filler, the start repeated (many partial matches), the pattern's literal text repeated with
    fillers between, and a long run before a real message (many start positions)."""
    lits = literal_filter(fact["pattern"].pattern)
    runs = [run for alt in lits.alternatives for run in alt] if lits else []
    for example in fact["examples"][:2]:
        m = fact["pattern"].search(example)
        message = example[m.start() :] if m is not None else example  # the line from where the match starts
        for prefix in dict.fromkeys([*_cuts(example), *_cuts(message)]):
            for filler in FILLERS:
                yield prefix + filler * (length // len(filler))
            yield prefix * (length // len(prefix) + 1)
        for filler in FILLERS:
            yield filler * (length // len(filler)) + example
    for run in runs:
        for filler in FILLERS:
            yield (run + filler) * (length // (len(run) + len(filler)) + 1)


def _cpu(fn: Callable[[], object], repeat: int = 1) -> float:
    t0 = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - t0) / repeat


class _TooSlow(Exception):
    pass


@contextmanager
def _limit(seconds: float) -> Iterator[None]:
    """Stop the block after ``seconds`` (where the platform has interval timers)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise _TooSlow

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _worst(search: Callable[[str], object], lines: list[str]) -> tuple[float, str]:
    """The largest CPU time of ``search`` on one of ``lines`` as a multiple of a plain scan of that line
    (``str.count`` over all the lines, per character), and that line. A line over :data:`RATIO` is timed
    twice more and keeps its best, so that one pause of the machine does not fail the test."""
    plain = min(_cpu(lambda: [line.count("\x00") for line in lines], 10) for _ in range(3))
    per_char = max(plain, 1e-7) / sum(map(len, lines))
    worst, which = 0.0, ""

    def ratio_on(line: str) -> float:
        return _cpu(lambda: search(line)) / (per_char * len(line))

    try:
        with _limit(LIMIT_S):
            for line in lines:
                ratio = ratio_on(line)
                if ratio > RATIO:
                    ratio = min(ratio, ratio_on(line), ratio_on(line))
                if ratio > worst:
                    worst, which = ratio, line
    except _TooSlow:
        pytest.fail(f"did not finish within {LIMIT_S} s: super-linear")
    return worst, which


@pytest.mark.parametrize("sig_id", [s.id for s in SIGS])
def test_each_signature_is_linear_on_adversarial_lines(sig_id: str) -> None:
    fact = BY_ID[sig_id]
    ratio, line = _worst(fact["pattern"].compiled.search, list(adversarial(fact)))
    assert ratio < RATIO, f"{sig_id}: {ratio:.0f} x a plain scan on {line[:80]!r}…"


def test_the_ratio_bound_catches_a_quadratic_pattern() -> None:
    """Catches: the bound is not so loose that a quadratic pattern passes (the old GPU-name pattern)."""
    quadratic = re.compile(r"(?P<gpu>[A-Z][\w\- ]*?) with CUDA capability (?P<sm>sm_\d+)")
    assert _worst(quadratic.search, ["A a" * (LENGTH // 3)])[0] > RATIO


def test_long_undefined_symbol_lines_are_scanned_in_linear_time() -> None:
    """The shape of the line that took 84 s at 2 KB, at 10 KB, through the whole scan (filter and join)."""
    n = 10_000
    lines = [
        "ImportError: undefined symbol: " + "a" * n,
        "x" * n + " undefined symbol",
        "/a/b/c.so " * (n // 10) + "undefined symbol",
        "ImportError: /x/_C.abi3.so: undefined symbol " + "_" * n,
        "ImportError: " + "undefined symbol: " * (n // 18),
    ]
    assert _worst(lambda line: scan([line, line], SIGS), lines)[0] < RATIO


# ------------------------------------------------------------------------------ static check


_PARSER: Any = importlib.import_module("re._parser" if sys.version_info >= (3, 11) else "sre_parse")
_C: Any = importlib.import_module("re._constants" if sys.version_info >= (3, 11) else "sre_constants")
_UNIVERSE = frozenset(chr(c) for c in range(1, 128)) | frozenset("éÉ٣ _")
_CATEGORIES = {"DIGIT": r"\d", "NOT_DIGIT": r"\D", "SPACE": r"\s", "NOT_SPACE": r"\S", "WORD": r"\w",
               "NOT_WORD": r"\W"}  # fmt: skip
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
_ZERO_WIDTH = ("AT", "ASSERT", "ASSERT_NOT")

Chars = frozenset[str]


def _op(op: object) -> str:
    return str(op).rsplit(".", 1)[-1]


@cache
def _category(name: str) -> Chars:
    return frozenset(c for c in _UNIVERSE if re.fullmatch(_CATEGORIES[name.removeprefix("CATEGORY_")], c))


def _class(items: list[tuple[Any, Any]]) -> Chars:
    out: set[str] = set()
    negate = False
    for op, av in items:
        name = _op(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            out.add(chr(av))
        elif name == "RANGE":
            out |= {c for c in _UNIVERSE if av[0] <= ord(c) <= av[1]}
        elif name == "CATEGORY":
            out |= _category(_op(av))
    return _UNIVERSE - out if negate else frozenset(out)


def _one_char(op: Any, av: Any) -> Chars | None:
    """The characters a single-character item matches, or None if it is not one."""
    name = _op(op)
    if name == "LITERAL":
        return frozenset(chr(av))
    if name == "NOT_LITERAL":
        return _UNIVERSE - {chr(av)}
    if name == "ANY":
        return _UNIVERSE - {"\n"}
    if name == "IN":
        return _class(av)
    return None


def _body_chars(body: Any) -> Chars:
    """What one repetition of ``body`` can consume: a single item, or one restricted by a look-ahead."""
    items = list(body)
    if len(items) == 2 and _op(items[0][0]) == "ASSERT_NOT" and items[0][1][0] == 1:
        ahead = list(items[0][1][1])
        banned = _one_char(*ahead[0]) if len(ahead) == 1 else None  # a longer look-ahead bans no one char
        chars = _one_char(*items[1])
        if chars is not None:
            return chars - (banned or frozenset())
    chars = _one_char(*items[0]) if len(items) == 1 else None
    return chars if chars is not None else _all_chars(items)


def _all_chars(items: Any) -> Chars:
    out: set[str] = set()
    for op, av in items:
        name = _op(op)
        one = _one_char(op, av)
        if one is not None:
            out |= one
        elif name in _REPEATS:
            out |= _all_chars(av[2])
        elif name == "SUBPATTERN":
            out |= _all_chars(av[-1])
        elif name == "BRANCH":
            for alt in av[1]:
                out |= _all_chars(alt)
    return frozenset(out)


def _inner_repeats(items: Any) -> Iterator[Chars]:
    for op, av in items:
        name = _op(op)
        if name in _REPEATS:
            if av[1] > 1:
                yield _body_chars(av[2])
            yield from _inner_repeats(av[2])
        elif name == "SUBPATTERN":
            yield from _inner_repeats(av[-1])
        elif name == "BRANCH":
            for alt in av[1]:
                yield from _inner_repeats(alt)


def _delimiters(body: Any) -> list[Chars]:
    """Single characters every repetition must start or end with (a '.' in ``(?:\\.\\d+)*``)."""
    items = [(op, av) for op, av in body if _op(op) not in _ZERO_WIDTH]
    ends = [items[0], items[-1]] if items else []
    return [c for c in (_one_char(op, av) for op, av in ends) if c is not None]


def hazards(pattern: str) -> list[str]:
    """Nested quantifiers and adjacent quantifiers that can share characters: the shapes that backtrack
    exponentially or polynomially. A repeat inside a repeat is allowed when each repetition starts or ends
    with a character the inner repeat cannot take."""
    found: list[str] = []

    def nested(items: Any) -> None:
        for op, av in items:
            name = _op(op)
            if name in _REPEATS:
                if av[1] > 1:
                    inner = list(_inner_repeats(av[2]))
                    delims = _delimiters(av[2])
                    if inner and not any(all(not (d & r) for r in inner) for d in delims):
                        found.append("nested quantifier")
                nested(av[2])
            elif name == "SUBPATTERN":
                nested(av[-1])
            elif name == "BRANCH":
                for alt in av[1]:
                    nested(alt)
            elif name in ("ASSERT", "ASSERT_NOT"):
                nested(av[1])

    def sequence(items: Any, tail: Chars | None) -> Chars | None:
        """Walk ``items`` after a repeat that can take ``tail``; return what a trailing repeat can take."""
        for op, av in items:
            name = _op(op)
            one = _one_char(op, av)
            if name in _ZERO_WIDTH:
                continue
            if one is not None:  # a character both neighbours can take leaves the split ambiguous
                tail = (one & tail or None) if tail is not None else None
            elif name in _REPEATS and av[1] <= 1:  # optional: present or not
                inner = sequence(av[2], tail)
                tail = (tail or frozenset()) | (inner or frozenset()) or None
            elif name in _REPEATS:
                chars = _body_chars(av[2])
                body = list(av[2])
                first = _one_char(*body[0]) if body else None
                if tail is not None and tail & (first if first is not None else chars):
                    found.append("adjacent quantifiers that overlap")
                tail = chars if av[1] == _C.MAXREPEAT else None
            elif name == "SUBPATTERN":
                tail = sequence(av[-1], tail)
            elif name == "BRANCH":
                outs = [sequence(alt, tail) for alt in av[1]]
                tail = frozenset().union(*(o for o in outs if o)) or None
            else:
                tail = None
        return tail

    parsed = _PARSER.parse(pattern)
    nested(parsed)
    sequence(parsed, None)
    return found


@pytest.mark.parametrize("sig_id", [s.id for s in SIGS])
def test_no_signature_has_nested_or_overlapping_quantifiers(sig_id: str) -> None:
    assert hazards(BY_ID[sig_id]["pattern"].pattern) == []


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a+)+b",
        r"(\w+\s?)*$",
        r"(?:\d+)*x",
        r"\d+\d+x",
        r"(?:NVIDIA |Tesla )*[A-Z][\w\- ]*? with CUDA",  # the old GPU-name pattern
        # the old 'undefined symbol' pattern, 84 s on a 2 KB line
        r"""^(?=.*?undefined symbol).*?(?P<path>[^\s'"(]*?(?P<module>[A-Za-z_]\w*)"""
        r"""(?:\.abi3|\.cpython-[\w-]+)?\.so):? undefined symbol:? (?P<symbol>[A-Za-z_]\w*)""",
    ],
)
def test_the_static_check_flags_backtracking_shapes(pattern: str) -> None:
    """Catches: the shapes that backtrack are flagged (so the meta-test above can fail)."""
    assert hazards(pattern)


@pytest.mark.parametrize(
    "pattern", [r"\d+(?:\.\d+)*:", r"cuda\s*>=\s*\d+", r"(?:\.abi3\.|cpython-[\w-]+\.)?so", r"x(?:(?!y).)+?z"]
)
def test_the_static_check_passes_delimited_repeats(pattern: str) -> None:
    """Catches not: a repeat whose repetitions are delimited, or repeats that share no character."""
    assert hazards(pattern) == []


# ------------------------------------------------------------------------------ start-up


def test_importing_explain_compiles_no_regular_expression_of_ours() -> None:
    """Regexes compile on first use: importing the command's modules compiles none of their own."""
    code = (
        "import re, sys\n"
        "calls = []\n"
        "orig = re.compile\n"
        "def spy(*a, **k):\n"
        "    calls.append(sys._getframe(1).f_globals.get('__name__', ''))\n"
        "    return orig(*a, **k)\n"
        "re.compile = spy\n"
        "import cudalign.explain, cudalign.explain.literals, cudalign.cli.explain, cudalign.render.explain\n"
        "print(sorted({c for c in calls if c.startswith(('cudalign.explain', 'cudalign.cli.explain', "
        "'cudalign.render.explain'))}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
