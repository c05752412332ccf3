"""Package rules: pins, extension ABI, CUDA majors, CUDA libraries, CPU-only torch, wheels, NCCL."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

from cudalign.model import InstalledPackage
from cudalign.stack import from_installed

from .conftest import Judge

ADA = ("RTX 6000 Ada",)


def test_ca301_catches_vllm_torch_pin_conflict(judge: Judge) -> None:
    found = judge("CA301", ["vllm==0.13.0", "torch==2.8.0"], judge.host(*ADA, driver="580.95.05"))
    assert found and "torch==2.9.0" in found[0].message


def test_ca301_catches_not_matching_pins(judge: Judge) -> None:
    assert judge("CA301", ["vllm==0.13.0", "torch==2.9.0"], judge.host(*ADA, driver="580.95.05")) == []


def test_ca301_catches_an_installed_pin_that_is_not_met(judge: Judge) -> None:
    host = judge.host(
        *ADA,
        driver="580.95.05",
        packages=(
            InstalledPackage("torch", "2.9.0+cu128"),
            InstalledPackage("vllm", "0.11.0", requires=("torch==2.8.0", "xformers==0.0.32.post1")),
        ),
    )
    found = judge.run("CA301", host, from_installed(host, judge.facts))
    assert len(found) == 1
    assert "vllm 0.11.0 requires torch==2.8.0, but torch 2.9.0+cu128 is installed" in found[0].message
    assert "one resolver run" in found[0].fix


def test_ca301_catches_not_installed_pins_that_hold(judge: Judge) -> None:
    host = judge.host(
        *ADA,
        driver="580.95.05",
        packages=(
            InstalledPackage("torch", "2.8.0+cu128"),
            InstalledPackage("vllm", "0.11.0", requires=("torch==2.8.0",)),
        ),
    )
    assert judge.run("CA301", host, from_installed(host, judge.facts)) == []


def test_ca302_catches_installed_xformers_for_another_torch(judge: Judge) -> None:
    host = judge.host(
        *ADA,
        driver="580.95.05",
        packages=(
            InstalledPackage("torch", "2.6.0+cu124"),
            InstalledPackage("xformers", "0.0.28.post3", requires=("torch==2.5.1",)),
        ),
    )
    found = judge.run("CA302", host, from_installed(host, judge.facts))
    assert found and "2.5.1" in found[0].message


def test_ca302_catches_not_matching_installed_pair(judge: Judge) -> None:
    host = judge.host(
        *ADA,
        driver="580.95.05",
        packages=(
            InstalledPackage("torch", "2.5.1+cu124"),
            InstalledPackage("xformers", "0.0.28.post3", requires=("torch==2.5.1",)),
        ),
    )
    assert judge.run("CA302", host, from_installed(host, judge.facts)) == []


def test_ca303_catches_cu12_vllm_with_cu130_torch(judge: Judge) -> None:
    found = judge("CA303", ["vllm==0.13.0", "torch==2.9.0+cu130"], judge.host(*ADA, driver="580.95.05"))
    assert found and "libcudart.so.12" in found[0].message


def test_ca303_catches_not_cu12_vllm_with_cu128_torch(judge: Judge) -> None:
    assert judge("CA303", ["vllm==0.13.0", "torch==2.9.0+cu128"], judge.host(*ADA, driver="580.95.05")) == []


def test_ca304_catches_cudnn8_ctranslate2_next_to_cudnn9_torch(judge: Judge) -> None:
    found = judge("CA304", ["ctranslate2==4.4.0", "torch==2.5.1"], judge.host(*ADA, driver="580.95.05"))
    assert found and "cuDNN 8" in found[0].message


def test_ca304_catches_torch_loading_another_cudnn_than_the_system(judge: Judge) -> None:
    host = replace(
        judge.host(*ADA, driver="580.95.05", packages=(InstalledPackage("torch", "2.9.0+cu128"),)),
        cudnn={"torch": "9.10.2.21", "system": "8.9.7"},
    )
    found = judge.run("CA304", host, from_installed(host, judge.facts))
    assert len(found) == 1 and found[0].severity.value == "warning"  # another major: a warning
    assert "not the system cuDNN 8.9.7 (another major)" in found[0].message


def test_ca304_catches_not_the_same_cudnn_in_wheel_and_system(judge: Judge) -> None:
    host = replace(
        judge.host(*ADA, driver="580.95.05", packages=(InstalledPackage("torch", "2.9.0+cu128"),)),
        cudnn={"torch": "9.10.2.21", "system": "9.10.2.21"},
    )
    assert judge.run("CA304", host, from_installed(host, judge.facts)) == []


def test_ca304_catches_not_cudnn9_ctranslate2_with_cudnn9_torch(judge: Judge) -> None:
    assert judge("CA304", ["ctranslate2==4.5.0", "torch==2.5.1"], judge.host(*ADA, driver="580.95.05")) == []


def test_ca305_catches_cpu_torch_on_gpu_host(judge: Judge) -> None:
    found = judge("CA305", ["torch==2.9.0+cpu"], judge.host(*ADA, driver="580.95.05"))
    assert found and "download.pytorch.org/whl/cu" in found[0].fix


def test_ca305_catches_windows_pypi_default(judge: Judge) -> None:
    host = judge.host(*ADA, driver="580.95.05")
    host = dataclasses.replace(host, os=dataclasses.replace(host.os, system="Windows"))
    assert judge("CA305", ["torch==2.9.0"], host)


def test_ca305_catches_not_cuda_torch(judge: Judge) -> None:
    assert judge("CA305", ["torch==2.9.0"], judge.host(*ADA, driver="580.95.05")) == []


def test_ca306_catches_python_outside_requires_python(judge: Judge) -> None:
    host = judge.host(*ADA, driver="580.95.05", python="3.14")
    found = judge.run("CA306", host, judge.stack("vllm==0.13.0", host=judge.host(*ADA, driver="580.95.05")))
    assert found and "3.14" in found[0].message


def test_ca306_catches_old_glibc(judge: Judge) -> None:
    host = judge.host(*ADA, driver="580.95.05", python="3.12")
    host = dataclasses.replace(host, os=dataclasses.replace(host.os, glibc="2.17"))
    found = judge("CA306", ["torch==2.9.0"], host)
    assert found and "glibc" in found[0].message


def test_ca306_catches_not_supported_python(judge: Judge) -> None:
    assert judge("CA306", ["vllm==0.13.0"], judge.host(*ADA, driver="580.95.05", python="3.12")) == []


def test_ca307_catches_two_nccl_packages(judge: Judge) -> None:
    found = judge(
        "CA307", ["torch==2.13.0", "nvidia-nccl-cu12==2.29.3"], judge.host(*ADA, driver="580.95.05")
    )
    assert found


def test_ca307_catches_not_torch_alone(judge: Judge) -> None:
    assert judge("CA307", ["torch==2.13.0"], judge.host(*ADA, driver="580.95.05")) == []
