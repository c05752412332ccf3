"""Tests of the shared value types: capabilities, driver versions, host JSON round-trip."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

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
    python_version,
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


def _every_field_host() -> Host:
    """A host with every field of every nested type away from its default."""
    return Host(
        origin="probe",
        hostname="gpu-7",
        python="3.12.3",
        os=OsInfo(
            system="Linux",
            distro_id="ubuntu",
            distro_version="24.04",
            distro_like=("debian",),
            kernel="6.8.0",
            glibc="2.39",
            arch="x86_64",
            secure_boot=False,
            unknown={"secure_boot": "efivars not readable"},
        ),
        driver=DriverInfo(
            version="570.124.06",
            cuda="12.8",
            kernel_module="open",
            source="nvml",
            nvml_mismatch=True,
            library_version="575.51.03",
            unknown={"cuda": "libcuda not loadable"},
            given="R570",
        ),
        gpus=(
            Gpu(
                index=0,
                name="NVIDIA H100 80GB HBM3",
                cc=ComputeCapability(9, 0),
                pci_device_id="0x2330",
                memory_mib=81559,
                mig_mode=True,
                uuid="GPU-…",
                fact_id="gpu.h100-sxm",
                unknown={"cc": "from the knowledge base"},
            ),
        ),
        nvlink=True,
        nvswitch=False,
        fabric_manager="running",
        container=ContainerInfo(
            kind="docker",
            nvidia_visible_devices="all",
            nvidia_driver_capabilities="compute,utility",
            nvidia_require_cuda="cuda>=12.8",
            nvidia_disable_require=True,
            compat_libs=("/usr/local/cuda/compat/libcuda.so.1",),
            compat_cuda="12.9",
        ),
        env={"CUDA_VISIBLE_DEVICES": "0"},
        packages=(
            InstalledPackage(
                name="torch", version="2.9.0+cu128", cuda="12.8", requires=("filelock",), location="/site"
            ),
        ),
        cudnn={"torch": "9.10.2.21"},
        nccl={"torch": "2.27.5"},
        cuda_toolkits=("12.8.1",),
        unknown={"nvlink": "nvml field not supported"},
    )


def _defaults_left(value: Any, where: str = "host") -> list[str]:
    left = []
    for f in dataclasses.fields(value):
        if f.name.startswith("_"):
            continue
        v = getattr(value, f.name)
        if f.default is not dataclasses.MISSING:
            default: Any = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = dataclasses.MISSING
        if v == default:
            left.append(f"{where}.{f.name}")
        items = v if isinstance(v, tuple) else (v,)
        for item in items:
            if dataclasses.is_dataclass(item) and not isinstance(item, ComputeCapability):
                left += _defaults_left(item, f"{where}.{f.name}")
    return left


def test_every_host_field_has_a_json_reader() -> None:
    """A field of a new type fails here until ``host_from_json`` can read it back."""
    host = _every_field_host()
    assert _defaults_left(host) == []
    assert host_from_json(json.loads(json.dumps(host.to_json()))) == host


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "host: missing field 'origin'"),
        ({"origin": "file", "gpus": [{"name": "x"}]}, "host.gpus[0]: missing field 'index'"),
        ({"origin": "file", "python": "banana"}, "host.python: not a Python version: 'banana'"),
        (
            {"origin": "file", "driver": {"version": 550}},
            "host.driver.version: expected a string, got a number",
        ),
        ({"origin": "file", "nccl": {"torch": None}}, "host.nccl.torch: expected a string, got null"),
        ({"origin": "file", "os": {"distro_like": "debian"}}, "host.os.distro_like: expected an array"),
        ({"origin": "file", "container": {"compat_cuda": "new"}}, "host.container.compat_cuda: not a CUDA"),
        (
            {"origin": "file", "gpus": [{"index": 0, "name": "x", "cc": [9, 0]}]},
            "host.gpus[0].cc: expected a compute",
        ),
    ],
)
def test_host_json_errors_name_the_path_in_our_words(data: object, message: str) -> None:
    with pytest.raises(InvalidHost) as info:
        host_from_json(data)
    assert str(info.value).startswith(message)
    assert "__init__" not in str(info.value)


def test_host_json_errors_at_the_top_level_have_no_path_when_asked() -> None:
    with pytest.raises(InvalidHost, match=r"^missing field 'origin'$"):
        host_from_json({}, where="")
    with pytest.raises(InvalidHost, match=r"^gpus\[0\]\.name: expected a string"):
        host_from_json({"origin": "file", "gpus": [{"index": 0, "name": 1}]}, where="")


@pytest.mark.parametrize("text", ["3.12", "3.12.3", "3.13.0rc1", "3.10"])
def test_python_version_accepts_what_python_reports(text: str) -> None:
    assert python_version(text) == text


@pytest.mark.parametrize("text", ["banana", "3", "3.12.1.1", "1!3.12", "3.12+x", "", "cp312"])
def test_python_version_rejects_what_is_not_one(text: str) -> None:
    with pytest.raises(InvalidInput, match="not a Python version"):
        python_version(text)
