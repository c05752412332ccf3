"""Precision and recall per signature family on a corpus of real log lines (``corpus.toml``).

Each line is explained on its own, without a host, as a user pasting it would. A line counts as recalled
when the cause reported first belongs to the family of the signature it is expected to match; precision
per family counts every line whose first cause falls in that family, near misses included. The test fails
below 95% recall in any family, or when a near miss or a harmless message gets an error-severity finding.
``python -m tests.explain.test_corpus`` prints the table (the figures in docs/guide/explain-runbook.md).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from cudalign.explain import explain, signatures
from cudalign.facts import Facts, _toml_loads, load
from cudalign.model import Severity

CORPUS = Path(__file__).with_name("corpus.toml")
MIN_RECALL = 0.95


@dataclass(frozen=True, slots=True)
class Outcome:
    text: str
    expect: str
    kind: str
    got: str
    """The signature reported first, "" for none."""
    severities: tuple[Severity, ...]


@cache
def _facts() -> Facts:
    return load()


@cache
def outcomes() -> tuple[Outcome, ...]:
    facts = _facts()
    lines = _toml_loads(CORPUS.read_text(encoding="utf-8"))["line"]
    out = []
    for line in lines:
        report = explain(line["text"], facts, None)
        matches = report.data["matches"]
        got = str(matches[0]["signature"]) if matches else ""
        sev = tuple(f.severity for f in report.findings)
        out.append(Outcome(line["text"], line["expect"], line["kind"], got, sev))
    return tuple(out)


@cache
def _family() -> dict[str, str]:
    return {s.id: s.family for s in signatures(_facts())}


def figures() -> dict[str, tuple[int, int, int]]:
    """Per family: (lines expected in it, lines recalled, lines reported in it)."""
    fam = _family()
    expected: Counter[str] = Counter()
    recalled: Counter[str] = Counter()
    reported: Counter[str] = Counter()
    for o in outcomes():
        want, got = fam.get(o.expect, ""), fam.get(o.got, "")
        if want:
            expected[want] += 1
            if got == want:
                recalled[want] += 1
        if got:
            reported[got] += 1
    return {f: (expected[f], recalled[f], reported[f]) for f in sorted(set(expected) | set(reported))}


def table() -> str:
    rows = ["| family | lines | recall | precision |", "|---|---:|---:|---:|"]
    total = [0, 0, 0]
    for f, (n, hit, rep) in figures().items():
        figs = f"{hit / n:.0%} | {hit / rep:.0%}" if n and rep else "– | –"
        rows.append(f"| {f} | {n} | {figs} |")
        total = [total[0] + n, total[1] + hit, total[2] + rep]
    rows.append(f"| **all** | {total[0]} | {total[1] / total[0]:.1%} | {total[1] / total[2]:.1%} |")
    kinds = Counter(o.kind for o in outcomes())
    rows.append("")
    counts = ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
    rows.append(f"{counts} lines, {sum(kinds.values())} in all.")
    return "\n".join(rows)


def test_the_corpus_is_large_enough_and_every_line_has_a_source() -> None:
    lines = _toml_loads(CORPUS.read_text(encoding="utf-8"))["line"]
    assert len(lines) >= 250
    assert sum(1 for x in lines if x["kind"] == "near-miss") >= 60
    for x in lines:
        assert x["sources"] and all(s.startswith("https://") for s in x["sources"]), x["text"]
        assert x["kind"] in ("error", "warning", "info", "near-miss")
        assert (x["expect"] == "") == (x["kind"] == "near-miss"), x["text"]
        assert x["expect"] == "" or x["expect"] in _family(), x["expect"]


@pytest.mark.parametrize("family", sorted({f for f in _family().values()}))
def test_recall_per_family_is_at_least_95_percent(family: str) -> None:
    n, hit, _ = figures().get(family, (0, 0, 0))
    assert n, f"no corpus line for family {family}"
    fam = _family()
    missed = [o.text[:100] for o in outcomes() if fam.get(o.expect) == family and fam.get(o.got) != family]
    assert hit / n >= MIN_RECALL, f"{family}: {hit}/{n}; missed: {missed}"


def test_no_near_miss_or_harmless_line_gets_an_error() -> None:
    """Catches not: an application error, memory exhaustion, monitoring output or a harmless warning is never
    an error-severity compatibility finding."""
    wrong = [
        (o.kind, o.got, o.text[:100])
        for o in outcomes()
        if o.kind in ("near-miss", "info", "warning") and Severity.ERROR in o.severities
    ]
    assert wrong == []


def test_near_misses_get_no_finding_above_info() -> None:
    wrong = [(o.got, o.text[:100]) for o in outcomes() if o.kind == "near-miss" and o.got and o.severities]
    assert all(s == Severity.INFO for o in outcomes() if o.kind == "near-miss" for s in o.severities), wrong


def test_the_precision_of_each_family_is_reported() -> None:
    """The table the guide quotes: every family has lines and a precision figure."""
    text = table()
    for family in set(_family().values()):
        assert f"| {family} |" in text


if __name__ == "__main__":  # pragma: no cover - prints the figures for the guide
    print(table())
