"""Neighbouring packages: flash-attn's wheel labels against torch (series, C++ ABI, CUDA major), torch's
C++ ABI per release and platform, xformers' exact torch pins, ctranslate2 and onnxruntime-gpu CUDA/cuDNN
majors."""

from __future__ import annotations

import dataclasses

import pytest

from cudalign.facts import Facts
from cudalign.model import Severity
from cudalign.rules.neighbours import parse_label, torch_cxx11abi

from .conftest import Judge

A100 = ("A100",)
DRIVER = "580.95.05"
RELEASES = "https://github.com/Dao-AILab/flash-attention/releases/download"


def _fa(version: str, label: str, py: str = "cp311") -> str:
    """A direct-URL requirement on a flash-attn wheel from its GitHub releases, as users pin them."""
    return f"flash-attn @ {RELEASES}/v{version}/flash_attn-{version}+{label}-{py}-{py}-linux_x86_64.whl"


# ---- the label ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cuda", "major", "torch", "abi"),
    [
        ("cu12torch2.5cxx11abiFALSE", "12", 12, (2, 5), False),
        ("cu118torch2.0cxx11abiTRUE", "11.8", 11, (2, 0), True),
        ("cu122torch2.1cxx11abifalse", "12.2", 12, (2, 1), False),
        ("cu13torch2.9cxx11abiTRUE", "13", 13, (2, 9), True),
    ],
)
def test_label_parses_cuda_torch_and_abi(
    text: str, cuda: str, major: int, torch: tuple[int, int], abi: bool
) -> None:
    lab = parse_label(text)
    assert lab is not None
    assert (lab.cuda, lab.cuda_major, lab.torch, lab.cxx11abi) == (cuda, major, torch, abi)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "cu124",
        "cpu",
        "cu12torch2.5",
        "torch2.5cxx11abiTRUE",
        "cu12torch2.5cxx11abiMAYBE",
        "x" * 5000,
    ],
)
def test_label_rejects_other_local_labels(text: str | None) -> None:
    assert parse_label(text) is None


# ---- torch's C++ ABI ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "variant", "platform", "abi"),
    [
        ("2.5.1", "cu124", "linux_x86_64", False),
        ("2.6.0", "cu124", "linux_x86_64", False),
        ("2.6.0", "cu118", "linux_x86_64", False),
        ("2.6.0", "cu126", "linux_x86_64", True),
        ("2.7.1", "cu126", "linux_x86_64", True),
        ("2.9.0", "cu130", "linux_x86_64", True),
        ("2.8.0", "cu128", "linux_aarch64", True),
        ("2.5.1", "cu124", "linux_aarch64", None),
        ("2.6.0", "cu126", "linux_aarch64", None),
        ("2.6.0", "cu999", "linux_x86_64", None),
    ],
)
def test_torch_abi_per_release_platform_and_variant(
    facts: Facts, version: str, variant: str, platform: str, abi: bool | None
) -> None:
    answer = torch_cxx11abi(facts, version, variant, platform)
    assert answer.value is abi
    if abi is not None:
        assert answer.facts and all(f.source.startswith("https://github.com/") for f in answer.facts)


# ---- CA302: torch series and C++ ABI -----------------------------------------------------------------


def test_ca302_catches_a_flash_attn_wheel_for_another_torch_series(judge: Judge) -> None:
    found = judge(
        "CA302",
        [_fa("2.7.4.post1", "cu12torch2.5cxx11abiFALSE"), "torch==2.6.0"],
        judge.host(*A100, driver=DRIVER),
    )
    assert len(found) == 1
    assert "built for torch 2.5" in found[0].message and "torch 2.6.0" in found[0].message
    assert "cu12torch2.6cxx11abiFALSE" in found[0].fix
    assert found[0].severity is Severity.ERROR


def test_ca302_catches_a_new_abi_wheel_next_to_the_pypi_torch_2_6(judge: Judge) -> None:
    found = judge(
        "CA302",
        [_fa("2.8.0.post2", "cu12torch2.6cxx11abiTRUE"), "torch==2.6.0"],
        judge.host(*A100, driver=DRIVER),
    )
    assert len(found) == 1
    assert "old pre-C++11 ABI" in found[0].message and "undefined symbol" in found[0].message
    assert "cu12torch2.6cxx11abiFALSE" in found[0].fix
    assert "torch_abi.linux_x86_64.2.6.old" in [f.id for f in found[0].facts]


def test_ca302_catches_an_old_abi_wheel_next_to_torch_2_7(judge: Judge) -> None:
    found = judge(
        "CA302",
        ["flash-attn==2.7.4.post1+cu12torch2.7cxx11abiFALSE", "torch==2.7.1"],
        judge.host(*A100, driver=DRIVER),
    )
    assert len(found) == 1
    assert "new C++11 ABI" in found[0].message
    assert "cu12torch2.7cxx11abiTRUE" in found[0].fix


@pytest.mark.parametrize(
    "requirements",
    [
        [_fa("2.7.4.post1", "cu12torch2.6cxx11abiFALSE"), "torch==2.6.0"],
        [_fa("2.7.4.post1", "cu12torch2.6cxx11abiTRUE"), "torch==2.6.0+cu126"],
        [_fa("2.8.3", "cu12torch2.7cxx11abiTRUE"), "torch==2.7.1"],
        [_fa("2.8.3", "cu12torch2.8cxx11abiTRUE"), "torch==2.8.0"],
        ["flash-attn==2.7.4.post1", "torch==2.6.0"],  # no label: the sdist builds against the torch present
    ],
)
def test_ca302_catches_not_a_matching_flash_attn_wheel(judge: Judge, requirements: list[str]) -> None:
    assert judge("CA302", requirements, judge.host(*A100, driver=DRIVER)) == []


def test_ca302_says_unknown_where_no_fact_gives_torch_abi(judge: Judge) -> None:
    host = judge.host(*A100, driver=DRIVER)
    host = dataclasses.replace(host, os=dataclasses.replace(host.os, arch="aarch64"))
    stack = judge.stack("flash-attn==2.7.4.post1+cu12torch2.5cxx11abiFALSE", "torch==2.5.1", host=host)
    found = [f for f in judge.run("CA302", host, stack) if f.unknown]
    assert len(found) == 1
    assert found[0].severity is Severity.INFO
    assert "C++ ABI of torch 2.5.1" in (found[0].unknown or "") and "linux_aarch64" in (
        found[0].unknown or ""
    )


# ---- CA303: CUDA major of the label ------------------------------------------------------------------


def test_ca303_catches_a_cuda_11_flash_attn_wheel_next_to_a_cuda_12_torch(judge: Judge) -> None:
    found = judge(
        "CA303",
        [_fa("2.5.8", "cu118torch2.3cxx11abiFALSE"), "torch==2.3.1"],
        judge.host(*A100, driver=DRIVER),
    )
    assert len(found) == 1
    assert "CUDA 11.8" in found[0].message and "libcudart.so.11" in found[0].message


def test_ca303_catches_not_a_flash_attn_wheel_of_torch_s_cuda_major(judge: Judge) -> None:
    reqs = [_fa("2.5.8", "cu122torch2.3cxx11abiFALSE"), "torch==2.3.1"]
    assert judge("CA303", reqs, judge.host(*A100, driver=DRIVER)) == []
    reqs = [_fa("2.5.8", "cu118torch2.3cxx11abiFALSE"), "torch==2.3.1+cu118"]
    assert judge("CA303", reqs, judge.host(*A100, driver=DRIVER)) == []


# ---- xformers' exact torch pins (derived from the PyPI snapshot) -------------------------------------


def test_xformers_torch_pins_come_from_the_snapshot(facts: Facts) -> None:
    from cudalign.facts.derive import environment, exact_pin, metadata_for

    pins = {}
    for version in ("0.0.27.post2", "0.0.28.post3", "0.0.29.post3"):
        rel = facts.snapshot.release("xformers", version)
        assert rel is not None
        meta = metadata_for(rel, "linux_x86_64")
        assert meta is not None
        pins[version] = str(exact_pin(meta.requires_dist, "torch", environment=environment("linux_x86_64")))
    assert pins == {"0.0.27.post2": "2.4.0", "0.0.28.post3": "2.5.1", "0.0.29.post3": "2.6.0"}


def test_ca302_catches_xformers_pinned_to_another_torch(judge: Judge) -> None:
    found = judge("CA302", ["xformers==0.0.28.post3", "torch==2.6.0"], judge.host(*A100, driver=DRIVER))
    assert found and "built for torch 2.5.1" in found[0].message


def test_ca302_catches_not_xformers_with_the_torch_it_pins(judge: Judge) -> None:
    assert judge("CA302", ["xformers==0.0.28.post3", "torch==2.5.1"], judge.host(*A100, driver=DRIVER)) == []


# ---- ctranslate2 (faster-whisper) and onnxruntime-gpu next to torch's cuDNN ---------------------------


@pytest.mark.parametrize(
    ("version", "cudnn_error"),
    [
        ("3.24.0", True),
        ("4.0.0", True),
        ("4.4.0", True),
        ("4.5.0", False),
        ("4.6.0", False),
        ("4.6.3", False),
    ],
)
def test_ca304_ctranslate2_per_release_against_torch_cudnn9(
    judge: Judge, version: str, cudnn_error: bool
) -> None:
    found = judge("CA304", [f"ctranslate2=={version}", "torch==2.5.1"], judge.host(*A100, driver=DRIVER))
    assert any("needs cuDNN 8" in f.message for f in found) is cudnn_error


def test_ca304_catches_faster_whisper_with_cudnn8_ctranslate2_next_to_torch(judge: Judge) -> None:
    found = judge(
        "CA304",
        ["faster-whisper==1.1.1", "ctranslate2==4.4.0", "torch==2.5.1"],
        judge.host(*A100, driver=DRIVER),
    )
    assert any("ctranslate2 4.4.0 needs cuDNN 8" in f.message for f in found)


def test_ca304_catches_not_cudnn8_ctranslate2_next_to_a_cudnn8_torch(judge: Judge) -> None:
    # torch 2.1 pins nvidia-cudnn-cu12 8.9: ctranslate2 4.4.0's cuDNN 8 is the same major
    assert judge("CA304", ["ctranslate2==4.4.0", "torch==2.1.2"], judge.host(*A100, driver=DRIVER)) == []


@pytest.mark.parametrize(
    ("requirements", "code", "caught"),
    [
        (["onnxruntime-gpu==1.18.0", "torch==2.5.1"], "CA303", True),  # CUDA 11 build, CUDA 12 torch
        (["onnxruntime-gpu==1.18.0", "torch==2.5.1"], "CA304", True),  # cuDNN 8 against torch's 9
        (["onnxruntime-gpu==1.19.0", "torch==2.5.1"], "CA303", False),
        (["onnxruntime-gpu==1.19.0", "torch==2.5.1"], "CA304", False),
        (["onnxruntime-gpu==1.27.0", "torch==2.8.0"], "CA303", True),  # CUDA 13 build, CUDA 12.8 torch
        (["onnxruntime-gpu==1.27.0", "torch==2.9.0+cu130"], "CA303", False),
    ],
)
def test_onnxruntime_gpu_cuda_and_cudnn_major_per_release(
    judge: Judge, requirements: list[str], code: str, caught: bool
) -> None:
    assert bool(judge(code, requirements, judge.host(*A100, driver=DRIVER))) is caught


# ---- sglang: sglang-kernel replaced sgl-kernel, and recent releases bring CUDA 13 ---------------------


def test_recent_sglang_resolves_sglang_kernel_and_a_cuda_13_torch(judge: Judge, facts: Facts) -> None:
    from cudalign.facts import query

    stack = judge.stack("sglang==0.5.23", host=judge.host("H100", driver="580.95.05", python="3.12"))
    names = [c.name for c in stack.components]
    assert "sglang-kernel" in names and "sgl-kernel" not in names
    assert stack.cuda_runtime is not None and stack.cuda_runtime.startswith("13.")
    assert query.package_flag(facts, "sglang-kernel", "pins_torch")


def test_ca101_catches_recent_sglang_on_an_r570_driver(judge: Judge) -> None:
    found = judge("CA101", ["sglang==0.5.23"], judge.host("H100", driver="570.86.15", python="3.12"))
    assert found and "CUDA 13" in found[0].message


def test_ca101_catches_not_recent_sglang_on_r580_nor_an_older_sglang_on_r570(judge: Judge) -> None:
    assert judge("CA101", ["sglang==0.5.23"], judge.host("H100", driver="580.95.05", python="3.12")) == []
    older = judge.stack("sglang==0.5.3", host=judge.host("H100", driver="570.86.15", python="3.11"))
    assert "sgl-kernel" in [c.name for c in older.components]
    assert judge("CA101", ["sglang==0.5.3"], judge.host("H100", driver="570.86.15", python="3.11")) == []
