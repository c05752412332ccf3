"""torch 1.6 to 1.9: PyPI's Linux x86_64 wheel is the CUDA 10.2 build (its torch/version.py says so), the
Windows one is CPU-only; the driver rule judges the default wheel on that."""

from __future__ import annotations

import pytest

from cudalign.hosts import describe_host
from cudalign.model import Severity

from .conftest import Judge


@pytest.mark.parametrize("version", ["1.6.0", "1.7.1", "1.8.1", "1.9.1"])
def test_pypi_wheel_of_1_6_to_1_9_is_cu102_on_linux(judge: Judge, version: str) -> None:
    stack = judge.stack(f"torch=={version}", host=judge.host(driver="440.33.01"))
    torch = next(c for c in stack.components if c.name == "torch")
    assert torch.variant == "cu102"


def test_ca101_catches_driver_435_under_pypi_torch_1_7_1(judge: Judge) -> None:
    found = judge("CA101", ["torch==1.7.1"], judge.host(driver="435.21"))
    assert found and found[0].severity is Severity.ERROR and not found[0].unknown
    assert "10.2" in found[0].message and "440.33" in found[0].message


def test_ca101_catches_not_driver_440_or_the_cu101_build(judge: Judge) -> None:
    assert judge("CA101", ["torch==1.7.1"], judge.host(driver="440.33.01")) == []
    assert judge("CA101", ["torch==1.7.1+cu101"], judge.host(driver="435.21")) == []


def test_windows_pypi_wheel_of_1_7_is_cpu(judge: Judge) -> None:
    host = describe_host(judge.facts, driver="436.02", os="windows")
    torch = next(c for c in judge.stack("torch==1.7.1", host=host).components if c.name == "torch")
    assert torch.variant == "cpu"
