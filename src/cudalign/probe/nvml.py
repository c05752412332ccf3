"""The driver and GPUs as NVML reports them (``pynvml`` from nvidia-ml-py, imported lazily).

NVML is the first and best source: the exact driver version, the highest CUDA it supports, every GPU's
name, PCI id, compute capability, memory, MIG mode and UUID, NVLink state and fabric-manager state.
Its ``nvmlInit`` error tells "no driver" apart from "driver/library version mismatch".
"""

from __future__ import annotations

import contextlib
from typing import Any

from cudalign._dataclass import dataclass

__all__ = ["NvmlGpu", "NvmlResult", "cuda_from_int", "pci_device_id", "read_nvml"]

# NVML return codes (nvml.h); we compare codes, not pynvml's generated class names.
ERROR_UNINITIALIZED = 1
ERROR_NOT_SUPPORTED = 3
ERROR_NO_PERMISSION = 4
ERROR_DRIVER_NOT_LOADED = 9
ERROR_LIBRARY_NOT_FOUND = 12
ERROR_FUNCTION_NOT_FOUND = 13
ERROR_LIB_RM_VERSION_MISMATCH = 18
NVLINK_LINKS = 18  # NVLink 4 (Hopper) has 18 links per GPU; later links answer NOT_SUPPORTED
NVLINK_DEVICE_TYPE_SWITCH = 2
_FABRIC_STATES = {1: "not-started", 2: "in-progress"}


@dataclass(frozen=True, slots=True)
class NvmlGpu:
    """One GPU as NVML sees it."""

    index: int
    name: str
    pci_device_id: str | None = None
    cc: tuple[int, int] | None = None
    memory_mib: int | None = None
    mig_mode: bool | None = None
    uuid: str | None = None
    bus: str | None = None


@dataclass(frozen=True, slots=True)
class NvmlResult:
    """What NVML answered, or why it could not."""

    status: str
    """``ok``, ``unavailable`` (nvidia-ml-py missing), ``not-found`` (libnvidia-ml.so.1 missing),
    ``not-loaded`` (kernel module absent), ``mismatch`` (driver/library version mismatch), ``error``."""
    why: str | None = None
    driver: str | None = None
    cuda: str | None = None
    gpus: tuple[NvmlGpu, ...] = ()
    nvlink: bool | None = None
    nvswitch: bool | None = None
    fabric_manager: str | None = None
    notes: tuple[tuple[str, str], ...] = ()
    """``(field, reason)`` for values NVML could not give."""


def cuda_from_int(value: int) -> str | None:
    """``12040`` -> ``12.4`` (``cuDriverGetVersion`` and NVML encode major*1000 + minor*10)."""
    if value <= 0:
        return None
    return f"{value // 1000}.{(value % 1000) // 10}"


def pci_device_id(combined: int) -> str | None:
    """``0x233010DE`` (device << 16 | vendor) -> ``0x2330``."""
    if combined <= 0:
        return None
    return f"0x{(combined >> 16) & 0xFFFF:04x}"


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _code(exc: BaseException) -> int | None:
    value = getattr(exc, "value", None)
    return value if isinstance(value, int) else None


def _init_failure(exc: BaseException) -> NvmlResult:
    code = _code(exc)
    text = str(exc) or type(exc).__name__
    if code == ERROR_LIBRARY_NOT_FOUND:
        return NvmlResult("not-found", f"NVML: libnvidia-ml.so.1 not found ({text})")
    if code == ERROR_DRIVER_NOT_LOADED:
        return NvmlResult("not-loaded", f"NVML: the NVIDIA kernel driver is not loaded ({text})")
    if code == ERROR_LIB_RM_VERSION_MISMATCH or "mismatch" in text.lower():
        return NvmlResult("mismatch", f"NVML: driver/library version mismatch ({text})")
    return NvmlResult("error", f"NVML init failed: {text}")


def _try(fn: Any, *args: Any) -> tuple[Any, str | None]:
    """Call an NVML function; ``(value, None)`` or ``(None, reason)``. Absent functions are a reason too."""
    if fn is None:
        return None, "this nvidia-ml-py has no such function"
    try:
        return fn(*args), None
    except Exception as exc:  # pynvml raises NVMLError subclasses, and AttributeError for old libraries
        code = _code(exc)
        if code == ERROR_NOT_SUPPORTED:
            return None, "not supported on this GPU/driver"
        if code == ERROR_FUNCTION_NOT_FOUND:
            return None, "not in this driver's NVML"
        return None, str(exc) or type(exc).__name__


def _gpu(nvml: Any, index: int, notes: list[tuple[str, str]]) -> tuple[NvmlGpu, Any]:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    name, _ = _try(getattr(nvml, "nvmlDeviceGetName", None), handle)
    pci, why = _try(getattr(nvml, "nvmlDeviceGetPciInfo", None), handle)
    if why:
        notes.append((f"gpus[{index}].pci_device_id", why))
    cc, why = _try(getattr(nvml, "nvmlDeviceGetCudaComputeCapability", None), handle)
    if why:
        notes.append((f"gpus[{index}].cc", why))
    mem, why = _try(getattr(nvml, "nvmlDeviceGetMemoryInfo", None), handle)
    if why:
        notes.append((f"gpus[{index}].memory_mib", why))
    mig, why = _try(getattr(nvml, "nvmlDeviceGetMigMode", None), handle)
    mig_mode = (
        bool(mig[0]) if mig is not None else (False if why == "not supported on this GPU/driver" else None)
    )
    uuid, _ = _try(getattr(nvml, "nvmlDeviceGetUUID", None), handle)
    gpu = NvmlGpu(
        index=index,
        name=_text(name) if name is not None else f"GPU {index}",
        pci_device_id=pci_device_id(int(pci.pciDeviceId)) if pci is not None else None,
        cc=(int(cc[0]), int(cc[1])) if cc is not None else None,
        memory_mib=int(mem.total) // (1024 * 1024) if mem is not None else None,
        mig_mode=mig_mode,
        uuid=_text(uuid) if uuid is not None else None,
        bus=_text(pci.busId).lower() if pci is not None and getattr(pci, "busId", None) else None,
    )
    return gpu, handle


def _nvlink(nvml: Any, handles: list[Any]) -> tuple[bool | None, bool | None, str | None]:
    """``(any NVLink active, any link to an NVSwitch, reason when unknown)``.

    Per GPU, the first active link answers both questions (an NVSwitch system links every GPU to
    switches), so a healthy 8-GPU board costs a handful of calls, not 8 x 18 x 2.
    """
    state_fn = getattr(nvml, "nvmlDeviceGetNvLinkState", None)
    remote_fn = getattr(nvml, "nvmlDeviceGetNvLinkRemoteDeviceType", None)
    if state_fn is None:
        return None, None, "this nvidia-ml-py has no nvmlDeviceGetNvLinkState"
    active = False
    switch: bool | None = False if remote_fn is not None else None
    for handle in handles:
        for link in range(NVLINK_LINKS):
            state, why = _try(state_fn, handle, link)
            if why is not None:
                break  # links are numbered densely: the first unsupported one ends the list
            if not state:
                continue
            active = True
            if remote_fn is not None:
                kind, _ = _try(remote_fn, handle, link)
                if kind == NVLINK_DEVICE_TYPE_SWITCH:
                    switch = True
            break
    return active, switch if active else (False if switch is not None else None), None


def _fabric_info(nvml: Any, handle: Any) -> tuple[Any, str | None]:
    """The fabric info struct: the versioned call (R550+) first, then the original one."""
    why = "this nvidia-ml-py has no nvmlDeviceGetGpuFabricInfo"
    for fn_name, struct_name in (
        ("nvmlDeviceGetGpuFabricInfoV", "c_nvmlGpuFabricInfoV_t"),
        ("nvmlDeviceGetGpuFabricInfo", "c_nvmlGpuFabricInfo_t"),
    ):
        fn, struct = getattr(nvml, fn_name, None), getattr(nvml, struct_name, None)
        if fn is None or struct is None:
            continue
        import ctypes

        info = struct()
        # pynvml hands its second argument straight to C: it must be a pointer. A struct passed by
        # value is read as a garbage pointer (INVALID_ARGUMENT on one H100, a segfault on an H200 pair).
        _, err = _try(fn, handle, ctypes.byref(info))
        if err is None:
            return info, None
        why = f"{fn_name}: {err}"
    return None, why


def _fabric(nvml: Any, handles: list[Any]) -> tuple[str | None, str | None]:
    """Fabric-manager state from ``nvmlDeviceGetGpuFabricInfo`` (NVSwitch systems, Hopper and later)."""
    if not handles:
        return None, "no GPU to ask"
    states = []
    for handle in handles:
        info, why = _fabric_info(nvml, handle)
        if info is None:
            return None, why
        state = int(info.state)
        if state == 0:
            return "n/a", None  # NVML's answer: this GPU is not part of an NVLink fabric
        if state == 3:
            states.append("running" if int(info.status) == 0 else "failed")
        else:
            states.append(_FABRIC_STATES.get(state, f"state {state}"))
    worst = next((s for s in ("failed", "not-started", "in-progress") if s in states), states[0])
    return worst, None


def read_nvml(nvml: Any) -> NvmlResult:
    """Ask NVML (the ``pynvml`` module, or a fake with the same functions) everything the host needs."""
    try:
        nvml.nvmlInit()
    except Exception as exc:
        return _init_failure(exc)
    notes: list[tuple[str, str]] = []
    try:
        driver, why = _try(nvml.nvmlSystemGetDriverVersion)
        if why:
            notes.append(("driver.version", f"nvmlSystemGetDriverVersion: {why}"))
        cuda_int, why = _try(getattr(nvml, "nvmlSystemGetCudaDriverVersion_v2", None))
        if cuda_int is None:
            cuda_int, why = _try(getattr(nvml, "nvmlSystemGetCudaDriverVersion", None))
        if why:
            notes.append(("driver.cuda", f"nvmlSystemGetCudaDriverVersion: {why}"))
        count, why = _try(nvml.nvmlDeviceGetCount)
        if why:
            return NvmlResult("error", f"nvmlDeviceGetCount: {why}", driver=_text(driver) if driver else None)
        gpus, handles = [], []
        for i in range(int(count)):
            try:
                gpu, handle = _gpu(nvml, i, notes)
            except Exception as exc:  # one broken GPU (fallen off the bus) must not hide the others
                notes.append((f"gpus[{i}]", f"nvmlDeviceGetHandleByIndex: {exc}"))
                continue
            gpus.append(gpu)
            handles.append(handle)
        nvlink, nvswitch, why = _nvlink(nvml, handles)
        if why:
            notes.append(("nvlink", why))
        fabric, why = _fabric(nvml, handles)
        if why:
            notes.append(("fabric_manager", why))
        return NvmlResult(
            "ok",
            driver=_text(driver) if driver else None,
            cuda=cuda_from_int(int(cuda_int)) if cuda_int is not None else None,
            gpus=tuple(gpus),
            nvlink=nvlink if handles else None,
            nvswitch=nvswitch if handles else None,
            fabric_manager=fabric,
            notes=tuple(notes),
        )
    finally:
        with contextlib.suppress(Exception):  # shutting down is best effort
            nvml.nvmlShutdown()
