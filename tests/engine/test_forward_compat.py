"""Forward compatibility per GPU, with a source: true, false or unknown, and what each means for an image
whose cuda-compat libraries are newer than the host driver."""

from __future__ import annotations

import pytest

from cudalign.facts import Facts, load
from cudalign.hosts import describe_host
from cudalign.model import Severity
from cudalign.rules import check, verdict
from cudalign.stack import resolve

IMAGE = "vllm/vllm-openai:v0.13.0"


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


def test_every_stated_forward_compat_has_a_source_and_workstation_cards_are_unknown(facts: Facts) -> None:
    for f in facts.of_kind("gpu"):
        if f.get("forward_compat") is not None:
            assert str(f.get("forward_compat_source", "")).startswith("https://"), f.id
        if f["segment"] == "consumer":
            assert f.get("forward_compat") is False, f.id
        if f["segment"] == "datacenter":
            assert f.get("forward_compat") is True, f.id
    assert facts.gpu("RTX A6000").get("forward_compat") is None
    assert facts.gpu("RTX 6000 Ada").get("forward_compat") is None


def _ca402(
    facts: Facts, gpu: str, driver: str, vllm: str = "0.13.0", image: str = IMAGE
) -> list[tuple[Severity, str]]:
    host = describe_host(facts, gpus=[gpu], driver=driver)
    stack = resolve([f"vllm=={vllm}"], facts, host, image=image)
    return [(f.severity, f.message) for f in check(host, stack, facts) if f.code == "CA402"]


def test_unknown_forward_compat_may_fail_with_804(facts: Facts) -> None:
    found = _ca402(facts, "RTX A6000", "550.163.01")
    assert [s for s, _ in found] == [Severity.WARNING] and "may fail with CUDA error 804" in found[0][1]


def test_geforce_fails_with_804(facts: Facts) -> None:
    # the CUDA 12.4 image admits R535 by a GeForce brand clause; then its compat libraries (vllm#5283)
    found = _ca402(facts, "RTX 4090", "535.171.04", "0.4.3", "vllm/vllm-openai:v0.4.3")
    assert [s for s, _ in found] == [Severity.ERROR] and "error 804" in found[0][1]


def test_datacenter_runs_through_forward_compat(facts: Facts) -> None:
    found = _ca402(facts, "A100", "550.163.01")
    assert [s for s, _ in found] == [Severity.INFO]
    host = describe_host(facts, gpus=["A100"], driver="550.163.01")
    stack = resolve(["vllm==0.13.0"], facts, host, image=IMAGE)
    assert verdict(check(host, stack, facts)).value in ("ok", "caveats")
