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
    assert judge("CA402", ["torch==2.9.0"], judge.host("H100", driver="550.144.03"), image=IMAGE) == []


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
