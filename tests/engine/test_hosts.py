"""Described hosts: the driver's CUDA comes from the facts, GPUs from names, aliases or sm_XY."""

from __future__ import annotations

import pytest

from cudalign.errors import InvalidInput, UnknownGpu
from cudalign.facts import load
from cudalign.hosts import describe_host
from cudalign.model import ComputeCapability


@pytest.mark.parametrize(
    ("driver", "cuda"),
    [("550.107.02", "12.4"), ("570.133.07", "12.8"), ("580.95.05", "13.0"), ("470.256.02", "11.4")],
)
def test_described_driver_gets_the_highest_cuda_it_supports(driver: str, cuda: str) -> None:
    host = describe_host(load(), gpus=["H100"], driver=driver)
    assert host.driver is not None and host.driver.cuda == cuda and host.driver.source == "described"


def test_gpu_by_alias_and_by_capability() -> None:
    host = describe_host(load(), gpus=["RTX 6000 Ada", "sm_120"], driver="580.95.05")
    assert host.gpus[0].cc == ComputeCapability(8, 9) and host.gpus[0].fact_id
    assert host.gpus[1].cc == ComputeCapability(12, 0) and host.gpus[1].fact_id is None


def test_no_driver_is_recorded_as_unknown() -> None:
    host = describe_host(load(), gpus=["H100"])
    assert host.driver is None and "driver" in host.unknown


def test_bad_inputs() -> None:
    with pytest.raises(UnknownGpu):
        describe_host(load(), gpus=["Voodoo 5"])
    with pytest.raises(InvalidInput):
        describe_host(load(), driver="five-fifty")
