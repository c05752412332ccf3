"""/proc/driver/nvidia and /sys/module/nvidia parsers, against recorded and published files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cudalign.probe.sysfs import (
    module_flavour_from_taint,
    nvml_library_version,
    parse_gpu_information,
    parse_proc_version,
    read_kernel_module,
    read_sysfs_gpus,
)

from .fakes import RECORDINGS, make_root, recorded_root, recording

SAMPLES: list[dict[str, Any]] = json.loads(
    (RECORDINGS / "samples" / "proc_driver_version.json").read_text(encoding="utf-8")
)


def test_recorded_h100_is_the_open_module() -> None:
    assert parse_proc_version(recording("h100", "proc_driver_version.txt")) == ("580.159.04", "open")


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["version"] for s in SAMPLES])
def test_published_proc_versions(sample: dict[str, Any]) -> None:
    """Open, proprietary, Jetson and the 590 wording that broke other parsers (sources in the file)."""
    assert parse_proc_version(sample["text"]) == (sample["version"], sample["flavour"])


def test_proc_version_without_version_line() -> None:
    assert parse_proc_version("GCC version:  gcc version 12\n") == (None, None)


@pytest.mark.parametrize(
    ("taint", "flavour"),
    [("O", "open"), ("OE", "open"), ("POE", "proprietary"), ("PO", "proprietary"), ("", None), ("??", None)],
)
def test_taint_decides_the_flavour(taint: str, flavour: str | None) -> None:
    assert module_flavour_from_taint(taint) == flavour


def test_recorded_taint_agrees_with_proc() -> None:
    assert module_flavour_from_taint(recording("h100", "sys_module_taint.txt")) == "open"


def test_kernel_module_falls_back_to_sysfs(tmp_path: Path) -> None:
    root = make_root(
        tmp_path, {"sys/module/nvidia/version": "550.127.05\n", "sys/module/nvidia/taint": "POE\n"}
    )
    module = read_kernel_module(root)
    assert (module.version, module.flavour, module.source) == ("550.127.05", "proprietary", "sysfs")


def test_no_kernel_module(tmp_path: Path) -> None:
    module = read_kernel_module(make_root(tmp_path, {}))
    assert module.version is None and module.why and "not loaded" in module.why


def test_gpu_information_recorded(tmp_path: Path) -> None:
    info = json.loads(recording("h100", "gpu_information.json"))
    fields = parse_gpu_information(next(iter(info.values())))
    assert fields["Model"] == "NVIDIA H100 80GB HBM3" and fields["Device Minor"] == "0"
    gpus = read_sysfs_gpus(recorded_root(tmp_path, "h100"))
    assert [(g.name, g.pci_device_id, g.minor, g.uuid) for g in gpus] == [
        ("NVIDIA H100 80GB HBM3", "0x2330", 0, "GPU-<hidden>")
    ]


def test_library_version_from_the_symlink(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"usr/lib64/libnvidia-ml.so.550.90.07": ""})
    (root / "usr/lib64/libnvidia-ml.so.1").symlink_to("libnvidia-ml.so.550.90.07")
    assert nvml_library_version(root) == "550.90.07"
    assert nvml_library_version(make_root(tmp_path / "empty", {})) is None


def test_device_minor_that_is_no_small_number(tmp_path: Path) -> None:
    bus = "0000:01:00.0"
    for minor in ("\u00b2", "9" * 5000, "-1", "0x1"):
        root = make_root(
            tmp_path / str(len(minor)) / minor[:3].encode().hex(),
            {f"proc/driver/nvidia/gpus/{bus}/information": f"Model: NVIDIA H100\nDevice Minor: {minor}\n"},
        )
        (gpu,) = read_sysfs_gpus(root)
        assert gpu.minor is None and gpu.name == "NVIDIA H100"
