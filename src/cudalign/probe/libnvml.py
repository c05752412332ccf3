"""A small ctypes binding to ``libnvidia-ml.so.1``: only the NVML calls the probe makes.

nvidia-ml-py's ``pynvml`` binds all of NVML in one 7,000-line module whose import took 88 ms in a fresh
interpreter on an H100 host (``nvmlInit`` itself: 13 ms), a third of doctor's 300 ms budget. This module
offers the same names and behaviour for the dozen functions :func:`cudalign.probe.nvml.read_nvml` uses
(a failing call raises :class:`NvmlCallError` carrying NVML's return code in ``value``, like pynvml's
``NVMLError``), with every argument type declared, so a 64-bit device handle is never squeezed into an
``int``. Structure layouts follow ``nvml.h`` (and agree with pynvml's, which a test checks).
"""

from __future__ import annotations

import ctypes
from typing import Any

__all__ = [
    "LIBRARY",
    "FabricInfo",
    "FabricInfoV",
    "Memory",
    "NvmlCallError",
    "PciInfo",
    "ProcessInfo",
    "load",
]

LIBRARY = "libnvidia-ml.so.1"
ERROR_LIBRARY_NOT_FOUND = 12
ERROR_FUNCTION_NOT_FOUND = 13
ERROR_INSUFFICIENT_SIZE = 7
VALUE_NOT_AVAILABLE = 2**64 - 1  # NVML_VALUE_NOT_AVAILABLE as an unsigned long long
_NAME = 96  # NVML_DEVICE_NAME_V2_BUFFER_SIZE
_UUID = 96  # NVML_DEVICE_UUID_V2_BUFFER_SIZE
_DRIVER = 80  # NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE

_uint, _int, _p = ctypes.c_uint, ctypes.c_int, ctypes.POINTER
_handle = ctypes.c_void_p


class NvmlCallError(Exception):
    """An NVML call returned an error; ``value`` is its ``nvmlReturn_t``."""

    def __init__(self, value: int, text: str) -> None:
        super().__init__(text)
        self.value = value


class PciInfo(ctypes.Structure):
    """``nvmlPciInfo_t`` (``nvmlDeviceGetPciInfo_v3``)."""

    _fields_ = (
        ("busIdLegacy", ctypes.c_char * 16),
        ("domain", _uint),
        ("bus", _uint),
        ("device", _uint),
        ("pciDeviceId", _uint),
        ("pciSubSystemId", _uint),
        ("busId", ctypes.c_char * 32),
    )


class Memory(ctypes.Structure):
    """``nvmlMemory_t``."""

    _fields_ = (("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong))


class FabricInfo(ctypes.Structure):
    """``nvmlGpuFabricInfo_t`` (the unversioned call), with spare room at the end.

    nvidia-ml-py 13.610 declared ``clusterUuid`` 80 bytes long (92 in all) where nvml.h and 13.615 say 16
    (28 in all); the tail keeps a driver that writes more than we read from writing past our buffer.
    """

    _fields_ = (
        ("clusterUuid", ctypes.c_uint8 * 16),
        ("status", _uint),
        ("cliqueId", _uint),
        ("state", _uint),
        ("_spare", ctypes.c_uint8 * 100),
    )


class FabricInfoV(ctypes.Structure):
    """``nvmlGpuFabricInfo_v2_t``; ``version`` must be set to ``sizeof | 2 << 24`` before the call."""

    _fields_ = (
        ("version", _uint),
        ("clusterUuid", ctypes.c_uint8 * 16),
        ("status", _uint),
        ("cliqueId", _uint),
        ("state", _uint),
        ("healthMask", _uint),
    )

    def __init__(self) -> None:
        super().__init__()
        self.version = ctypes.sizeof(FabricInfoV) | (2 << 24)


class ProcessInfo(ctypes.Structure):
    """``nvmlProcessInfo_t`` (``nvmlProcessInfo_v2_t``, which the ``_v3`` process calls fill)."""

    _fields_ = (
        ("pid", _uint),
        ("usedGpuMemory", ctypes.c_ulonglong),
        ("gpuInstanceId", _uint),
        ("computeInstanceId", _uint),
    )


class Process:
    """One compute process as pynvml returns it: ``pid`` and ``usedGpuMemory`` (bytes, ``None`` when NVML
    cannot say)."""

    __slots__ = ("pid", "usedGpuMemory")

    def __init__(self, pid: int, used: int | None) -> None:
        self.pid = pid
        self.usedGpuMemory = used


# name -> argument types (every function returns nvmlReturn_t, an unsigned int)
_SIGNATURES: dict[str, tuple[Any, ...]] = {
    "nvmlInit_v2": (),
    "nvmlShutdown": (),
    "nvmlSystemGetDriverVersion": (ctypes.c_char_p, _uint),
    "nvmlSystemGetCudaDriverVersion_v2": (_p(_int),),
    "nvmlSystemGetCudaDriverVersion": (_p(_int),),
    "nvmlDeviceGetCount_v2": (_p(_uint),),
    "nvmlDeviceGetHandleByIndex_v2": (_uint, _p(_handle)),
    "nvmlDeviceGetName": (_handle, ctypes.c_char_p, _uint),
    "nvmlDeviceGetPciInfo_v3": (_handle, _p(PciInfo)),
    "nvmlDeviceGetCudaComputeCapability": (_handle, _p(_int), _p(_int)),
    "nvmlDeviceGetMemoryInfo": (_handle, _p(Memory)),
    "nvmlDeviceGetMigMode": (_handle, _p(_uint), _p(_uint)),
    "nvmlDeviceGetUUID": (_handle, ctypes.c_char_p, _uint),
    "nvmlDeviceGetNvLinkState": (_handle, _uint, _p(_uint)),
    "nvmlDeviceGetNvLinkRemoteDeviceType": (_handle, _uint, _p(_uint)),
    "nvmlDeviceGetGpuFabricInfoV": (_handle, _p(FabricInfoV)),
    "nvmlDeviceGetGpuFabricInfo": (_handle, _p(FabricInfo)),
    "nvmlDeviceGetComputeRunningProcesses_v3": (_handle, _p(_uint), _p(ProcessInfo)),
}


class Nvml:
    """The subset of pynvml's module interface :func:`~cudalign.probe.nvml.read_nvml` calls."""

    c_nvmlGpuFabricInfoV_t = FabricInfoV
    c_nvmlGpuFabricInfo_t = FabricInfo

    def __init__(self, library: str = LIBRARY) -> None:
        self._library = library
        self._lib: Any = None
        self._fns: dict[str, Any] = {}

    def _fn(self, name: str) -> Any:
        fn = self._fns.get(name)
        if fn is None:
            if self._lib is None:
                raise NvmlCallError(1, "Uninitialized")
            try:
                fn = getattr(self._lib, name)
            except AttributeError:
                raise NvmlCallError(ERROR_FUNCTION_NOT_FOUND, f"Function Not Found ({name})") from None
            fn.argtypes = list(_SIGNATURES[name])
            fn.restype = _uint
            self._fns[name] = fn
        return fn

    def _call(self, name: str, *args: Any) -> None:
        code = int(self._fn(name)(*args))
        if code != 0:
            raise NvmlCallError(code, self._error_string(code))

    def _error_string(self, code: int) -> str:
        try:
            fn = self._lib.nvmlErrorString
            fn.argtypes, fn.restype = [_uint], ctypes.c_char_p
            text = fn(code)
            return text.decode("utf-8", "replace") if text else f"NVML error {code}"
        except (AttributeError, OSError):
            return f"NVML error {code}"

    # ---- the pynvml-compatible surface ------------------------------------------------------------

    def nvmlInit(self) -> None:
        if self._lib is None:
            try:
                self._lib = ctypes.CDLL(self._library)
            except OSError as exc:
                raise NvmlCallError(
                    ERROR_LIBRARY_NOT_FOUND, f"NVML Shared Library Not Found ({exc})"
                ) from None
        self._call("nvmlInit_v2")

    def nvmlShutdown(self) -> None:
        self._call("nvmlShutdown")

    def nvmlSystemGetDriverVersion(self) -> str:
        buf = ctypes.create_string_buffer(_DRIVER)
        self._call("nvmlSystemGetDriverVersion", buf, _DRIVER)
        return buf.value.decode("utf-8", "replace")

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        value = _int()
        self._call("nvmlSystemGetCudaDriverVersion_v2", ctypes.byref(value))
        return value.value

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        value = _int()
        self._call("nvmlSystemGetCudaDriverVersion", ctypes.byref(value))
        return value.value

    def nvmlDeviceGetCount(self) -> int:
        value = _uint()
        self._call("nvmlDeviceGetCount_v2", ctypes.byref(value))
        return value.value

    def nvmlDeviceGetHandleByIndex(self, index: int) -> ctypes.c_void_p:
        handle = _handle()
        self._call("nvmlDeviceGetHandleByIndex_v2", index, ctypes.byref(handle))
        return handle

    def nvmlDeviceGetName(self, handle: ctypes.c_void_p) -> str:
        buf = ctypes.create_string_buffer(_NAME)
        self._call("nvmlDeviceGetName", handle, buf, _NAME)
        return buf.value.decode("utf-8", "replace")

    def nvmlDeviceGetPciInfo(self, handle: ctypes.c_void_p) -> PciInfo:
        info = PciInfo()
        self._call("nvmlDeviceGetPciInfo_v3", handle, ctypes.byref(info))
        return info

    def nvmlDeviceGetCudaComputeCapability(self, handle: ctypes.c_void_p) -> tuple[int, int]:
        major, minor = _int(), _int()
        self._call("nvmlDeviceGetCudaComputeCapability", handle, ctypes.byref(major), ctypes.byref(minor))
        return major.value, minor.value

    def nvmlDeviceGetMemoryInfo(self, handle: ctypes.c_void_p) -> Memory:
        memory = Memory()
        self._call("nvmlDeviceGetMemoryInfo", handle, ctypes.byref(memory))
        return memory

    def nvmlDeviceGetMigMode(self, handle: ctypes.c_void_p) -> list[int]:
        current, pending = _uint(), _uint()
        self._call("nvmlDeviceGetMigMode", handle, ctypes.byref(current), ctypes.byref(pending))
        return [current.value, pending.value]

    def nvmlDeviceGetUUID(self, handle: ctypes.c_void_p) -> str:
        buf = ctypes.create_string_buffer(_UUID)
        self._call("nvmlDeviceGetUUID", handle, buf, _UUID)
        return buf.value.decode("utf-8", "replace")

    def nvmlDeviceGetNvLinkState(self, handle: ctypes.c_void_p, link: int) -> int:
        value = _uint()
        self._call("nvmlDeviceGetNvLinkState", handle, link, ctypes.byref(value))
        return value.value

    def nvmlDeviceGetNvLinkRemoteDeviceType(self, handle: ctypes.c_void_p, link: int) -> int:
        value = _uint()
        self._call("nvmlDeviceGetNvLinkRemoteDeviceType", handle, link, ctypes.byref(value))
        return value.value

    def nvmlDeviceGetGpuFabricInfoV(self, handle: ctypes.c_void_p, ref: Any) -> int:
        self._call("nvmlDeviceGetGpuFabricInfoV", handle, ref)
        return 0

    def nvmlDeviceGetGpuFabricInfo(self, handle: ctypes.c_void_p, ref: Any) -> int:
        self._call("nvmlDeviceGetGpuFabricInfo", handle, ref)
        return 0

    def nvmlDeviceGetComputeRunningProcesses(self, handle: ctypes.c_void_p) -> list[Process]:
        """The compute processes on one GPU; asks for the count first, then for room to spare (processes
        may start between the two calls), as pynvml does."""
        fn = self._fn("nvmlDeviceGetComputeRunningProcesses_v3")
        count = _uint(0)
        code = int(fn(handle, ctypes.byref(count), None))
        if code == 0:
            return []
        if code != ERROR_INSUFFICIENT_SIZE:
            raise NvmlCallError(code, self._error_string(code))
        count.value = count.value * 2 + 5
        infos = (ProcessInfo * count.value)()
        code = int(fn(handle, ctypes.byref(count), infos))
        if code != 0:
            raise NvmlCallError(code, self._error_string(code))
        return [
            Process(int(p.pid), None if p.usedGpuMemory == VALUE_NOT_AVAILABLE else int(p.usedGpuMemory))
            for p in infos[: count.value]
        ]


def load(library: str = LIBRARY) -> Nvml:
    """An unopened binding; ``nvmlInit()`` loads the library (and fails as pynvml does when it is absent)."""
    return Nvml(library)
