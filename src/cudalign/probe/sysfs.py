"""What the kernel says about the NVIDIA driver and GPUs: ``/proc/driver/nvidia`` and ``/sys``.

These files exist whenever the kernel module is loaded, even when NVML cannot be used (the
"driver/library version mismatch" state after an upgrade without a reboot), so they are the fallback for
the driver version, the kernel-module flavour and the list of GPUs.
"""

from __future__ import annotations

import re
from pathlib import Path

from cudalign._dataclass import dataclass

__all__ = [
    "KernelModule",
    "SysfsGpu",
    "module_flavour_from_taint",
    "nvml_library_version",
    "parse_gpu_information",
    "parse_proc_version",
    "read_kernel_module",
    "read_sysfs_gpus",
    "read_text",
]

_PROC_VERSION = re.compile(
    r"NVRM version:\s*NVIDIA UNIX\s+(?P<open>Open\s+)?(?:\S+\s+){0,3}?Kernel Module(?:\s+for\s+\S+)?\s+"
    r"(?P<version>\d+\.\d+(?:\.\d+)*)",
    re.IGNORECASE,
)
_VERSION = re.compile(r"^\s*(\d+\.\d+(?:\.\d+)*)\s*$")
_LIB_VERSION = re.compile(r"libnvidia-ml\.so\.(\d+\.\d+(?:\.\d+)*)$")
# Where distributions and the NVIDIA container toolkit put libnvidia-ml.so.1.
LIB_DIRS = (
    "usr/lib/x86_64-linux-gnu",
    "usr/lib/aarch64-linux-gnu",
    "usr/lib64",
    "usr/lib",
    "usr/local/nvidia/lib64",
    "usr/local/nvidia/lib",
    "usr/lib/wsl/lib",
)


@dataclass(frozen=True, slots=True)
class KernelModule:
    """The loaded ``nvidia`` kernel module as ``/proc`` and ``/sys`` describe it."""

    version: str | None = None
    flavour: str | None = None
    """``open`` or ``proprietary``."""
    source: str | None = None
    """``proc`` or ``sysfs``: where the version came from."""
    why: str | None = None
    """Why nothing was found (``no /proc/driver/nvidia/version``)."""


@dataclass(frozen=True, slots=True)
class SysfsGpu:
    """One GPU as ``/proc/driver/nvidia/gpus/*/information`` and ``/sys/bus/pci`` list it."""

    bus: str
    name: str | None = None
    pci_device_id: str | None = None
    uuid: str | None = None
    minor: int | None = None


def read_text(root: Path, rel: str, limit: int = 65536) -> str | None:
    """The text of ``root/rel``, or ``None`` when it cannot be read."""
    try:
        with open(root / rel, encoding="utf-8", errors="replace") as fh:
            return fh.read(limit)
    except (OSError, ValueError):
        return None


def parse_proc_version(text: str) -> tuple[str | None, str | None]:
    """``(version, flavour)`` from ``/proc/driver/nvidia/version``.

    The open kernel modules identify themselves in the first line ("NVIDIA UNIX Open Kernel Module for
    x86_64  580.95.05 …"); the proprietary module says "NVIDIA UNIX x86_64 Kernel Module  535.129.03 …".
    """
    for line in text.splitlines():
        m = _PROC_VERSION.search(line)
        if m:
            return m.group("version"), "open" if m.group("open") else "proprietary"
    return None, None


def module_flavour_from_taint(taint: str) -> str | None:
    """``open``/``proprietary`` from ``/sys/module/nvidia/taint``.

    The kernel sets taint flag ``P`` for a module whose licence is not GPL-compatible: the proprietary
    module ("NVIDIA") has it, the open module ("Dual MIT/GPL") does not. Both are out-of-tree (``O``).
    """
    flags = taint.strip()
    if not flags or not re.fullmatch(r"[A-Z]+", flags):
        return None
    return "proprietary" if "P" in flags else "open"


def read_kernel_module(root: Path) -> KernelModule:
    """The kernel module's version and flavour: ``/proc/driver/nvidia/version``, else ``/sys/module``."""
    proc = read_text(root, "proc/driver/nvidia/version")
    version = flavour = source = None
    if proc is not None:
        version, flavour = parse_proc_version(proc)
        source = "proc" if version else None
    if version is None:
        sys_version = read_text(root, "sys/module/nvidia/version")
        m = _VERSION.match(sys_version or "")
        if m:
            version, source = m.group(1), "sysfs"
    if flavour is None:
        taint = read_text(root, "sys/module/nvidia/taint")
        flavour = module_flavour_from_taint(taint) if taint is not None else None
    if version is None and proc is None and not (root / "sys/module/nvidia").exists():
        return KernelModule(why="the nvidia kernel module is not loaded (no /proc/driver/nvidia/version)")
    if version is None:
        return KernelModule(flavour=flavour, why="/proc/driver/nvidia/version has no version line")
    return KernelModule(version=version, flavour=flavour, source=source)


def parse_gpu_information(text: str) -> dict[str, str]:
    """``key -> value`` from one ``/proc/driver/nvidia/gpus/<bus>/information`` file."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            fields[key.strip()] = value.strip()
    return fields


def read_sysfs_gpus(root: Path) -> tuple[SysfsGpu, ...]:
    """The GPUs the kernel module drives, ordered by PCI bus (which is NVML's default order)."""
    base = root / "proc/driver/nvidia/gpus"
    try:
        buses = sorted(p.name for p in base.iterdir())
    except OSError:
        return ()
    gpus = []
    for bus in buses:
        info = parse_gpu_information(read_text(root, f"proc/driver/nvidia/gpus/{bus}/information") or "")
        device = (read_text(root, f"sys/bus/pci/devices/{bus.lower()}/device") or "").strip().lower()
        minor = info.get("Device Minor", "")
        gpus.append(
            SysfsGpu(
                bus=bus,
                name=info.get("Model") or None,
                pci_device_id=device if re.fullmatch(r"0x[0-9a-f]{4}", device) else None,
                uuid=info.get("GPU UUID") or None,
                minor=int(minor) if re.fullmatch(r"[0-9]{1,9}", minor) else None,
            )
        )
    return tuple(gpus)


def nvml_library_version(root: Path) -> str | None:
    """The user-space driver version, from the name ``libnvidia-ml.so.1`` points to (``….so.580.95.05``)."""
    for d in LIB_DIRS:
        link = root / d / "libnvidia-ml.so.1"
        try:
            target = link.resolve(strict=True).name
        except (OSError, RuntimeError):
            continue
        m = _LIB_VERSION.search(target)
        if m:
            return m.group(1)
    return None
