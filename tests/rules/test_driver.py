"""Driver rules: each catches its case and stays quiet on the neighbouring case that works."""

from __future__ import annotations

import dataclasses

from cudalign.model import Severity

from .conftest import Judge


def test_ca101_catches_cuda13_torch_on_r575(judge: Judge) -> None:
    found = judge("CA101", ["torch==2.11.0"], judge.host("H100", driver="575.57.08"))
    assert [f.severity for f in found] == [Severity.ERROR]
    assert "580.65.06" in found[0].message and found[0].facts


def test_ca101_catches_not_cuda13_torch_on_r580(judge: Judge) -> None:
    assert judge("CA101", ["torch==2.11.0"], judge.host("H100", driver="580.95.05")) == []


def test_ca101_catches_gpu_newer_than_driver(judge: Judge) -> None:
    found = judge("CA101", ["torch==2.7.0+cu128"], judge.host("RTX 5090", driver="560.35.03"))
    assert any("RTX 5090" in f.message for f in found)


def test_ca102_catches_cu128_on_r550_as_a_caveat(judge: Judge) -> None:
    found = judge("CA102", ["torch==2.9.0"], judge.host("RTX 6000 Ada", driver="550.107.02"))
    assert [f.severity for f in found] == [Severity.WARNING]
    assert "570.26" in found[0].fix


def test_ca102_catches_not_cu128_on_r570(judge: Judge) -> None:
    assert judge("CA102", ["torch==2.9.0"], judge.host("RTX 6000 Ada", driver="570.133.07")) == []


def test_ca103_catches_fa2_ptx_on_hopper_with_r550(judge: Judge) -> None:
    found = judge("CA103", ["vllm==0.11.2"], judge.host("H100 PCIe", driver="550.144.03"))
    assert found and all(f.severity is Severity.ERROR for f in found)
    assert any(r.id == "vllm.kernel.fa2" for f in found for r in f.facts)


def test_ca103_catches_not_on_ada_where_sm80_code_runs(judge: Judge) -> None:
    assert judge("CA103", ["vllm==0.11.2"], judge.host("RTX 6000 Ada", driver="550.144.03")) == []


def test_ca104_catches_probed_host_without_driver(judge: Judge) -> None:
    host = judge.host("H100", origin="probe", unknown={"driver": "libcuda.so.1 not found"})
    found = judge("CA104", ["torch==2.9.0"], host)
    assert [f.severity for f in found] == [Severity.ERROR] and "libcuda" in found[0].message


def test_ca104_described_host_without_driver_is_a_condition(judge: Judge) -> None:
    found = judge("CA104", ["torch==2.9.0"], judge.host("H100"))
    assert len(found) == 1 and found[0].severity is Severity.WARNING and not found[0].unknown
    cond = found[0].condition
    assert cond is not None and cond.minimum == "525.60.13" and cond.full == "570.26"
    assert "R580" in cond.branches and "R570" not in cond.branches  # R570 is end-of-life


def test_ca104_condition_includes_ptx_jit_of_the_gpu(judge: Judge) -> None:
    found = judge("CA104", ["vllm==0.13.0"], judge.host("RTX 5090"))
    cond = found[0].condition
    assert cond is not None and cond.minimum == "575.51.03"  # the FA2 kernel's CUDA 12.9 PTX on sm_120


def test_ca104_without_driver_fails_when_no_branch_runs_it(judge: Judge) -> None:
    """An image whose NVIDIA_REQUIRE_CUDA no known branch meets on a GPU: no driver makes it run."""
    import dataclasses

    host = judge.host("RTX 4090")
    stack = judge.stack("torch==2.9.0", host=host)
    stack = dataclasses.replace(stack, image="example/never:1", image_cuda="99.0", image_require="cuda>=99.0")
    found = judge.run("CA104", host, stack)
    assert [f.severity for f in found] == [Severity.ERROR] and "No driver branch runs" in found[0].message
    assert judge("CA104", ["torch==2.9.0"], judge.host("RTX 5090"))[0].condition is not None


def test_ca104_catches_not_with_driver(judge: Judge) -> None:
    assert judge("CA104", ["torch==2.9.0"], judge.host("H100", driver="580.95.05")) == []


def test_ca105_catches_nvml_mismatch(judge: Judge) -> None:
    host = judge.host("A100", driver="550.90.07")
    assert host.driver is not None
    host = dataclasses.replace(host, driver=dataclasses.replace(host.driver, nvml_mismatch=True))
    assert len(judge("CA105", ["torch==2.9.0"], host)) == 1


def test_ca105_catches_not_without_mismatch(judge: Judge) -> None:
    assert judge("CA105", ["torch==2.9.0"], judge.host("A100", driver="550.90.07")) == []
