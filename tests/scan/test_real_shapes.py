"""The shapes of real repositories (tests/repos/real_shapes): each class scan must understand, with
what it must catch and what it must not say."""

from __future__ import annotations

from pathlib import Path

import pytest

from cudalign.facts import Facts
from cudalign.model import Finding
from cudalign.scan import ScanResult, scan
from cudalign.stack.images import image_info, parse_reference

REPO = Path(__file__).resolve().parents[1] / "repos" / "real_shapes"


@pytest.fixture(scope="module")
def result(facts: Facts) -> ScanResult:
    return scan(REPO, facts, fleet_driver="550.54.15")


def _of(result: ScanResult, service: str) -> list[Finding]:
    return [f for f in result.findings if f.service == service]


def _covering(result: ScanResult, service: str) -> list[Finding]:
    """Findings of the service, or shared with it (one finding names every service it is in)."""
    return [f for f in result.findings if f.service == service or f"also in {service}" in f.message
            or (", " + service) in f.message.split("also in", 1)[-1]]  # fmt: skip


def _view(result: ScanResult, name: str):  # type: ignore[no-untyped-def]
    return next(v for v in result.views if v.service.name == name)


@pytest.mark.parametrize(
    ("reference", "path", "cuda"),
    [
        ("nvcr.io/nvidia/cuda:12.8.1-runtime-ubuntu22.04", "nvidia/cuda", "12.8.1"),
        ("docker.io/library/nvidia/cuda:12.8.1-base-ubuntu22.04", "nvidia/cuda", "12.8.1"),
        ("my-registry.example/vllm/vllm-openai:v0.11.0", "vllm/vllm-openai", "12.8"),
        (
            "harbor.example:8443/mirror/vllm/vllm-openai:v0.13.0@sha256:" + "a" * 64,
            "mirror/vllm/vllm-openai",
            "12.9",
        ),
        ("nvcr.io/nvidia/pytorch:25.12-py3", "nvidia/pytorch", "13.1.0"),
    ],
)
def test_references_under_any_registry_name(facts: Facts, reference: str, path: str, cuda: str) -> None:
    assert parse_reference(reference).path == path
    assert image_info(facts, reference).cuda == cuda


def test_unknown_ngc_release_is_unknown_not_guessed(facts: Facts) -> None:
    info = image_info(facts, "nvcr.io/nvidia/pytorch:19.99-py3")
    assert info.cuda is None and "image" in info.unknown


def test_ngc_release_is_judged(result: ScanResult) -> None:
    found = _of(result, "ngc")
    assert [(f.code, f.location.line if f.location else None) for f in found if f.code != "CA602"] == [
        ("CA101", 1)
    ]
    assert "13.1" in found[0].message and "580.65.06" in found[0].message


def test_mirror_with_digest_is_judged_once(result: ScanResult) -> None:
    driver = [f for f in _of(result, "mirror") if f.code in ("CA101", "CA102", "CA401", "CA608")]
    assert [f.code for f in driver] == ["CA608"]  # CA102 folded under it
    assert "folded" in driver[0].message


def test_other_accelerators_get_no_nvidia_rule(result: ScanResult) -> None:
    assert _view(result, "llm-rocm").accelerator == "rocm"
    assert _view(result, "tts-cpu").accelerator == "cpu"
    assert _of(result, "llm-rocm") == [] and _of(result, "tts-cpu") == []


def test_variant_builds_and_helpers(result: ScanResult) -> None:
    for flavour in ("cu124", "cu128"):
        name = f"comfyui (comfy_matrix/{flavour}/docker-compose.yml)"
        codes = [f.code for f in _of(result, name)]
        assert "CA601" not in codes and "CA602" not in codes  # variants of one image are no drift
        assert "CA604" not in codes  # the dry run installs nothing; torchvision follows the pinned torch
        assert "CA607" not in codes  # file-chown is a helper beside the service that reserves the GPU


def test_helm_values_and_crd_pod_templates(result: ScanResult) -> None:
    names = {v.service.name for v in result.views}
    assert {"helm:vllm/engine.image", "helm:vllm/router.image"} <= names
    assert "RayCluster/llm:workerGroupSpecs[0]/worker" in names
    assert "LeaderWorkerSet/big:leaderWorkerTemplate.workerTemplate/vllm" in names
    # the chart's engine shares the vLLM image of the CRDs: one CA608 names every service it is in
    assert [f.code for f in _covering(result, "helm:vllm/engine.image")] == ["CA608"]
    assert _of(result, "helm:vllm/router.image") == []
    # GPU limit and product label: judged on the A10G, through forward compatibility (no CA608 beside)
    worker = _of(result, "RayCluster/llm:workerGroupSpecs[0]/worker")
    assert [f.code for f in worker] == ["CA402"] and "A10G" in worker[0].message
    assert any("not rendered" in n for n in result.notes)


def test_fleet_caveat_says_forward_compatibility(result: ScanResult) -> None:
    ca608 = next(f for f in _covering(result, "helm:vllm/engine.image"))
    assert "forward-compatibility" in ca608.message and "minor-version" not in ca608.message


def test_exec_form_markers_compose_variables_and_dockerignore(result: ScanResult) -> None:
    worker = _view(result, "worker")
    names = {d.name for d in worker.service.requirements}
    assert "torch" in names and "runpod" in names  # exec-form RUN ["python3", "-m", "pip", ...]
    assert "pywin32" not in names and "torch-directml" not in names  # Windows-only markers
    assert worker.service.compose[0].image is not None
    assert worker.service.compose[0].image.reference == "docker.io/example/worker:dev"
    assert "runpod/Dockerfile.dockerignore" not in result.files
    found = _of(result, "worker")
    assert [f.code for f in found] == ["CA603"] and found[0].location
    assert found[0].location.file == "runpod/builder/requirements.txt"  # the torch pin, not runpod's
