"""Runtime rules: libraries nothing provides, NVSwitch without Fabric Manager."""

from __future__ import annotations

from cudalign.model import Severity

from .conftest import Judge


def test_ca501_catches_ctranslate2_without_cuda_libraries_on_a_probed_host(judge: Judge) -> None:
    host = judge.host("RTX 4090", driver="570.133.07", origin="probe")
    found = judge("CA501", ["ctranslate2==4.6.0"], host)
    assert [f.severity for f in found] == [Severity.ERROR]


def test_ca501_is_a_caveat_on_a_described_host(judge: Judge) -> None:
    found = judge("CA501", ["ctranslate2==4.6.0"], judge.host("RTX 4090", driver="570.133.07"))
    assert [f.severity for f in found] == [Severity.WARNING]


def test_ca501_catches_not_next_to_cuda12_torch(judge: Judge) -> None:
    assert (
        judge("CA501", ["ctranslate2==4.6.0", "torch==2.9.0"], judge.host("RTX 4090", driver="570.133.07"))
        == []
    )


def test_ca502_catches_nvswitch_without_fabric_manager(judge: Judge) -> None:
    host = judge.host("H100", "H100", driver="580.95.05", nvswitch=True, fabric_manager="not-started")
    assert judge("CA502", ["torch==2.9.0"], host)


def test_ca502_catches_not_running_fabric_manager(judge: Judge) -> None:
    host = judge.host("H100", "H100", driver="580.95.05", nvswitch=True, fabric_manager="running")
    assert judge("CA502", ["torch==2.9.0"], host) == []
