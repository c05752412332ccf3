"""NVML reading: the recorded H100 answers, init failures told apart, absent functions tolerated."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cudalign.probe.nvml import cuda_from_int, pci_device_id, read_nvml

from .fakes import FakeNvml, Without, recording


def _dump() -> dict[str, Any]:
    return json.loads(recording("h100", "nvml.json"))  # type: ignore[no-any-return]


def test_recorded_h100() -> None:
    nvml = FakeNvml.recorded("h100")
    result = read_nvml(nvml)
    assert (result.status, result.driver, result.cuda) == ("ok", "580.159.04", "13.0")
    (gpu,) = result.gpus
    assert (gpu.name, gpu.pci_device_id, gpu.cc, gpu.memory_mib) == (
        "NVIDIA H100 80GB HBM3",
        "0x2330",
        (9, 0),
        81559,
    )
    assert gpu.mig_mode is False and gpu.bus == "00000000:00:06.0"
    assert nvml.shutdown_called


@pytest.mark.parametrize(
    ("code", "text", "status"),
    [
        (12, "NVML Shared Library Not Found", "not-found"),
        (9, "Driver Not Loaded", "not-loaded"),
        (18, "RM has detected an NVML/RM version mismatch.", "mismatch"),
        (999, "Driver/library version mismatch", "mismatch"),
        (999, "Unknown Error", "error"),
    ],
)
def test_init_failures(code: int, text: str, status: str) -> None:
    result = read_nvml(FakeNvml({"init": {"error": code, "text": text}}))
    assert result.status == status and result.why and text in result.why and result.gpus == ()


def test_absent_functions_are_reasons_not_errors() -> None:
    nvml = Without(
        FakeNvml.recorded("h100"),
        "nvmlDeviceGetGpuFabricInfo",
        "nvmlDeviceGetGpuFabricInfoV",
        "nvmlSystemGetCudaDriverVersion_v2",
        "nvmlDeviceGetNvLinkState",
    )
    result = read_nvml(nvml)
    assert result.status == "ok" and result.cuda is None and result.nvlink is None
    notes = dict(result.notes)
    assert "nvmlSystemGetCudaDriverVersion" in notes["driver.cuda"]
    assert "nvmlDeviceGetGpuFabricInfo" in notes["fabric_manager"]


def test_nvswitch_fabric_and_mig() -> None:
    """An HGX-like GPU: links up to an NVSwitch, fabric manager done, MIG on."""
    dump = _dump()
    dev = dump["devices"][0]
    dev["nvlink"] = [1] * 18
    dev["nvlink_remote"] = [2] * 18
    dev["fabric"] = dev["fabricV"] = {"state": 3, "status": 0}
    dev["mig"] = [1, 1]
    result = read_nvml(FakeNvml(dump))
    assert (result.nvlink, result.nvswitch, result.fabric_manager) == (True, True, "running")
    assert result.gpus[0].mig_mode is True


@pytest.mark.parametrize(
    ("state", "status", "expected"),
    [(1, 0, "not-started"), (2, 0, "in-progress"), (3, 5, "failed"), (0, 0, "n/a")],
)
def test_fabric_states(state: int, status: int, expected: str) -> None:
    dump = _dump()
    dump["devices"][0]["fabric"] = dump["devices"][0]["fabricV"] = {"state": state, "status": status}
    assert read_nvml(FakeNvml(dump)).fabric_manager == expected


def test_one_broken_gpu_does_not_hide_the_others() -> None:
    dump = _dump()
    dump["count"] = 2
    dump["devices"].append({"handle": {"error": 15, "text": "GPU is lost"}})
    result = read_nvml(FakeNvml(dump))
    assert [g.name for g in result.gpus] == ["NVIDIA H100 80GB HBM3"]
    assert "GPU is lost" in dict(result.notes)["gpus[1]"]


def test_encodings() -> None:
    assert (
        cuda_from_int(12040) == "12.4" and cuda_from_int(13000) == "13.0" and cuda_from_int(11080) == "11.8"
    )
    assert cuda_from_int(0) is None
    assert pci_device_id(0x233010DE) == "0x2330" and pci_device_id(0) is None


def test_versioned_fabric_call_wins_over_the_legacy_one() -> None:
    """On the 2x H200 host the legacy call said NOT_SUPPORTED while the versioned one said COMPLETED,
    as `nvidia-smi -q` did (State Completed, Status Success)."""
    dump = json.loads(recording("h200x2", "nvml.json"))
    assert dump["devices"][0]["fabric"]["state"] == 0 and dump["devices"][0]["fabricV"]["state"] == 3
    assert read_nvml(FakeNvml(dump)).fabric_manager == "running"
    legacy_only = Without(FakeNvml(dump), "nvmlDeviceGetGpuFabricInfoV")
    assert read_nvml(legacy_only).fabric_manager == "n/a"
