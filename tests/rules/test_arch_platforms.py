"""Architecture lists per platform: aarch64 (sbsa) and Windows builds differ from Linux x86_64."""

from __future__ import annotations

from cudalign.hosts import describe_host
from cudalign.model import Host, Severity

from .conftest import Judge


def _aarch64(judge: Judge, gpu: str, driver: str = "580.95.05") -> Host:
    return describe_host(judge.facts, gpus=(gpu,), driver=driver, arch="aarch64")


def test_ca201_catches_not_gh200_and_gb200_on_aarch64_cu128(judge: Judge) -> None:
    for gpu, torch in (("GH200", "torch==2.8.0+cu128"), ("GB200", "torch==2.9.1+cu128")):
        host = _aarch64(judge, gpu)
        assert host.os.arch == "aarch64"
        stack = judge.stack(torch, host=host)
        assert stack.archs and not stack.unknown.get("archs"), gpu
        assert judge("CA201", [torch], host) == [], gpu


def test_ca201_catches_turing_on_aarch64_cu128_which_starts_at_sm_80(judge: Judge) -> None:
    host = _aarch64(judge, "Tesla T4")
    found = judge("CA201", ["torch==2.9.1+cu128"], host) + judge("CA202", ["torch==2.9.1+cu128"], host)
    assert found and found[0].severity is Severity.ERROR and not found[0].unknown
    assert "sm_75" in found[0].message


def test_aarch64_and_x86_64_cu128_lists_differ(judge: Judge) -> None:
    x86 = judge.stack("torch==2.9.1+cu128", host=judge.host("T4", driver="580.95.05"))
    arm = judge.stack("torch==2.9.1+cu128", host=_aarch64(judge, "Tesla T4"))
    assert "7.5" in {str(cc) for cc in x86.archs} and "7.5" not in {str(cc) for cc in arm.archs}


def test_ca201_catches_not_dgx_spark_on_aarch64_cu130(judge: Judge) -> None:
    host = _aarch64(judge, "NVIDIA GB10")
    assert judge("CA201", ["torch==2.10.0+cu130"], host) == []


def test_ca201_catches_not_pascal_on_windows_torch_2_0_cu117(judge: Judge) -> None:
    import dataclasses

    host = judge.host("GTX 1050 Ti", driver="535.98")
    host = dataclasses.replace(host, os=dataclasses.replace(host.os, system="Windows"))
    stack = judge.stack("torch==2.0.1+cu117", host=host)
    assert "6.1" in {str(cc) for cc in stack.archs}
    assert judge.run("CA201", host, stack) == []


def test_ca201_catches_ampere_on_torch_1_10_pypi_cu102(judge: Judge) -> None:
    found = judge("CA201", ["torch==1.10.1"], judge.host("A100-SXM4-80GB", driver="470.57.02"))
    assert found and found[0].severity is Severity.ERROR and "sm_80" in found[0].message
    assert judge("CA201", ["torch==1.10.1+cu111"], judge.host("A100-SXM4-80GB", driver="470.57.02")) == []
