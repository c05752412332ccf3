"""tests/repos/builds_and_families and tests/repos/kserve_helm: CUDA extensions built in Dockerfile
stages (CA610), packages named for a CUDA major (CA611), torch pulled in by another package (CA612),
KServe InferenceServices and Helm values."""

from __future__ import annotations

from pathlib import Path

import pytest

from cudalign.facts import Facts
from cudalign.model import Severity
from cudalign.scan import ScanResult, scan
from cudalign.scan.dockerfile import parse_dockerfile

REPOS = Path(__file__).resolve().parents[1] / "repos"


@pytest.fixture(scope="module")
def families(facts: Facts) -> ScanResult:
    return scan(REPOS / "builds_and_families", facts)


def _mine(result: ScanResult) -> set[tuple[str, str, int | None, str | None, str]]:
    return {
        (f.code, f.location.file if f.location else "", f.location.line if f.location else None, f.service,
         f.severity.value)
        for f in result.findings
        if f.code in ("CA303", "CA610", "CA611", "CA612")
    }  # fmt: skip


def test_expected_findings(families: ScanResult) -> None:
    assert _mine(families) == {
        ("CA610", "kernels/Dockerfile", 9, "kernels", "error"),  # nvcc 12.1 vs torch cu130
        ("CA610", "chain/Dockerfile", 7, "chain", "warning"),  # through FROM cuda / FROM deps, by name
        ("CA611", "suffixes/requirements.txt", 6, "suffixes", "warning"),  # tensorrt-cu11, cu12 torch
        ("CA611", "suffixes/requirements.txt", 7, "suffixes", "error"),  # nvidia-cublas-cu11 alone
        ("CA611", "suffix_only/requirements.txt", 3, "suffix_only", "error"),  # cu11 among cu12 packages
        ("CA612", "embeddings/requirements.txt", 2, "embeddings", "warning"),  # sentence-transformers
        ("CA612", "yolo/Dockerfile", 2, "yolo", "info"),  # ultralytics 8.1.0: metadata not in the facts
    }


def test_build_message_quotes_torch_and_cites_its_check(families: ScanResult) -> None:
    found = next(f for f in families.findings if f.code == "CA610" and f.service == "kernels")
    assert (
        "'The detected CUDA version (12.1) mismatches the version that was used to compile PyTorch (13.0)'"
        in (found.message)
    )
    assert "topic.torch-extension-cuda-check" in {r.id for r in found.facts}
    assert "CUDA 13" in found.fix


def test_same_major_and_unused_stage_are_not_findings(families: ScanResult) -> None:
    assert not [f for f in families.findings if f.service == "attention" and f.code == "CA610"]


def test_stage_chains_and_reachability() -> None:
    text = (REPOS / "builds_and_families" / "attention" / "Dockerfile").read_text()
    steps = parse_dockerfile("attention/Dockerfile", text).builds
    assert [(s.stage, s.reached, s.final_stage, s.by_name) for s in steps] == [
        ("build", True, True, True),
        ("legacy", False, False, False),
    ]
    chain = parse_dockerfile(
        "chain/Dockerfile", (REPOS / "builds_and_families" / "chain" / "Dockerfile").read_text()
    ).builds
    assert chain[0].image is not None and chain[0].image.reference.startswith("nvidia/cuda:11.8.0")
    assert [d.text for d in chain[0].torch] == ["torch==2.5.1"]


def test_suffix_fix_names_the_twin(families: ScanResult) -> None:
    fixes = {f.location.line: f.fix for f in families.findings if f.code == "CA611" and f.location}
    assert "tensorrt-cu12" in fixes[6] and "nvidia-cublas-cu12" in fixes[7]
    # jax[cuda12], cuda-python==12.6.0 and nvidia-nccl-cu12 match the service's CUDA 12
    assert not any(n in f.message for f in families.findings for n in ("jax", "cuda-python", "nccl"))


def test_transitive_torch_is_judged_and_named(families: ScanResult) -> None:
    view = next(v for v in families.views if v.service.name == "embeddings")
    assert view.stack is not None and view.stack.component("torch") is not None
    assert not view.torch_pinned
    found = next(f for f in families.findings if f.code == "CA612" and f.service == "embeddings")
    torch = view.stack.component("torch")
    assert torch is not None and f"torch {torch.version}" in found.message and "torch>=2.2" in found.message
    # the torch it pulls is the engine's too: CA603 against the CUDA 12.8 image, at the same line
    assert any(
        f.code == "CA603" and f.service == "embeddings" and f.location == found.location
        for f in families.findings
    )
    # api pins torch itself: sentence-transformers and accelerate pull nothing new there
    assert not [f for f in families.findings if f.service == "api" and f.code == "CA612"]


def test_kserve_models_take_their_runtime_image(facts: Facts) -> None:
    result = scan(REPOS / "kserve_helm", facts, fleet_driver="535.104.05")
    views = {v.service.name: v for v in result.views}
    llama = views["InferenceService/llama:predictor/model"]
    assert llama.service.image is not None and llama.service.image.reference == "vllm/vllm-openai:v0.10.1.1"
    assert llama.host is not None and llama.host.gpus[0].name.endswith("A10G")
    assert llama.service.containers[0].gpus == 1
    # picked by model format: the one ServingRuntime with autoSelect for 'vllm'
    assert views["InferenceService/by-format:predictor/model"].service.image is not None
    # a model format no runtime of the repository serves: said, not guessed
    assert any("InferenceService/resnet" in n and "not judged" in n for n in result.notes)
    assert not any(name.startswith("InferenceService/resnet") for name in views)
    # the chart: image from values (empty tag -> appVersion), GPU limit and product label
    engine = views["helm:engine/image"]
    assert engine.service.image is not None and engine.service.image.reference == "vllm/vllm-openai:v0.10.1.1"
    assert engine.service.containers[0].gpu_products == ("NVIDIA-L4",)
    assert engine.host is not None and engine.host.gpus[0].name.endswith("L4")
    # a chart whose values name no image: said
    assert any("charts/ui/values.yaml: names no image" in n for n in result.notes)
    codes = {(f.service, f.code) for f in result.findings}
    assert ("InferenceService/llama:predictor/model", "CA402") in codes
    assert all(f.severity is not Severity.ERROR for f in result.findings)
