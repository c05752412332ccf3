"""Offline, the resolver picks what the installer would: the newest torch the named index has, the torch a
pinning package brings when the index lacks it, and untracked packages said to be unchecked."""

from __future__ import annotations

import pytest
from packaging.version import Version

from cudalign.facts import Facts, load
from cudalign.hosts import describe_host
from cudalign.model import Finding, Host, Severity, Stack
from cudalign.rules import check
from cudalign.stack import resolve, torch_variants

CU124 = "https://download.pytorch.org/whl/cu124"


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


@pytest.fixture(scope="module")
def t4(facts: Facts) -> Host:
    return describe_host(facts, gpus=["T4"], driver="550.54.14", python="3.11")


def _run(facts: Facts, host: Host, reqs: list[str], index: str | None = None) -> tuple[Stack, list[Finding]]:
    stack = resolve(reqs, facts, host, index_url=index)
    return stack, list(check(host, stack, facts))


def test_unpinned_torch_with_an_index_is_the_newest_release_that_index_has(facts: Facts, t4: Host) -> None:
    stack, findings = _run(facts, t4, ["torch"], CU124)
    torch = stack.component("torch")
    assert torch is not None and torch.variant == "cu124" and torch.index_url == CU124
    with_cu124 = [Version(v) for v in facts.snapshot.releases("torch") if "cu124" in torch_variants(facts, v)]
    assert Version(torch.version) == max(v for v in with_cu124 if not v.is_prerelease)
    assert not any(f.code == "CA306" for f in findings)  # no 'no cu124 build' false error


def test_without_an_index_unpinned_torch_is_the_newest_release(facts: Facts, t4: Host) -> None:
    stack, _ = _run(facts, t4, ["torch"])
    torch = stack.component("torch")
    assert torch is not None and "cu124" not in torch_variants(facts, torch.version)


def test_vllm_that_pins_a_torch_the_index_lacks_replaces_it(facts: Facts, t4: Host) -> None:
    stack, findings = _run(facts, t4, ["torch", "vllm"], CU124)
    torch, vllm = stack.component("torch"), stack.component("vllm")
    assert torch is not None and vllm is not None
    assert "cu124" not in torch_variants(facts, torch.version) and torch.variant != "cu124"
    hits = [f for f in findings if f.code == "CA301" and "replaces the cu124 torch" in f.message]
    assert len(hits) == 1 and hits[0].severity is Severity.WARNING
    assert f"vllm {vllm.version} pins torch=={torch.version}" in hits[0].message


def test_vllm_whose_torch_the_index_has_is_not_reported(facts: Facts, t4: Host) -> None:
    stack, findings = _run(facts, t4, ["torch", "vllm==0.6.3"], CU124)
    torch = stack.component("torch")
    assert torch is not None and torch.variant == "cu124"
    assert not any("replaces the" in f.message for f in findings)


def test_a_labelled_torch_the_index_lacks_stays_an_error(facts: Facts, t4: Host) -> None:
    _, findings = _run(facts, t4, ["torch==2.14.0+cu124"])
    assert any(f.code == "CA306" and "no cu124 build" in f.message for f in findings)
    assert not any("replaces the" in f.message for f in findings)


def test_untracked_package_is_unchecked_info(facts: Facts) -> None:
    host = describe_host(facts, gpus=["T4"], driver="550.54.14", python="3.12")
    _, findings = _run(facts, host, ["TTS==0.22.0"])
    (hit,) = [f for f in findings if "not a package cudalign tracks" in f.message]
    assert hit.severity is Severity.INFO and hit.unknown is None and "TTS==0.22.0" in hit.message


def test_tracked_package_is_not_called_unchecked(facts: Facts, t4: Host) -> None:
    _, findings = _run(facts, t4, ["ctranslate2==4.5.0", "torch==2.5.1"])
    assert not any("not a package cudalign tracks" in f.message for f in findings)
