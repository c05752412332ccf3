"""Architecture rules: code for the GPU in each build, architectures dropped, features by capability."""

from __future__ import annotations

from cudalign.model import Severity

from .conftest import Judge


def test_ca201_catches_blackwell_on_cu124_torch(judge: Judge) -> None:
    found = judge("CA201", ["torch==2.6.0+cu124"], judge.host("RTX 5090", driver="570.133.07"))
    assert found and found[0].severity is Severity.ERROR and "sm_120" in found[0].message


def test_ca201_catches_not_blackwell_on_cu128_torch(judge: Judge) -> None:
    assert judge("CA201", ["torch==2.7.0+cu128"], judge.host("RTX 5090", driver="570.133.07")) == []


def test_ca201_without_gpu_is_a_condition_naming_the_architectures(judge: Judge) -> None:
    found = judge("CA201", ["torch==2.9.0"], judge.host(driver="570.133.07"))
    assert len(found) == 1 and found[0].condition is not None and not found[0].unknown
    archs = {str(cc) for cc in found[0].condition.archs}
    assert {"7.0", "7.5", "8.6", "9.0", "12.0"} <= archs and "6.1" not in archs
    assert "sm_70" in found[0].message


def test_ca201_without_gpu_excludes_gpus_the_driver_cannot_jit_for(judge: Judge) -> None:
    found = judge("CA201", ["vllm==0.13.0"], judge.host(driver="570.133.07"))
    assert found and found[0].condition is not None
    archs = {str(cc) for cc in found[0].condition.archs}
    assert "8.6" in archs and "12.0" not in archs and "9.0" not in archs
    on_580 = judge("CA201", ["vllm==0.13.0"], judge.host(driver="580.65.06"))[0].condition
    assert on_580 is not None and "12.0" in {str(cc) for cc in on_580.archs}


def test_ca201_without_gpu_fails_when_no_gpu_runs_it(judge: Judge) -> None:
    import dataclasses

    from cudalign.model import ComputeCapability

    host = judge.host(driver="580.65.06")
    stack = dataclasses.replace(
        judge.stack("torch==2.9.0", host=host), archs=(ComputeCapability(1, 0),), ptx=()
    )
    found = judge.run("CA201", host, stack)
    assert [f.severity for f in found] == [Severity.ERROR] and found[0].condition is None


def test_ca201_without_gpu_feature_narrows_the_range(judge: Judge) -> None:
    found = judge("CA201", ["torch==2.9.0"], judge.host(driver="580.65.06"), features=["bf16"])
    assert found and found[0].condition is not None
    archs = {str(cc) for cc in found[0].condition.archs}
    assert "8.0" in archs and "9.0" in archs and "7.5" not in archs


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
