"""Windows (win_amd64) torch builds: their architecture lists come from PyTorch's Windows build scripts
and release tables, and differ from the Linux ones (6.1 and compute_37 PTX in older releases, no PTX
in CUDA 13 builds)."""

from __future__ import annotations

import dataclasses

from cudalign.hosts import describe_host
from cudalign.model import Host, Severity

from .conftest import Judge


def _windows(judge: Judge, gpu: str, driver: str = "581.57") -> Host:
    return describe_host(judge.facts, gpus=(gpu,), driver=driver, os="windows")


def test_windows_host_is_judged_on_the_windows_build(judge: Judge) -> None:
    stack = judge.stack("torch==2.3.1+cu121", host=_windows(judge, "RTX 4090"))
    assert not stack.unknown.get("archs")
    assert "6.1" in {str(cc) for cc in stack.archs} and not stack.ptx
    assert any(r.id == "torch.build.2.1-2.5.cu121.windows" for r in stack.facts)


def test_ca201_catches_blackwell_on_windows_torch_2_3_cu121(judge: Judge) -> None:
    found = judge("CA201", ["torch==2.3.1+cu121"], _windows(judge, "RTX 5080"))
    assert found and found[0].severity is Severity.ERROR and not found[0].unknown
    assert "sm_120" in found[0].message


def test_ca201_catches_not_ada_and_pascal_on_windows_torch_2_3_cu121(judge: Judge) -> None:
    for gpu in ("RTX 4090", "GTX 1080"):
        assert judge("CA201", ["torch==2.3.1+cu121"], _windows(judge, gpu)) == [], gpu


def test_ca201_catches_not_kepler_k80_on_windows_cu118_through_its_ptx(judge: Judge) -> None:
    stack = judge.stack("torch==2.4.1+cu118", host=_windows(judge, "RTX 4090"))
    assert {str(cc) for cc in stack.ptx} == {"3.7"}


def test_windows_cu130_has_no_ptx_and_starts_at_turing(judge: Judge) -> None:
    host = _windows(judge, "Tesla V100-PCIE-32GB")
    stack = judge.stack("torch==2.12.0+cu130", host=host)
    assert not stack.unknown.get("archs") and not stack.ptx
    found = judge.run("CA201", host, stack) + judge.run("CA202", host, stack)
    assert found and found[0].severity is Severity.ERROR and "sm_70" in found[0].message
    assert judge("CA201", ["torch==2.12.0+cu130"], _windows(judge, "RTX 5090")) == []


def test_windows_cu129_of_2_8_stays_unknown_without_a_release_source(judge: Judge) -> None:
    stack = judge.stack("torch==2.8.0+cu129", host=_windows(judge, "RTX 5090"))
    assert stack.unknown.get("archs") and "windows" in stack.unknown["archs"]


def test_linux_lists_are_not_taken_for_windows(judge: Judge) -> None:
    linux = judge.host("RTX 4090", driver="580.95.05")
    win = dataclasses.replace(linux, os=dataclasses.replace(linux.os, system="Windows"))
    lin_stack, win_stack = (
        judge.stack("torch==2.3.1+cu121", host=linux),
        judge.stack("torch==2.3.1+cu121", host=win),
    )
    assert "6.1" not in {str(cc) for cc in lin_stack.archs} and "6.1" in {str(cc) for cc in win_stack.archs}
