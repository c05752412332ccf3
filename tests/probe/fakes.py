"""Stand-ins for the machine: a fake NVML that replays recorded answers, a fake process door, and
builders for a fake filesystem root and a fake site-packages folder."""

from __future__ import annotations

import ctypes
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cudalign.probe.run import Result

__all__ = [
    "RECORDINGS",
    "FakeNvml",
    "FakeRunner",
    "NvmlError",
    "Without",
    "make_root",
    "make_site",
    "recorded_root",
    "recording",
]

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "probe"


def recording(host: str, name: str) -> str:
    """The text of one recorded raw output."""
    return (RECORDINGS / host / name).read_text(encoding="utf-8")


class NvmlError(Exception):
    """What pynvml raises: an exception carrying NVML's return code in ``value``."""

    def __init__(self, value: int, text: str = "") -> None:
        super().__init__(text or f"NVML error {value}")
        self.value = value


class _FabricInfo(ctypes.Structure):
    _fields_ = (("status", ctypes.c_uint), ("state", ctypes.c_uint))


def _deref(ref: Any) -> _FabricInfo:
    """Like the C function, accept only a pointer: a struct passed by value is a caller bug."""
    if isinstance(ref, ctypes.Structure):
        raise TypeError("struct passed by value; NVML needs ctypes.byref(info)")
    info = ref._obj
    assert isinstance(info, _FabricInfo)
    return info


class FakeNvml:
    """Replays an NVML dump as written by ``scripts/record_host.py`` (or built by a test)."""

    c_nvmlGpuFabricInfo_t = _FabricInfo

    def __init__(self, dump: Mapping[str, Any], *, init_delay: float = 0.0) -> None:
        self.dump = dump
        self.init_delay = init_delay
        self.shutdown_called = False

    @classmethod
    def recorded(cls, host: str) -> FakeNvml:
        return cls(json.loads(recording(host, "nvml.json")))

    @staticmethod
    def _answer(value: Any) -> Any:
        if isinstance(value, dict) and "error" in value:
            raise NvmlError(int(value["error"] or 999), str(value.get("text", "")))
        return value

    def _dev(self, handle: int) -> Mapping[str, Any]:
        return self.dump["devices"][handle]  # type: ignore[no-any-return]

    def nvmlInit(self) -> None:
        if self.init_delay:
            time.sleep(self.init_delay)
        self._answer(self.dump.get("init"))

    def nvmlShutdown(self) -> None:
        self.shutdown_called = True

    def nvmlSystemGetDriverVersion(self) -> str:
        return str(self._answer(self.dump["driver"]))

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        return int(self._answer(self.dump["cuda_v2"]))

    def nvmlDeviceGetCount(self) -> int:
        return int(self._answer(self.dump["count"]))

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self._answer(self._dev(index).get("handle"))
        return index

    def nvmlDeviceGetName(self, handle: int) -> str:
        return str(self._answer(self._dev(handle)["name"]))

    def nvmlDeviceGetPciInfo(self, handle: int) -> SimpleNamespace:
        d = self._dev(handle)
        return SimpleNamespace(pciDeviceId=d["pciDeviceId"], busId=d["busId"].encode())

    def nvmlDeviceGetCudaComputeCapability(self, handle: int) -> tuple[int, int]:
        major, minor = self._answer(self._dev(handle)["cc"])
        return int(major), int(minor)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(total=self._dev(handle)["memory_total"])

    def nvmlDeviceGetMigMode(self, handle: int) -> list[int]:
        return list(self._answer(self._dev(handle)["mig"]))

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return str(self._answer(self._dev(handle)["uuid"]))

    def nvmlDeviceGetNvLinkState(self, handle: int, link: int) -> int:
        return int(self._answer(self._dev(handle)["nvlink"][link]))

    def nvmlDeviceGetNvLinkRemoteDeviceType(self, handle: int, link: int) -> int:
        return int(self._answer(self._dev(handle)["nvlink_remote"][link]))

    c_nvmlGpuFabricInfoV_t = _FabricInfo

    def nvmlDeviceGetGpuFabricInfo(self, handle: int, ref: Any) -> int:
        info = _deref(ref)
        fabric = self._answer(self._dev(handle)["fabric"])
        info.state, info.status = int(fabric["state"]), int(fabric["status"])
        return 0

    def nvmlDeviceGetGpuFabricInfoV(self, handle: int, ref: Any) -> int:
        """Recorded as ``fabricV``; dumps from before it was recorded answer FUNCTION_NOT_FOUND."""
        info = _deref(ref)
        fabric = self._answer(self._dev(handle).get("fabricV", {"error": 13, "text": "Function Not Found"}))
        info.state, info.status = int(fabric["state"]), int(fabric["status"])
        return 0


class Without:
    """A module-like view of ``inner`` that lacks some functions (an old nvidia-ml-py)."""

    def __init__(self, inner: Any, *names: str) -> None:
        self._inner = inner
        self._names = set(names)

    def __getattr__(self, name: str) -> Any:
        if name in self._names:
            raise AttributeError(name)
        return getattr(self._inner, name)


class FakeRunner:
    """The process door, replaying canned results by program name (``nvidia-smi``) and recording calls."""

    def __init__(self, results: Mapping[str, Result] | None = None) -> None:
        self.results = dict(results or {})
        self.calls: list[tuple[tuple[str, ...], float]] = []

    def __call__(self, argv: Sequence[str], timeout: float) -> Result:
        args = tuple(argv)
        self.calls.append((args, timeout))
        name = Path(args[0]).name
        if name in self.results:
            return self.results[name]
        return Result(args, None, error=f"{name}: not found")


def make_root(base: Path, files: Mapping[str, str | bytes], links: Mapping[str, str] | None = None) -> Path:
    """A fake filesystem root holding ``files`` (path relative to ``/``) and symbolic ``links``."""
    base.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    for rel, target in (links or {}).items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
    return base


def recorded_root(base: Path, host: str) -> Path:
    """A fake root holding the ``/proc``, ``/sys``, ``/dev`` and ``/etc`` files recorded on ``host``."""
    files: dict[str, str | bytes] = {
        "proc/driver/nvidia/version": recording(host, "proc_driver_version.txt"),
        "sys/module/nvidia/version": recording(host, "sys_module_version.txt"),
        "sys/module/nvidia/taint": recording(host, "sys_module_taint.txt"),
        "etc/os-release": recording(host, "os-release.txt"),
    }
    info = json.loads(recording(host, "gpu_information.json"))
    pci = json.loads(recording(host, "pci_device.json"))
    for n, (bus, text) in enumerate(sorted(info.items())):
        files[f"proc/driver/nvidia/gpus/{bus}/information"] = text
        files[f"sys/bus/pci/devices/{bus.lower()}/device"] = pci.get(bus, "")
        files[f"dev/nvidia{n}"] = ""
    return make_root(base, files)


def make_site(
    base: Path,
    packages: Sequence[tuple[str, str, Sequence[str]]],
    files: Mapping[str, str] | None = None,
) -> Path:
    """A fake site-packages: ``(name, version, requires)`` dist-info folders plus extra ``files``."""
    base.mkdir(parents=True, exist_ok=True)
    for name, version, requires in packages:
        dist = base / f"{name.replace('-', '_')}-{version}.dist-info"
        dist.mkdir()
        lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        lines += [f"Requires-Dist: {r}" for r in requires]
        (dist / "METADATA").write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    for rel, text in (files or {}).items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return base
