"""Architecture rules: code for the GPU in each build, architectures dropped, features by capability."""

from __future__ import annotations

from cudalign.model import Severity

from .conftest import Judge


def test_ca201_catches_blackwell_on_cu124_torch(judge: Judge) -> None:
    found = judge("CA201", ["torch==2.6.0+cu124"], judge.host("RTX 5090", driver="570.133.07"))
    assert found and found[0].severity is Severity.ERROR and "sm_120" in found[0].message


def test_ca201_catches_not_blackwell_on_cu128_torch(judge: Judge) -> None:
    assert judge("CA201", ["torch==2.7.0+cu128"], judge.host("RTX 5090", driver="570.133.07")) == []


def test_ca201_says_unknown_without_gpu(judge: Judge) -> None:
    found = judge("CA201", ["torch==2.9.0"], judge.host(driver="570.133.07"))
    assert found and found[0].unknown == "host GPUs (--gpu)"


def test_ca202_catches_volta_dropped_from_torch_2_11_cu128(judge: Judge) -> None:
    found = judge("CA202", ["torch==2.11.0+cu128"], judge.host("V100", driver="570.133.07"))
    assert found and "sm_70" in found[0].message


def test_ca202_catches_volta_with_cuda13(judge: Judge) -> None:
    found = judge("CA202", ["vllm==0.20.0"], judge.host("V100", driver="580.95.05"))
    assert found and any("7.5" in f.message or "CUDA 13" in f.message for f in found)


def test_ca202_catches_not_volta_on_torch_2_10_cu128(judge: Judge) -> None:
    assert judge("CA202", ["torch==2.10.0+cu128"], judge.host("V100", driver="570.133.07")) == []


def test_ca203_catches_bf16_on_t4(judge: Judge) -> None:
    found = judge("CA203", ["torch==2.9.0"], judge.host("T4", driver="570.133.07"), features=["bf16"])
    assert [f.severity for f in found] == [Severity.ERROR]


def test_ca203_catches_not_bf16_on_a10(judge: Judge) -> None:
    assert judge("CA203", ["torch==2.9.0"], judge.host("A10", driver="570.133.07"), features=["bf16"]) == []


def test_ca203_unknown_feature_is_unknown(judge: Judge) -> None:
    found = judge("CA203", ["torch==2.9.0"], judge.host("A10", driver="570.133.07"), features=["warp-drive"])
    assert found and found[0].unknown
