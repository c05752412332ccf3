"""vLLM CUDA variant wheels (``vllm==0.20.0+cu129``): check judges the build, plan offers it."""

from __future__ import annotations

import pytest

from cudalign.facts import load, query
from cudalign.hosts import describe_host
from cudalign.model import Verdict
from cudalign.plan import make_plan
from cudalign.rules import check, verdict
from cudalign.stack import resolve

FACTS = load()
R570 = "570.133.20"


def _judge(req: str, driver: str = R570, gpu: str = "A100"):  # type: ignore[no-untyped-def]
    host = describe_host(FACTS, gpus=[gpu], driver=driver)
    stack = resolve([req], FACTS, host)
    findings = check(host, stack, FACTS)
    return stack, findings, verdict(findings)


def test_variant_index_fact_formats_the_release_url() -> None:
    found = query.vllm_variant_index(FACTS, "0.21.0", "cu129")
    assert found is not None
    assert found[0] == "https://wheels.vllm.ai/0.21.0/cu129"
    assert found[1].source.startswith("https://github.com/vllm-project/vllm/")
    assert query.vllm_variant_index(FACTS, "0.9.0", "cu126") is None  # releases before the index: no fact


def test_cu129_build_on_r570_runs_with_its_own_runtime_and_torch() -> None:
    stack, findings, v = _judge("vllm==0.20.0+cu129")
    vllm, torch = stack.component("vllm"), stack.component("torch")
    assert vllm is not None and torch is not None
    assert vllm.cuda == "12.9" and vllm.index_url == "https://wheels.vllm.ai/0.20.0/cu129"
    assert torch.variant == "cu129" and torch.index_url == "https://download.pytorch.org/whl/cu129"
    assert stack.cuda_runtime == "12.9"
    assert v is Verdict.CAVEATS  # CUDA 12.9 on an R570 (12.8) driver: minor-version compatibility
    assert {f.code for f in findings} == {"CA102"}


def test_cu130_default_on_r570_needs_a_newer_driver() -> None:
    _, findings, v = _judge("vllm==0.20.0")
    assert v is Verdict.FAILS
    assert any(f.code == "CA101" and "580.65.06" in f.fix for f in findings)


def test_variant_a_release_was_not_published_with_fails() -> None:
    _, findings, v = _judge("vllm==0.20.0+cu126")
    assert v is Verdict.FAILS
    hit = next(f for f in findings if f.code == "CA306")
    assert "no cu126 build" in hit.message and "cu129" in hit.message


def test_variant_of_a_series_without_variant_facts_is_unknown_not_ok() -> None:
    _, findings, v = _judge("vllm==0.10.0+cu126")
    assert v is Verdict.UNKNOWN
    assert any(f.unknown and "vllm_series.variants" in f.unknown for f in findings)


@pytest.mark.parametrize("req", ["vllm==0.20.0+cu130", "vllm==0.13.0+cu129"])
def test_the_pypi_wheels_own_cuda_as_a_label_is_not_a_missing_variant(req: str) -> None:
    _, findings, _ = _judge(req, driver="580.95.05")
    assert not any(f.code == "CA306" for f in findings)


def test_plan_on_r570_offers_the_cu129_build_with_its_index_lines() -> None:
    host = describe_host(FACTS, gpus=["A100"], driver="570.x")
    plan = make_plan(["vllm==0.20.0"], FACTS, host)
    kept = [m for m in plan.matrices if not m.driver_change]
    variant = next(m for m in kept if m.vllm == "0.20.0+cu129")
    assert variant.verdict in (Verdict.OK, Verdict.CAVEATS)
    assert variant.torch == "2.11.0+cu129"
    assert "--extra-index-url https://wheels.vllm.ai/0.20.0/cu129" in variant.install_pip
    assert "--extra-index-url https://download.pytorch.org/whl/cu129" in variant.install_pip
    assert "vllm==0.20.0+cu129" in variant.install_uv and "--torch-backend=cu129" in variant.install_uv
    assert variant.image == "vllm/vllm-openai:v0.20.0-cu129"


def test_plan_does_not_offer_variants_without_an_index_fact_or_when_a_variant_is_asked() -> None:
    host = describe_host(FACTS, gpus=["A100"], driver="570.x")
    old = make_plan(["vllm==0.13.0"], FACTS, host)  # cu128/cu130 wheels exist, but no index fact covers 0.13
    assert all(m.vllm is not None and "+" not in m.vllm for m in old.matrices)
    asked = make_plan(["vllm==0.20.0+cu130"], FACTS, host)
    assert all(m.vllm is not None and "+cu129" not in m.vllm for m in asked.matrices)


def test_index_facts_name_only_the_variants_a_source_shows() -> None:
    assert query.vllm_variant_index(FACTS, "0.18.0", "cu130") is not None
    assert query.vllm_variant_index(FACTS, "0.19.1", "cu128") is None  # no source shows it on the index
    assert query.vllm_variant_index(FACTS, "0.21.0", "cu128") is None  # 'only cu129 and cu130'


def test_plan_on_r580_puts_the_pypi_wheel_first() -> None:
    host = describe_host(FACTS, gpus=["A100"], driver="580.95.05")
    plan = make_plan(["vllm==0.20.0"], FACTS, host)
    first = plan.matrices[0]
    assert first.vllm == "0.20.0" and first.verdict is Verdict.OK
    assert "wheels.vllm.ai" not in first.install_pip


def test_plan_does_not_offer_an_unattested_variant_to_dodge_a_driver_upgrade() -> None:
    host = describe_host(FACTS, gpus=["RTX 5090"], driver="570.133.07")
    plan = make_plan(["vllm>=0.18,<0.20"], FACTS, host)
    assert all(m.vllm is not None and "+cu128" not in m.vllm for m in plan.matrices)
