"""onnxruntime-gpu's CUDA provider per release and platform: machine code, PTX only (JIT) or nothing."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
from pathlib import Path

from packaging.specifiers import SpecifierSet

from cudalign.model import Host, Severity

from .conftest import Judge

ROOT = Path(__file__).resolve().parents[2]
RECORD = ROOT / "tests" / "recordings" / "wheels" / "onnxruntime-gpu.json"


def _windows(host: Host) -> Host:
    return dataclasses.replace(host, os=dataclasses.replace(host.os, system="Windows"))


def test_facts_are_what_the_recorded_wheels_give(judge: Judge) -> None:
    spec = importlib.util.spec_from_file_location("wheel_gpu_code", ROOT / "scripts" / "wheel_gpu_code.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    derived = mod.facts_toml(json.loads(RECORD.read_text()), "2026-12-03")
    ids = re.findall(r'^id = "(.+)"$', derived, re.M)
    assert len(ids) >= 10
    for block in derived.split("[[package_build]]")[1:]:
        fid = re.search(r'^id = "(.+)"$', block, re.M)
        assert fid is not None
        fact = judge.facts.get(fid.group(1))
        for key in ("archs", "ptx"):
            want = re.findall(r'"([\d.]+[af]?)"', re.search(rf"^{key} = \[(.*)\]$", block, re.M).group(1))  # type: ignore[union-attr]
            assert [str(c) for c in fact.get(key, ())] == want, (fact.id, key)
        versions = re.search(r'^versions = "(.+)"$', block, re.M)
        assert versions is not None and fact["versions"] == SpecifierSet(versions.group(1)), fact.id


def test_ca201_catches_1_23_0_on_blackwell_its_only_ptx_is_hopper_specific(judge: Judge) -> None:
    for host in (
        judge.host("RTX 5090", driver="580.65.06"),
        _windows(judge.host("RTX 5090", driver="581.57")),
    ):
        found = judge("CA201", ["onnxruntime-gpu==1.23.0"], host)
        assert found and found[0].severity is Severity.ERROR and "sm_120" in found[0].message


def test_ca201_warns_not_fails_where_blackwell_runs_only_through_ptx(judge: Judge) -> None:
    host = judge.host("RTX 5090", driver="580.65.06")
    for version in ("1.20.2", "1.22.0", "1.23.2", "1.26.0"):
        found = judge("CA201", [f"onnxruntime-gpu=={version}"], host)
        assert [f.severity for f in found] == [Severity.WARNING], version
        assert "JIT" in found[0].message and "compute_" in found[0].message, version


def test_ca201_catches_not_machine_code_for_the_gpu(judge: Judge) -> None:
    assert judge("CA201", ["onnxruntime-gpu==1.27.0"], judge.host("RTX 5090", driver="580.65.06")) == []
    assert judge("CA201", ["onnxruntime-gpu==1.31.1"], judge.host("RTX 5090", driver="580.65.06")) == []
    assert judge("CA201", ["onnxruntime-gpu==1.22.0"], judge.host("H100 SXM", driver="580.65.06")) == []
    # Windows 1.22.0 ships sm_89 machine code that the Linux wheel lacks (it has sm_86, which runs on 8.9)
    assert (
        judge("CA201", ["onnxruntime-gpu==1.22.0"], _windows(judge.host("RTX 4090", driver="581.57"))) == []
    )


def test_ca201_catches_b200_on_1_29_which_dropped_sm_100_but_not_on_1_27(judge: Judge) -> None:
    host = judge.host("B200", driver="580.65.06")
    found = judge("CA201", ["onnxruntime-gpu==1.29.0"], host)
    assert found and found[0].severity is Severity.ERROR and "sm_100" in found[0].message
    assert judge("CA201", ["onnxruntime-gpu==1.27.0"], host) == []


def test_ca103_catches_cuda_12_8_ptx_on_a_12_6_driver_and_not_on_the_12_8_driver(judge: Judge) -> None:
    # 1.24's only PTX is PTX ISA 8.7 (CUDA 12.8): an older driver cannot JIT it for sm_120
    found = judge("CA103", ["onnxruntime-gpu==1.24.1"], judge.host("RTX 5090", driver="560.35.03"))
    assert found and found[0].severity is Severity.ERROR and "12.8" in found[0].message
    assert judge("CA103", ["onnxruntime-gpu==1.24.1"], judge.host("RTX 5090", driver="570.124.06")) == []
    # an H100 has sm_90a machine code: no JIT, so no such need
    assert judge("CA103", ["onnxruntime-gpu==1.24.1"], judge.host("H100 SXM", driver="560.35.03")) == []


def test_ca201_catches_blackwell_ultra_on_arch_specific_sm_100a_and_not_b200(judge: Judge) -> None:
    # 1.27/1.28 ship sm_100a and sm_120a (exactly 10.0 and 12.0) and compute_120 PTX (JIT to 12.x and newer):
    # nothing runs on a B300 (10.3); a B200 and an RTX 5090 run machine code; a GB10 (12.1) only the PTX
    for version in ("1.27.0", "1.28.0"):
        found = judge("CA201", [f"onnxruntime-gpu=={version}"], judge.host("B300", driver="580.65.06"))
        assert [f.severity for f in found] == [Severity.ERROR], version
        assert "sm_103" in found[0].message and "sm_100a: architecture-specific" in found[0].message, version
        for ok in ("B200", "RTX 5090"):
            assert judge("CA201", [f"onnxruntime-gpu=={version}"], judge.host(ok, driver="580.65.06")) == []
        # capability 12.1 on the x86_64 wheel's code (a GB10 host itself is aarch64, where 1.27/1.28 have no
        # wheel: CA306)
        spark = judge("CA201", [f"onnxruntime-gpu=={version}"], judge.host("sm_121", driver="580.95.05"))
        assert [f.severity for f in spark] == [Severity.WARNING] and "compute_120" in spark[0].message


def test_ca201_catches_gb10_and_b300_on_1_29_which_has_only_sm_120a_and_no_ptx(judge: Judge) -> None:
    for gpu in ("sm_121", "B300", "B200"):  # sm_121: GB10's capability on the x86_64 wheel's code
        found = judge("CA201", ["onnxruntime-gpu==1.29.0"], judge.host(gpu, driver="580.95.05"))
        assert [f.severity for f in found] == [Severity.ERROR], gpu
    assert judge("CA201", ["onnxruntime-gpu==1.29.0"], judge.host("RTX 5090", driver="580.95.05")) == []


def test_ca201_catches_not_hopper_on_its_sm_90a_only_machine_code(judge: Judge) -> None:
    # 1.23.0 has sm_90a machine code and compute_90a PTX only: every 9.0 GPU runs it, nothing newer
    for gpu in ("H100 SXM", "H20", "H200"):
        for version in ("1.23.0", "1.24.1", "1.29.0"):
            assert (
                judge("CA201", [f"onnxruntime-gpu=={version}"], judge.host(gpu, driver="580.65.06")) == []
            ), (
                gpu,
                version,
            )
    found = judge("CA201", ["onnxruntime-gpu==1.23.0"], judge.host("B200", driver="580.65.06"))
    assert found and found[0].severity is Severity.ERROR and "PTX compute_90a" in found[0].message
