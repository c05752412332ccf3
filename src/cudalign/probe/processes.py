"""The GPU compute processes running on this machine now: NVML's list per GPU, each named from ``/proc``.

Read through the probe's own NVML binding (:mod:`cudalign.probe.libnvml`), once, when a runbook is
generated for this machine. ``None`` means the list could not be read (no driver, no NVML); an empty tuple
means NVML answered and no process uses a GPU.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from cudalign.model import GpuProcess

__all__ = ["gpu_processes"]

_MIB = 1024 * 1024


def _name(pid: int, proc: Path) -> str:
    try:
        return (proc / str(pid) / "comm").read_text(encoding="utf-8").strip() or f"pid {pid}"
    except (OSError, UnicodeDecodeError):
        return "(not visible from here)"


def gpu_processes(nvml: Any = None, *, proc: Path = Path("/proc")) -> tuple[GpuProcess, ...] | None:
    """Compute processes per GPU, or ``None`` when NVML is not available.

    ``nvml`` may be any object with pynvml's function names (the default is :func:`libnvml.load`), and
    ``proc`` another ``/proc``, for tests.
    """
    if nvml is None:
        from cudalign.probe import libnvml

        nvml = libnvml.load()
    try:
        nvml.nvmlInit()
    except Exception:  # NvmlCallError, pynvml's NVMLError and friends: no driver here, nothing to list
        return None
    found: list[GpuProcess] = []
    try:
        for i in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            for p in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                used = getattr(p, "usedGpuMemory", None)
                mib = int(used) // _MIB if isinstance(used, int) and used > 0 else None
                found.append(GpuProcess(pid=int(p.pid), name=_name(int(p.pid), proc), gpu=i, used_mib=mib))
    except Exception:  # a GPU that stops answering mid-way: the list is unknown, not empty
        return None
    finally:
        with contextlib.suppress(Exception):  # a failing shutdown must not hide the answer
            nvml.nvmlShutdown()
    return tuple(found)
