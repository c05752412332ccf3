"""A feature one package provides, with its floor per release of that package (vLLM's FP8 Marlin)."""

from __future__ import annotations

import pytest

from cudalign.facts import query
from cudalign.model import Severity

from .conftest import Judge


def test_fp8_marlin_floor_is_ampere_before_turing_support(judge: Judge) -> None:
    found = judge("CA203", ["vllm==0.5.1"], judge.host("RTX 2080 Ti", driver="555.85"), features=["fp8"])
    assert [f.severity for f in found] == [Severity.ERROR]
    assert "fp8-marlin needs >=8.0 in vllm 0.5.1" in found[0].message
    assert "vllm>=0.14.0" in found[0].fix
    assert "feature.fp8-marlin-ampere" in {r.id for r in found[0].facts}


@pytest.mark.parametrize("version", ["0.13.0", "0.9.2"])
def test_fp8_marlin_catches_turing_up_to_0_13(judge: Judge, version: str) -> None:
    found = judge("CA203", [f"vllm=={version}"], judge.host("T4", driver="580.65.06"), features=["fp8"])
    assert [f.severity for f in found] == [Severity.ERROR]


def test_fp8_marlin_catches_not_turing_from_0_14(judge: Judge) -> None:
    found = judge("CA203", ["vllm==0.14.0"], judge.host("RTX 2080 Ti", driver="580.65.06"), features=["fp8"])
    assert [f.severity for f in found] == [Severity.WARNING]
    assert "fp8-marlin in vllm 0.14.0" in found[0].message


def test_fp8_marlin_catches_not_ampere_on_old_releases(judge: Judge) -> None:
    found = judge("CA203", ["vllm==0.5.1"], judge.host("A100", driver="555.85"), features=["fp8"])
    assert [f.severity for f in found] == [Severity.WARNING]


def test_feature_query_picks_the_release_range(judge: Judge) -> None:
    facts = judge.facts
    assert query.feature(facts, "fp8-marlin", {"vllm": "0.13.0"}).id == "feature.fp8-marlin-ampere"  # type: ignore[union-attr]
    assert query.feature(facts, "fp8-marlin", {"vllm": "0.14.0"}).id == "feature.fp8-marlin"  # type: ignore[union-attr]
    assert query.feature(facts, "w8a16-fp8", {"vllm": "0.20.0rc1"}).id == "feature.fp8-marlin"  # type: ignore[union-attr]
    # before FP8 Marlin existed (0.5.0.post1's Fp8Config needs 8.9): no fallback at all
    assert query.feature(facts, "fp8-marlin", {"vllm": "0.5.0.post1"}) is None
    # vLLM not in the stack: the current range stands
    assert query.feature(facts, "fp8-marlin").id == "feature.fp8-marlin"  # type: ignore[union-attr]
    assert query.feature(facts, "fp8-marlin", {"torch": "2.9.0"}).id == "feature.fp8-marlin"  # type: ignore[union-attr]


def test_fp8_without_a_fallback_release_names_no_fallback(judge: Judge) -> None:
    found = judge("CA203", ["vllm==0.5.0.post1"], judge.host("A100", driver="555.85"), features=["fp8"])
    assert [f.severity for f in found] == [Severity.ERROR] and "fallback" not in found[0].message
