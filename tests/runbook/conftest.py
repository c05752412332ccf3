"""Hosts the runbook tests describe: one per distribution family, built from the knowledge base."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cudalign.facts import Facts, load
from cudalign.hosts import describe_host
from cudalign.model import DriverInfo, Host

__all__ = ["CASES", "facts", "make_host"]

# name -> (GPUs, current driver, distribution, target, extra host fields)
CASES: dict[str, tuple[tuple[str, ...], str, str, str, dict[str, object]]] = {
    # the scenario: 2x RTX 6000 Ada on 550, to the 575 branch, reboot only in the window
    "ubuntu2204-rtx6000ada-550-to-575": (
        ("RTX 6000 Ada", "RTX 6000 Ada"),
        "550.107.02",
        "ubuntu22.04",
        "575",
        {},
    ),
    "ubuntu2004-l40s-535-to-570": (("L40S",), "535.183.01", "ubuntu20.04", "570", {}),
    "ubuntu2404-h100x8-nvswitch-550-to-580": (
        ("H100",) * 8,
        "550.127.05",
        "ubuntu24.04",
        "580",
        {"nvswitch": True},
    ),
    "debian12-a100-535-to-575": (("A100",), "535.216.01", "debian12", "R575", {}),
    "rocky9-h100-nvswitch-550-to-580": (("H100",) * 4, "550.90.07", "rocky9", "580", {"nvswitch": True}),
    "rhel8-v100-proprietary-535-to-580": (("V100",), "535.104.05", "rhel8", "580.65.06", {}),
}


@pytest.fixture(scope="session")
def facts() -> Facts:
    return load()


def make_host(facts: Facts, name: str) -> Host:
    gpus, driver, os, _, extra = CASES[name]
    host = describe_host(facts, gpus=gpus, driver=driver, os=os)
    host = replace(host, hostname=name.split("-", 1)[0] + "-gpu-01", **extra)  # type: ignore[arg-type]
    if "proprietary" in name and host.driver is not None:
        host = replace(host, driver=replace(host.driver, kernel_module="proprietary"))
    elif host.driver is None:
        host = replace(host, driver=DriverInfo(version=driver, source="described"))
    return host
