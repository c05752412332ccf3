"""Image rules: NVIDIA_REQUIRE_CUDA, forward-compat libraries, containers without GPUs."""

from __future__ import annotations

import dataclasses

from cudalign.model import ContainerInfo

from .conftest import Judge

IMAGE = "nvidia/cuda:12.8.1-runtime-ubuntu22.04"


def test_ca401_catches_geforce_on_r550_with_cuda_12_8_image(judge: Judge) -> None:
    found = judge("CA401", ["torch==2.9.0"], judge.host("RTX 4090", driver="550.144.03"), image=IMAGE)
    assert found and "cuda>=12.8" in found[0].message


def test_ca401_catches_not_on_r570(judge: Judge) -> None:
    assert judge("CA401", ["torch==2.9.0"], judge.host("RTX 4090", driver="570.133.07"), image=IMAGE) == []


def test_ca401_brand_clause_admits_datacenter_r550(judge: Judge) -> None:
    assert judge("CA401", ["torch==2.9.0"], judge.host("H100", driver="550.144.03"), image=IMAGE) == []


def test_ca402_catches_workstation_card_admitted_by_brand_clause(judge: Judge) -> None:
    found = judge("CA402", ["torch==2.9.0"], judge.host("RTX A6000", driver="550.144.03"), image=IMAGE)
    assert found and "804" in found[0].message


def test_ca402_catches_not_datacenter_gpu(judge: Judge) -> None:
    """A data-center GPU runs the image's compat libraries: no error, one info that says so."""
    found = judge("CA402", ["torch==2.9.0"], judge.host("H100", driver="550.144.03"), image=IMAGE)
    assert [f.severity.value for f in found] == ["info"]
    assert "runs through forward compatibility" in found[0].message


def test_forward_compat_lifts_the_driver_rules_on_a_datacenter_gpu(judge: Judge) -> None:
    """CUDA 13 torch on R535 fails bare, but runs in a CUDA 13.1 image whose compat libraries admit R535."""
    h100 = judge.host("H100", driver="535.183.01")
    assert judge("CA101", ["torch==2.11.0"], h100)
    assert judge("CA101", ["torch==2.11.0"], h100, image="nvidia/cuda:13.1.1-runtime-ubuntu22.04") == []
    # vLLM 0.13.0's FlashAttention-2 PTX (CUDA 12.9) JIT-compiles with the image's 12.9 compat driver
    assert judge("CA103", ["vllm==0.13.0"], h100)
    assert judge("CA103", ["vllm==0.13.0"], h100, image="vllm/vllm-openai:v0.13.0") == []


def test_forward_compat_does_not_apply_on_a_workstation_card(judge: Judge) -> None:
    a6000 = judge.host("RTX A6000", driver="550.144.03")
    assert judge("CA103", ["vllm==0.13.0"], judge.host("H100", driver="550.144.03"))
    assert judge("CA102", ["vllm==0.13.0"], a6000, image="vllm/vllm-openai:v0.13.0")


def test_ca402_catches_compat_older_than_host_driver_in_container(judge: Judge) -> None:
    host = judge.host("H100", driver="580.95.05")
    host = dataclasses.replace(
        host,
        container=ContainerInfo(kind="docker", compat_libs=("/usr/local/cuda/compat",), compat_cuda="12.8"),
    )
    found = judge("CA402", ["torch==2.9.0"], host)
    assert found and "803" in found[0].message


def test_ca403_catches_container_without_gpus(judge: Judge) -> None:
    host = judge.host(driver="580.95.05", origin="probe", container=ContainerInfo(kind="docker"))
    assert judge("CA403", ["torch==2.9.0"], host)


def test_ca403_catches_not_container_with_gpus(judge: Judge) -> None:
    host = judge.host(
        "H100",
        driver="580.95.05",
        origin="probe",
        container=ContainerInfo(kind="docker", nvidia_visible_devices="all"),
    )
    assert judge("CA403", ["torch==2.9.0"], host) == []


TGI = "ghcr.io/huggingface/text-generation-inference"


def test_ca201_catches_blackwell_in_a_serving_image_whose_torch_predates_it(judge: Judge) -> None:
    """text-generation-inference 3.3.0 installs torch 2.6.0+cu124 (its uv.lock): no sm_120 (TGI #3219)."""
    found = judge("CA201", [], judge.host("RTX 5090", driver="575.57.08"), image=f"{TGI}:3.3.0")
    assert found and "torch 2.6.0+cu124" in found[0].message and "sm_120" in found[0].message
    # the fix names the first release whose torch has sm_120, from the image_torch facts
    assert f"{TGI}:3.3.1, the first release whose torch (2.7.0+cu128) has sm_120" in found[0].fix
    assert any(r.id.startswith("image.tgi.") and r.id.endswith(".torch") for r in found[0].facts)


def test_ca201_catches_not_blackwell_in_the_release_that_moved_to_cu128(judge: Judge) -> None:
    assert judge("CA201", [], judge.host("RTX 5090", driver="575.57.08"), image=f"{TGI}:3.3.1") == []
    assert judge("CA201", [], judge.host("RTX 5090", driver="575.57.08"), image=f"{TGI}:latest") == []
    # and 3.3.0 runs on a GPU its torch has code for
    assert judge("CA201", [], judge.host("H100", driver="550.144.03"), image=f"{TGI}:3.3.0") == []
