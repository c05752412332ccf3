"""Tests of the shared value types: capabilities, driver versions, host JSON round-trip."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cudalign.errors import InvalidHost, InvalidInput
from cudalign.model import (
    ComputeCapability,
    ContainerInfo,
    DriverInfo,
    Gpu,
    Host,
    InstalledPackage,
    OsInfo,
    Severity,
    driver_version,
    host_from_json,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9.0", (9, 0)),
        ("sm_90", (9, 0)),
        ("sm90", (9, 0)),
        ("90", (9, 0)),
        ("sm_120", (12, 0)),
        ("sm_120a", (12, 0)),
        ("compute_100f", (10, 0)),
        ("12.1", (12, 1)),
        ("SM_86", (8, 6)),
        ("7", (7, 0)),
    ],
)
def test_compute_capability_parses_every_spelling(text: str, expected: tuple[int, int]) -> None:
    cc = ComputeCapability.parse(text)
    assert (cc.major, cc.minor) == expected


@pytest.mark.parametrize("text", ["", "sm_", "ampere", "9.x", "sm_90b"])
def test_compute_capability_rejects_garbage(text: str) -> None:
    with pytest.raises(InvalidInput):
        ComputeCapability.parse(text)


@given(st.integers(1, 15), st.integers(0, 9))
def test_compute_capability_round_trips_through_both_spellings(major: int, minor: int) -> None:
    """A capability parses back from its own ``str`` and ``sm`` spellings."""
    cc = ComputeCapability(major, minor)
    assert ComputeCapability.parse(str(cc)) == cc
    assert ComputeCapability.parse(cc.sm) == cc


def test_compute_capability_orders_numerically_not_textually() -> None:
    assert (
        ComputeCapability.parse("sm_90")
        < ComputeCapability.parse("sm_100")
        < ComputeCapability.parse("sm_120")
    )


def test_driver_version_compares_numerically() -> None:
    assert driver_version("550.107.02") > driver_version("550.54.15")
    assert driver_version("575.51.03") > driver_version("570.124.06")
    with pytest.raises(InvalidInput):
        driver_version("R575-open")


def test_severity_rank_orders_info_warning_error() -> None:
    assert Severity.INFO.rank < Severity.WARNING.rank < Severity.ERROR.rank


def _sample_host() -> Host:
    return Host(
        origin="probe",
        hostname="host-1",
        python="3.11.7",
        os=OsInfo(system="Linux", distro_id="ubuntu", distro_version="22.04", glibc="2.35", arch="x86_64"),
        driver=DriverInfo(version="550.107.02", cuda="12.4", kernel_module="proprietary", source="nvml"),
        gpus=(
            Gpu(index=0, name="NVIDIA RTX 6000 Ada Generation", cc=ComputeCapability(8, 9), memory_mib=49140),
            Gpu(index=1, name="NVIDIA RTX 6000 Ada Generation", cc=ComputeCapability(8, 9), memory_mib=49140),
        ),
        container=ContainerInfo(kind="docker", nvidia_visible_devices="all"),
        env={"CUDA_VISIBLE_DEVICES": "0,1"},
        packages=(
            InstalledPackage(name="torch", version="2.9.0+cu128", cuda="12.8", requires=("filelock",)),
        ),
        cudnn={"torch": "9.10.2.21"},
        unknown={"secure_boot": "efivars not readable"},
    )


def test_host_json_round_trip_is_lossless() -> None:
    host = _sample_host()
    data = json.loads(json.dumps(host.to_json()))
    assert data["schema"] == "cudalign.host/1"
    assert host_from_json(data) == host


def test_host_json_is_read_from_a_whole_doctor_report() -> None:
    host = _sample_host()
    report = {"schema": "cudalign.doctor/1", "host": host.to_json(), "findings": []}
    assert host_from_json(report) == host


def test_host_json_rejects_unknown_keys_with_their_path() -> None:
    data = _sample_host().to_json()
    data["gpus"][1]["colour"] = "green"
    with pytest.raises(InvalidHost, match=r"host\.gpus\[1\]: unknown key 'colour'"):
        host_from_json(data)


def test_host_json_rejects_another_schema() -> None:
    data = _sample_host().to_json()
    data["schema"] = "cudalign.host/9"
    with pytest.raises(InvalidHost, match="schema"):
        host_from_json(data)


@pytest.mark.parametrize(
    "bad", [[], "host", 3, {"gpus": "many"}, {"gpus": [{"index": 0, "name": "x", "cc": "zz"}]}]
)
def test_host_json_rejects_malformed_input_without_traceback(bad: object) -> None:
    with pytest.raises(InvalidHost):
        host_from_json(bad)


def test_host_package_lookup_normalises_names() -> None:
    host = _sample_host()
    assert host.package("Torch") is not None
    assert host.package("vllm") is None
