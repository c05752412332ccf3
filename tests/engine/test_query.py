"""Typed queries over the knowledge base: drivers, CUDA, architectures, images."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from cudalign.facts import Facts, load
from cudalign.facts import query as q
from cudalign.model import ComputeCapability


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


def test_min_driver_ga_versus_update(facts: Facts) -> None:
    """A runtime "12.8" needs the 12.8 GA driver; "12.8.1" the Update 1 driver."""
    assert q.min_driver_for_cuda(facts, "12.8").value == Version("570.26")
    assert q.min_driver_for_cuda(facts, "12.8.1").value == Version("570.124.06")
    assert q.min_driver_for_cuda(facts, "12.4").facts[0].id.startswith("cuda.toolkit.12.4")


def test_min_driver_branch_rule_for_13_4(facts: Facts) -> None:
    assert q.min_driver_for_cuda(facts, "13.4").value == Version("615")


def test_min_driver_unknown_minor_is_none(facts: Facts) -> None:
    ans = q.min_driver_for_cuda(facts, "13.5")
    assert ans.value is None and ans.facts == ()


def test_mvc_floor(facts: Facts) -> None:
    assert q.mvc_floor(facts, 12).value == Version("525.60.13")
    assert q.mvc_floor(facts, 13).value == Version("580.65.06")


@pytest.mark.parametrize(
    ("driver", "cuda"),
    [
        ("550.107.02", "12.4"),
        ("570.133.07", "12.8"),
        ("575.57.08", "12.9"),
        ("580.95.05", "13.0"),
        ("535.183.01", "12.2"),
    ],
)
def test_max_cuda_for_driver(facts: Facts, driver: str, cuda: str) -> None:
    assert q.max_cuda_for_driver(facts, driver).value == Version(cuda)


@given(st.sampled_from(["11.8", "12.0", "12.4", "12.6", "12.8", "12.9", "13.0", "13.1", "13.2"]))
def test_the_minimum_driver_of_a_cuda_supports_that_cuda(cuda: str) -> None:
    """Round trip: the driver a CUDA minor needs reports at least that CUDA."""
    facts = load()
    drv = q.min_driver_for_cuda(facts, cuda).value
    assert drv is not None
    top = q.max_cuda_for_driver(facts, drv).value
    assert top is not None and top >= Version(cuda)


def test_targetable(facts: Facts) -> None:
    assert q.targetable(facts, ComputeCapability(7, 0), "12.9").value is True
    assert q.targetable(facts, ComputeCapability(7, 0), "13.0").value is False
    assert q.targetable(facts, ComputeCapability(12, 0), "12.4").value is False


def test_driver_text_keeps_nvidia_spelling() -> None:
    assert q.driver_text(Version("580.65.06")) == "580.65.06"
    assert q.driver_text("570.26") == "570.26"


def test_variant_cuda() -> None:
    assert q.variant_cuda("cu128") == Version("12.8")
    assert q.variant_cuda("cu130") == Version("13.0")
    assert q.variant_cuda("cu118") == Version("11.8")
    assert q.variant_cuda("cpu") is None


def test_require_semantics_or_of_ands() -> None:
    """Space-separated clauses are ORed, comma-separated conditions ANDed (nvidia-container-cli)."""
    clauses = q.parse_require("cuda>=12.8 brand=tesla,driver>=535,driver<536")
    assert len(clauses) == 2
    tesla = frozenset({"tesla"})
    ok = [
        q.require_satisfied(c, cuda=Version("12.2"), driver=Version("535.183.01"), brands=tesla)
        for c in clauses
    ]
    assert ok == [False, True]
    geforce = frozenset({"geforce"})
    no = [
        q.require_satisfied(c, cuda=Version("12.2"), driver=Version("535.183.01"), brands=geforce)
        for c in clauses
    ]
    assert no == [False, False]


def test_image_match_groups(facts: Facts) -> None:
    m = q.image_match(facts, "docker.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04")
    assert m is not None and m.groups["cuda"] == "12.4.1"
    v = q.image_match(facts, "vllm/vllm-openai:v0.13.0")
    assert v is not None and v.groups["vllm"] == "0.13.0"
    assert q.image_match(facts, "example/unknown:1.0") is None


def test_feature_by_alias(facts: Facts) -> None:
    f = q.feature(facts, "bfloat16")
    assert f is not None and f["name"] == "bf16"


def test_supported_branches_are_lifecycle_facts_on_a_date(facts: Facts) -> None:
    import datetime as dt

    on = dt.date(2026, 12, 1)
    supported = q.supported_branches(facts, on).value
    assert 580 in supported and 595 in supported
    for eol_branch in (455, 525, 550, 570, 575, 590, 610):  # designated EOL, evaluation, or EOL date passed
        assert eol_branch not in supported
    assert q.branch_supported(facts, 595, dt.date(2027, 4, 1)).value is False  # R595's EOL is 2027-03
    assert q.branch_supported(facts, 570, dt.date(2025, 6, 1)).value is True
    assert q.branch_supported(facts, 999).value is None


def test_recommended_driver_moves_off_end_of_life_branches(facts: Facts) -> None:
    import datetime as dt

    on = dt.date(2026, 12, 1)
    assert q.recommended_driver(facts, Version("575.51.03"), on).value == Version("580.65.06")
    assert q.recommended_driver(facts, Version("580.82.07"), on).value == Version("580.82.07")
    assert q.recommended_driver(facts, Version("525.60.13"), on).value == Version("580.65.06")
    assert q.branch_text(facts, Version("575.51.03"), on) == "R575, end-of-life"
    assert q.branch_text(facts, Version("580.65.06"), on) == "R580"


def test_branch_first_release_and_last_branch_for_an_architecture(facts: Facts) -> None:
    assert q.branch_first_release(facts, 580).value == Version("580.65.06")
    assert q.branch_first_release(facts, 570).value == Version("570.26")
    v100 = facts.gpu("V100")
    assert q.last_branch_for(facts, v100).value == 580
    assert q.last_branch_for(facts, facts.gpu("H100")).value is None


@given(st.sampled_from(["580", "R580", "r580", "580.x", "580.*", "R580.x", " 580 "]))
def test_a_driver_written_as_a_branch_is_that_branch(text: str) -> None:
    from cudalign.model import driver_branch, driver_version

    assert driver_branch(text) == 580 and driver_version(text) == Version("580")
    assert driver_branch("580.65.06") is None and driver_branch("5800") is None
