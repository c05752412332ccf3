"""CUDA 10.x: each release needs its own toolkit driver (no minor-version compatibility before 11)."""

from __future__ import annotations

from packaging.version import Version

from cudalign.facts import query as q
from cudalign.model import Severity

from .conftest import Judge


def test_toolkit_table_has_the_10_x_rows_nvidia_lists(judge: Judge) -> None:
    for cuda, linux, windows in (
        ("10.0", "410.48", "411.31"),
        ("10.1", "418.39", "418.96"),
        ("10.2", "440.33", "441.22"),
    ):
        assert q.min_driver_for_cuda(judge.facts, cuda).value == Version(linux), cuda
        assert q.min_driver_for_cuda(judge.facts, cuda, "windows").value == Version(windows), cuda
    # 10.1 Update 2 (10.1.243) is covered by the 10.1 row ('general release, and updates')
    assert q.min_driver_for_cuda(judge.facts, "10.1.243").value == Version("418.39")


def test_ca101_catches_torch_1_10_cu102_on_a_cuda_10_1_driver(judge: Judge) -> None:
    found = judge("CA101", ["torch==1.10.2+cu102"], judge.host("T4", driver="418.67"))
    assert found and found[0].severity is Severity.ERROR and not found[0].unknown
    assert "440.33" in found[0].message and "no minor-version compatibility" in found[0].message
    assert judge("CA102", ["torch==1.10.2+cu102"], judge.host("T4", driver="418.67")) == []


def test_ca101_catches_not_torch_1_10_cu102_on_its_own_driver_or_newer(judge: Judge) -> None:
    for driver in ("440.33.01", "470.57.02", "580.95.05"):
        host = judge.host("T4", driver=driver)
        assert judge("CA101", ["torch==1.10.2+cu102"], host) == [], driver
        assert judge("CA102", ["torch==1.10.2+cu102"], host) == [], driver


def test_torch_1_10_pypi_cu102_is_judged_not_unknown(judge: Judge) -> None:
    host = judge.host("T4", driver="450.80.02")
    for code in ("CA101", "CA102", "CA201", "CA202"):
        assert all(not f.unknown for f in judge(code, ["torch==1.10.2"], host)), code
