"""This machine -> one frozen :class:`~cudalign.model.Host`: the only code that reads the machine.

Sources, best first: NVML (driver, CUDA, GPUs, NVLink, fabric manager), ``cuDriverGetVersion`` from
``libcuda.so.1``, ``/proc/driver/nvidia`` and ``/sys/module/nvidia``, then ``nvidia-smi --query-gpu``
as CSV. Every call that could hang (NVML, libcuda, a subprocess) is bounded by ``timeout``; a value
that could not be read is ``None`` with its reason in the owner's ``unknown`` mapping. Nothing here
raises for a machine it does not like: a host without a driver is a valid answer.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from cudalign._dataclass import replace
from cudalign.model import ComputeCapability, DriverInfo, Gpu, Host
from cudalign.probe.container import read_container
from cudalign.probe.env import read_env
from cudalign.probe.libcuda import read_cuda_driver_version
from cudalign.probe.nvml import NvmlResult, read_nvml
from cudalign.probe.packages import (
    find_system_library,
    read_packages,
    read_toolkits,
    torch_libraries,
)
from cudalign.probe.run import Runner
from cudalign.probe.run import run as default_run
from cudalign.probe.smi import read_smi
from cudalign.probe.sysfs import nvml_library_version, read_kernel_module, read_sysfs_gpus
from cudalign.probe.system import read_os

__all__ = ["DEFAULT_TIMEOUT", "MAX_TIMEOUT", "mask_uuid", "probe", "target_python"]

DEFAULT_TIMEOUT = 3.0
MAX_TIMEOUT = 3600.0
HOSTNAME_MASK = "<hidden>"
T = TypeVar("T")


def mask_uuid(uuid: str) -> str:
    """``GPU-8f6c…`` -> ``GPU-<hidden>`` (the prefix says what kind of device it is)."""
    prefix, sep, _ = uuid.partition("-")
    return f"{prefix}-<hidden>" if sep and prefix.isalpha() else "<hidden>"


def _bounded(fn: Callable[[], T], timeout: float, what: str) -> tuple[T | None, str | None]:
    """Run ``fn`` in a daemon thread; give up after ``timeout`` (a hung driver call cannot be killed)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # report anything, raise nothing out of the probe
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"cudalign-{what}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return None, f"{what} did not answer within {timeout:g} s"
    if "error" in box:
        return None, f"{what} failed: {box['error']}"
    return box.get("value"), None


def _nvml(nvml: Any, timeout: float) -> NvmlResult:
    def ask() -> NvmlResult:
        if nvml is not None:
            return read_nvml(nvml)
        from cudalign.probe.libnvml import load

        return read_nvml(load())

    result, why = _bounded(ask, timeout, "NVML")
    return result if result is not None else NvmlResult("error", why)


_PYTHON_QUERY = "import json,platform,sys;print(json.dumps([platform.python_version(),sys.path]))"


def target_python(python: str, run: Runner, timeout: float) -> tuple[str | None, list[str], str | None]:
    """``(version, sys.path, why)`` of another interpreter, asked through the process door."""
    import json

    result = run([python, "-c", _PYTHON_QUERY], timeout)
    if not result.ok:
        return None, [], f"{python}: {result.why}"
    lines = result.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except (ValueError, RecursionError):
        answer = None
    if (
        isinstance(answer, list)
        and len(answer) == 2
        and isinstance(answer[0], str)
        and answer[0][:1].isdigit()
        and isinstance(answer[1], list)
        and all(isinstance(p, str) for p in answer[1])
    ):
        return answer[0], [p for p in answer[1] if p], None
    return None, [], f"{python}: unexpected answer"


def _gpu(g: Any, unknown: Mapping[str, str] | None = None) -> Gpu:
    """A model GPU from what NVML or the nvidia-smi query read (both carry the same fields)."""
    return Gpu(
        index=g.index,
        name=g.name,
        cc=ComputeCapability(*g.cc) if g.cc else None,
        pci_device_id=g.pci_device_id,
        memory_mib=g.memory_mib,
        mig_mode=g.mig_mode,
        uuid=g.uuid,
        unknown=dict(unknown or {}),
    )


def _gpus_from_sources(
    nv: NvmlResult, run: Runner, timeout: float, root: Path, smi: str, unknown: dict[str, str]
) -> tuple[list[Gpu], str | None, str | None]:
    """GPUs, plus ``(driver version, source)`` from the fallbacks when NVML gave none."""
    if nv.status == "ok":
        gpus = [
            _gpu(g, {k.split(".", 1)[1]: v for k, v in nv.notes if k.startswith(f"gpus[{g.index}].")})
            for g in nv.gpus
        ]
        if not gpus:
            unknown["gpus"] = "NVML lists no GPUs (none attached, all hidden, or all excluded)"
        return gpus, nv.driver, "nvml" if nv.driver else None
    if nv.status != "mismatch":
        res = read_smi(run, timeout, smi)
        if res.gpus:
            return (
                [_gpu(g) for g in res.gpus],
                res.driver,
                "nvidia-smi" if res.driver else None,
            )
        unknown["nvidia-smi"] = res.why or "no answer"
    listed = read_sysfs_gpus(root)
    # /proc/driver/nvidia is the host kernel's and shows through into containers; a GPU is usable here
    # only if its device node was given to us (the container toolkit adds /dev/nvidiaN per visible GPU).
    sysfs = [g for g in listed if g.minor is None or (root / f"dev/nvidia{g.minor}").exists()]
    if not sysfs:
        why = (
            f"the kernel lists {len(listed)} GPU(s) in /proc/driver/nvidia/gpus, but no /dev/nvidiaN device "
            "node is present (a container started without GPU access?)"
            if listed
            else "no GPU found (NVML, nvidia-smi and /proc/driver/nvidia/gpus list none)"
        )
        unknown.setdefault("gpus", why)
        return [], None, None
    return (
        [
            Gpu(
                index=i,
                name=g.name or "unknown NVIDIA GPU",
                pci_device_id=g.pci_device_id,
                uuid=g.uuid,
                unknown={"cc": "not read: NVML unavailable; /proc does not give it"},
            )
            for i, g in enumerate(sysfs)
        ],
        None,
        None,
    )


def _driver(
    nv: NvmlResult,
    root: Path,
    version: str | None,
    source: str | None,
    libcuda_loader: Callable[[str], Any] | None,
    timeout: float,
    unknown: dict[str, str],
) -> DriverInfo | None:
    """The driver from every source's answer; ``None`` (why: ``unknown['driver']``) when there is none."""
    module = read_kernel_module(root)
    drv_unknown: dict[str, str] = {}
    cuda = nv.cuda if nv.status == "ok" else None
    if cuda is None:
        found, why = _bounded(lambda: read_cuda_driver_version(libcuda_loader), timeout, "libcuda")
        cuda, why = found if found is not None else (None, why)
        if cuda is None:
            drv_unknown["cuda"] = why or "unknown"
    mismatch = nv.status == "mismatch"
    if (mismatch or version is None) and module.version:
        version, source = module.version, module.source
    if version is None:
        reasons = [r for r in (nv.why, module.why, unknown.get("nvidia-smi")) if r]
        unknown["driver"] = "no NVIDIA driver found: " + "; ".join(reasons or ["no source answered"])
        return None
    if module.flavour is None:
        drv_unknown["kernel_module"] = "neither /proc/driver/nvidia/version nor /sys/module/nvidia/taint says"
    if nv.status != "ok" and nv.why:
        drv_unknown["nvml"] = nv.why
    library_version = nvml_library_version(root) if mismatch else None
    return DriverInfo(
        version=version,
        cuda=cuda,
        kernel_module=module.flavour,
        source=source,
        nvml_mismatch=mismatch,
        library_version=library_version if library_version != version else None,
        unknown=drv_unknown,
    )


def _python(
    python: str | None, site_dirs: Sequence[str] | None, run: Runner, timeout: float, unknown: dict[str, str]
) -> tuple[str | None, Sequence[str]]:
    """The Python version that matters and the folders its packages live in."""
    if python is None:
        return platform.python_version(), site_dirs if site_dirs is not None else sys.path
    version, path, why = target_python(python, run, timeout)
    if why:
        unknown["python"] = why
    return version, site_dirs if site_dirs is not None else path


def probe(
    *,
    show_uuids: bool = False,
    show_hostname: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    python: str | None = None,
    run: Runner | None = None,
    root: Path | str = "/",
    nvml: Any = None,
    libcuda_loader: Callable[[str], Any] | None = None,
    environ: Mapping[str, str] | None = None,
    uname: Mapping[str, str] | None = None,
    site_dirs: Sequence[str] | None = None,
    smi: str = "nvidia-smi",
) -> Host:
    """Snapshot this machine. Every keyword after ``timeout`` exists so tests can replace a source.

    Raises :class:`~cudalign.errors.InvalidInput` when ``timeout`` is not a number of seconds above 0
    and at most :data:`MAX_TIMEOUT`.
    """
    if not (math.isfinite(timeout) and 0 < timeout <= MAX_TIMEOUT):
        from cudalign.errors import InvalidInput

        raise InvalidInput(
            f"--timeout: {timeout:g} is not a number of seconds above 0 and at most {MAX_TIMEOUT:g}"
        )
    run = run or default_run
    root = Path(root)
    env = os.environ if environ is None else environ
    unknown: dict[str, str] = {}

    nv = _nvml(nvml, timeout)
    gpus, version, source = _gpus_from_sources(nv, run, timeout, root, smi, unknown)
    driver = _driver(nv, root, version, source, libcuda_loader, timeout, unknown)
    unknown.update((key, why) for key, why in nv.notes if not key.startswith("gpus["))
    if not show_uuids:
        gpus = [replace(g, uuid=mask_uuid(g.uuid)) if g.uuid else g for g in gpus]

    py_version, paths = _python(python, site_dirs, run, timeout, unknown)
    packages = read_packages(paths)
    cudnn, nccl = torch_libraries(packages)
    ld = [d for d in env.get("LD_LIBRARY_PATH", "").split(":") if d]
    for lib, out in (("libcudnn", cudnn), ("libnccl", nccl)):
        system = find_system_library(root, lib, ld)
        if system:
            out["system"] = system

    hostname: str | None = HOSTNAME_MASK
    if show_hostname:
        import socket

        try:
            hostname = socket.gethostname()
        except OSError:
            hostname = None
    return Host(
        origin="probe",
        hostname=hostname,
        python=py_version,
        os=read_os(root, uname),
        driver=driver,
        gpus=tuple(gpus),
        nvlink=nv.nvlink,
        nvswitch=nv.nvswitch,
        fabric_manager=nv.fabric_manager,
        container=read_container(root, env),
        env=read_env(env),
        packages=packages,
        cudnn=cudnn,
        nccl=nccl,
        cuda_toolkits=read_toolkits(root),
        unknown=unknown,
    )
