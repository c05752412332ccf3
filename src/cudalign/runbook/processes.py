"""The GPU processes running on this host now, read once through NVML when a runbook is generated here."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from cudalign.runbook import GpuProcess

__all__ = ["gpu_processes"]


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip() or f"pid {pid}"
    except OSError:
        return "(not visible from here)"


def gpu_processes(nvml: Any = None) -> tuple[GpuProcess, ...] | None:
    """Compute processes per GPU, or ``None`` when NVML is not available (no driver, no pynvml).

    ``nvml`` may be a stand-in module with pynvml's functions, for tests.
    """
    module = nvml
    if module is None:
        try:
            import pynvml
        except ImportError:
            return None
        module = pynvml
    try:
        module.nvmlInit()
    except Exception:  # pynvml.NVMLError and friends: no driver here, nothing to list
        return None
    found: list[GpuProcess] = []
    try:
        for i in range(module.nvmlDeviceGetCount()):
            handle = module.nvmlDeviceGetHandleByIndex(i)
            for p in module.nvmlDeviceGetComputeRunningProcesses(handle):
                used = getattr(p, "usedGpuMemory", None)
                mib = int(used) // (1024 * 1024) if isinstance(used, int) and used > 0 else None
                found.append(GpuProcess(pid=int(p.pid), name=_name(int(p.pid)), gpu=i, used_mib=mib))
    except Exception:  # a GPU that stops answering mid-way: report what is known as unknown
        return None
    finally:
        with contextlib.suppress(Exception):  # a failing shutdown must not hide the answer
            module.nvmlShutdown()
    return tuple(found)
