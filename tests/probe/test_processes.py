"""GPU processes for the runbook: read through the probe's own NVML binding, named from /proc."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import pytest

from cudalign.model import GpuProcess
from cudalign.probe import libnvml
from cudalign.probe.processes import gpu_processes


class _Proc:
    def __init__(self, pid: int, used: int | None) -> None:
        self.pid = pid
        self.usedGpuMemory = used


class _FakeNvml:
    """pynvml's names: two GPUs, processes on the second; a failure where asked."""

    def __init__(self, *, fail_init: bool = False, fail_list: bool = False) -> None:
        self.fail_init, self.fail_list, self.shut = fail_init, fail_list, False

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise libnvml.NvmlCallError(12, "NVML Shared Library Not Found")

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[_Proc]:
        if self.fail_list:
            raise libnvml.NvmlCallError(15, "GPU is lost")
        return [_Proc(4242, 2 * 1024**3), _Proc(4243, None)] if handle == 1 else []

    def nvmlShutdown(self) -> None:
        self.shut = True


def test_processes_are_listed_per_gpu_and_named_from_proc(tmp_path: Path) -> None:
    (tmp_path / "4242").mkdir()
    (tmp_path / "4242" / "comm").write_text("vllm\n", encoding="utf-8")
    nvml = _FakeNvml()
    assert gpu_processes(nvml, proc=tmp_path) == (
        GpuProcess(4242, "vllm", 1, 2048),
        GpuProcess(4243, "(not visible from here)", 1, None),
    )
    assert nvml.shut


def test_no_nvml_or_a_lost_gpu_is_unknown_not_empty() -> None:
    assert gpu_processes(_FakeNvml(fail_init=True)) is None
    nvml = _FakeNvml(fail_list=True)
    assert gpu_processes(nvml) is None and nvml.shut


def test_the_default_binding_is_the_probes_own_without_a_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without libnvidia-ml (this machine, CI) the answer is None, and pynvml is never imported."""
    import sys

    opened: list[str] = []

    def load(library: str = "libnvidia-ml-that-does-not-exist.so.1") -> libnvml.Nvml:
        opened.append(library)
        return libnvml.Nvml(library)

    monkeypatch.setattr(libnvml, "load", load)
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    assert gpu_processes() is None
    assert opened == ["libnvidia-ml-that-does-not-exist.so.1"] and "pynvml" not in sys.modules


# ---------------------------------------------------------------------------- the ctypes call


def test_process_struct_follows_nvml_h() -> None:
    """``nvmlProcessInfo_v2_t``: pid, then an 8-byte aligned unsigned long long, then two ids."""
    offsets = {n: getattr(libnvml.ProcessInfo, n).offset for n, *_ in libnvml.ProcessInfo._fields_}
    assert offsets == {"pid": 0, "usedGpuMemory": 8, "gpuInstanceId": 16, "computeInstanceId": 20}
    assert ctypes.sizeof(libnvml.ProcessInfo) == 24
    pynvml = pytest.importorskip("pynvml")
    ref = getattr(pynvml, "c_nvmlProcessInfo_v3_t", None)
    if ref is not None:  # older nvidia-ml-py releases (our lowest allowed) do not declare it
        assert ctypes.sizeof(ref) == 24
        assert all(getattr(ref, n).offset == offsets[n] for n in offsets)


class _FakeFunction:
    """Stands in for ``nvmlDeviceGetComputeRunningProcesses_v3`` in the loaded library."""

    def __init__(self, rows: list[tuple[int, int]], grow_by: int = 0) -> None:
        self.rows, self.grow_by, self.calls = rows, grow_by, 0

    def __call__(self, handle: Any, count_ref: Any, infos: Any) -> int:
        self.calls += 1
        count = ctypes.cast(count_ref, ctypes.POINTER(ctypes.c_uint)).contents
        if infos is None:
            count.value = len(self.rows)
            self.rows += [(9000 + i, 1) for i in range(self.grow_by)]  # processes started meanwhile
            return 0 if not self.rows else libnvml.ERROR_INSUFFICIENT_SIZE
        if count.value < len(self.rows):
            count.value = len(self.rows)
            return libnvml.ERROR_INSUFFICIENT_SIZE
        array = ctypes.cast(infos, ctypes.POINTER(libnvml.ProcessInfo))
        for i, (pid, used) in enumerate(self.rows):
            array[i].pid, array[i].usedGpuMemory = pid, used
        count.value = len(self.rows)
        return 0


def _binding(fn: _FakeFunction) -> libnvml.Nvml:
    nvml = libnvml.load()
    nvml._lib = object()  # as after nvmlInit
    nvml._fns["nvmlDeviceGetComputeRunningProcesses_v3"] = fn
    return nvml


def test_the_binding_asks_for_the_count_then_reads_with_room_to_spare() -> None:
    fn = _FakeFunction([(101, 3 * 1024**2), (102, libnvml.VALUE_NOT_AVAILABLE)], grow_by=2)
    procs = _binding(fn).nvmlDeviceGetComputeRunningProcesses(ctypes.c_void_p(1))
    assert [(p.pid, p.usedGpuMemory) for p in procs] == [
        (101, 3 * 1024**2),
        (102, None),
        (9000, 1),
        (9001, 1),
    ]
    assert fn.calls == 2


def test_the_binding_reads_no_processes_as_an_empty_list() -> None:
    fn = _FakeFunction([])
    assert _binding(fn).nvmlDeviceGetComputeRunningProcesses(ctypes.c_void_p(1)) == []
    assert fn.calls == 1
