"""Releases newer than the series facts inherit their predecessor's as a stated assumption; nightly and
pre-release builds are judged from their series and variant."""

from __future__ import annotations

from packaging.version import Version

from cudalign.facts import load, query
from cudalign.hosts import describe_host
from cudalign.model import Severity
from cudalign.rules import check, verdict
from cudalign.stack import resolve

FACTS = load()
H100 = describe_host(FACTS, gpus=["H100"], driver="580.65.06")


def _newest_vllm_series_bound() -> Version:
    uppers = [
        Version(s.version) for f in FACTS.of_kind("vllm_series") for s in f["versions"] if s.operator == "<"
    ]
    return max(uppers)


def test_a_release_past_the_series_facts_inherits_the_newest_series() -> None:
    beyond = _newest_vllm_series_bound()
    fact = query.vllm_series(FACTS, str(beyond))
    assert fact is not None and query.series_assumed(fact, str(beyond))
    inside = query.vllm_series(FACTS, "0.13.0")
    assert inside is not None and not query.series_assumed(inside, "0.13.0")


def test_the_inherited_series_is_the_newest_one() -> None:
    beyond = _newest_vllm_series_bound()
    fact = query.vllm_series(FACTS, f"{beyond.major}.{beyond.minor + 5}.0")
    newest = max(
        FACTS.of_kind("vllm_series"),
        key=lambda f: max(Version(s.version) for s in f["versions"] if s.operator == ">="),
    )
    assert fact is not None and fact.id == newest.id


def test_the_assumption_is_a_caveat_naming_the_fact() -> None:
    beyond = str(_newest_vllm_series_bound())
    stack = resolve([f"vllm=={beyond}"], FACTS, H100)
    found = [f for f in check(H100, stack, FACTS) if "as an assumption" in f.message]
    assert found and all(f.severity is Severity.WARNING and not f.unknown for f in found)
    fact = query.vllm_series(FACTS, beyond)
    assert fact is not None and any(r.id == fact.id for f in found for r in f.facts)
    assert not any(f.unknown and "vllm_series" in f.unknown for f in check(H100, stack, FACTS))


def test_a_covered_release_states_no_assumption() -> None:
    stack = resolve(["vllm==0.13.0"], FACTS, H100)
    assert not any("as an assumption" in f.message for f in check(H100, stack, FACTS))


def test_a_nightly_is_judged_from_its_series_and_variant() -> None:
    stack = resolve(["torch==2.10.0.dev20251001+cu130"], FACTS, H100)
    findings = check(H100, stack, FACTS)
    assert verdict(findings, stack).value == "caveats"
    (nightly,) = [f for f in findings if f.code == "CA308"]
    assert nightly.severity is Severity.WARNING and "torch.2.10" in {r.id for r in nightly.facts}
    old = describe_host(FACTS, gpus=["V100"], driver="580.65.06")
    assert (
        verdict(check(old, resolve(["torch==2.10.0.dev20251001+cu130"], FACTS, old), FACTS)).value == "fails"
    )


def test_a_release_that_never_existed_still_fails() -> None:
    stack = resolve(["torch==2.5.9"], FACTS, H100)
    assert any(f.code == "CA308" and f.severity is Severity.ERROR for f in check(H100, stack, FACTS))
