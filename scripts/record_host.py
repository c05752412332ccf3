"""Record this host for cudalign's tests: the probed Host JSON plus the raw outputs its parsers read.

Run on a GPU machine:  ``PYTHONPATH=src python3 scripts/record_host.py --name h100 --out DIR [--torch]``.
It writes one ``DIR/<name>.recording.json`` bundle: the host (UUIDs and hostname masked), what NVML
answered function by function (replayed by the tests' fake NVML), the nvidia-smi CSV query, the
``/proc`` and ``/sys`` files, ``/etc/os-release``, ``torch/version.py`` and, with ``--torch``, torch's
own view (arch list, cuDNN, NCCL) to check the probe against. ``split`` turns a bundle into the files
under ``tests/recordings/probe/<name>/`` and ``tests/hosts/<name>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "mask", "nvml_dump", "record", "split"]

_UUID = re.compile(r"\b(GPU|MIG)-[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b")
RAW_FILES = {
    "proc_driver_version.txt": "/proc/driver/nvidia/version",
    "sys_module_version.txt": "/sys/module/nvidia/version",
    "sys_module_taint.txt": "/sys/module/nvidia/taint",
    "os-release.txt": "/etc/os-release",
    "cuda_version.json": "/usr/local/cuda/version.json",
}
TORCH_VIEW = (
    "import json, torch\n"
    "c = torch.cuda\n"
    "print(json.dumps({'version': torch.__version__, 'cuda': torch.version.cuda,"
    " 'arch_list': c.get_arch_list(), 'cudnn': torch.backends.cudnn.version(),"
    " 'nccl': list(c.nccl.version()) if c.is_available() else None,"
    " 'devices': [[c.get_device_name(i), list(c.get_device_capability(i))]"
    " for i in range(c.device_count())]}))\n"
)


def mask(text: str) -> str:
    """Hide GPU and MIG UUIDs (``GPU-<hidden>``), keeping everything else byte for byte."""
    return _UUID.sub(lambda m: f"{m.group(1)}-<hidden>", text)


def _call(fn: Any, *args: Any) -> Any:
    try:
        value = fn(*args)
    except Exception as exc:
        return {"error": getattr(exc, "value", None), "text": str(exc)}
    if isinstance(value, bytes):
        return value.decode()
    return value


def nvml_dump() -> dict[str, Any]:
    """NVML's answers, function by function, in the shape tests/probe/fakes.py replays."""
    import pynvml as n

    dump: dict[str, Any] = {"init": _call(n.nvmlInit)}
    if isinstance(dump["init"], dict):
        return dump
    dump["driver"] = _call(n.nvmlSystemGetDriverVersion)
    dump["cuda_v2"] = _call(n.nvmlSystemGetCudaDriverVersion_v2)
    count = _call(n.nvmlDeviceGetCount)
    dump["count"] = count
    devices = []
    for i in range(count if isinstance(count, int) else 0):
        try:
            devices.append(_device(n, i))
        except Exception as exc:  # record what broke rather than lose the whole recording
            devices.append({"error": getattr(exc, "value", None), "text": str(exc)})
    dump["devices"] = devices
    n.nvmlShutdown()
    return dump


def _device(n: Any, i: int) -> dict[str, Any]:
    h = n.nvmlDeviceGetHandleByIndex(i)
    pci = n.nvmlDeviceGetPciInfo(h)
    mem = n.nvmlDeviceGetMemoryInfo(h)
    d: dict[str, Any] = {
        "name": _call(n.nvmlDeviceGetName, h),
        "pciDeviceId": pci.pciDeviceId,
        "busId": pci.busId.decode() if isinstance(pci.busId, bytes) else pci.busId,
        "cc": _call(n.nvmlDeviceGetCudaComputeCapability, h),
        "memory_total": mem.total,
        "mig": _call(n.nvmlDeviceGetMigMode, h),
        "uuid": mask(str(_call(n.nvmlDeviceGetUUID, h))),
        "nvlink": [_call(n.nvmlDeviceGetNvLinkState, h, link) for link in range(18)],
        "nvlink_remote": [_call(n.nvmlDeviceGetNvLinkRemoteDeviceType, h, link) for link in range(18)],
    }
    info = n.c_nvmlGpuFabricInfo_t()
    err = _call(n.nvmlDeviceGetGpuFabricInfo, h, ctypes.byref(info))
    d["fabric"] = err if isinstance(err, dict) else {"state": int(info.state), "status": int(info.status)}
    if hasattr(n, "c_nvmlGpuFabricInfoV_t") and hasattr(n, "nvmlDeviceGetGpuFabricInfoV"):
        info = n.c_nvmlGpuFabricInfoV_t()
        err = _call(n.nvmlDeviceGetGpuFabricInfoV, h, ctypes.byref(info))
        d["fabricV"] = (
            err if isinstance(err, dict) else {"state": int(info.state), "status": int(info.status)}
        )
    return d


def compare_bindings() -> dict[str, Any]:
    """read_nvml through cudalign's own ctypes binding and through pynvml: they must agree."""
    import dataclasses

    import pynvml

    from cudalign.probe.libnvml import load
    from cudalign.probe.nvml import read_nvml

    timings, results = {}, {}
    for label, module in (("libnvml", load()), ("pynvml", pynvml)):
        start = time.perf_counter()
        results[label] = dataclasses.asdict(read_nvml(module))
        timings[label] = (time.perf_counter() - start) * 1000
    for r in results.values():
        r["gpus"] = [{**g, "uuid": mask(str(g["uuid"]))} for g in r["gpus"]]
    agree = results["libnvml"] == results["pynvml"]
    return {"agree": agree, "ms": timings, **({} if agree else results)}


def record(name: str, with_torch: bool) -> dict[str, Any]:
    from cudalign.probe import probe
    from cudalign.probe.run import run
    from cudalign.probe.smi import query_argv

    start = time.perf_counter()
    host = probe()
    seconds = time.perf_counter() - start
    raw: dict[str, Any] = {}
    for key, path in RAW_FILES.items():
        try:
            raw[key] = mask(Path(path).read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            raw[key] = None
            raw[f"{key}.error"] = str(exc)
    gpus = sorted(Path("/proc/driver/nvidia/gpus").glob("*/information"))
    raw["gpu_information"] = {p.parent.name: mask(p.read_text(encoding="utf-8")) for p in gpus}
    raw["pci_device"] = {}
    for p in gpus:
        with contextlib.suppress(OSError):
            raw["pci_device"][p.parent.name] = Path(
                f"/sys/bus/pci/devices/{p.parent.name.lower()}/device"
            ).read_text()
    smi = run(query_argv(), 20)
    raw["nvidia_smi_query.csv"] = mask(smi.stdout)
    raw["nvidia_smi_query.seconds"] = smi.seconds
    torch = host.package("torch")
    if torch and torch.location:
        raw["torch_version.py"] = (Path(torch.location) / "torch/version.py").read_text(encoding="utf-8")
    bundle: dict[str, Any] = {
        "bindings": compare_bindings(),
        "name": name,
        "probe_seconds": seconds,
        "host": host.to_json(),
        "nvml": nvml_dump(),
        "raw": raw,
    }
    if with_torch:
        res = run([sys.executable, "-c", TORCH_VIEW], 180)
        bundle["torch_view"] = (
            json.loads(res.stdout.strip().splitlines()[-1]) if res.ok else {"error": res.why}
        )
    return bundle


def split(bundle_path: Path, repo: Path) -> None:
    """Write a bundle's parts where the tests read them."""
    bundle = json.loads(bundle_path.read_text(encoding="utf-8"))
    name = bundle["name"]
    out = repo / "tests/recordings/probe" / name
    out.mkdir(parents=True, exist_ok=True)
    for key, value in bundle["raw"].items():
        if isinstance(value, str) and not key.endswith(".error"):
            # a recorded .py file is data, not a module for mypy or pytest to pick up
            (out / (f"{key}.txt" if key.endswith(".py") else key)).write_text(value, encoding="utf-8")
    for key in ("gpu_information", "pci_device"):
        (out / f"{key}.json").write_text(json.dumps(bundle["raw"][key], indent=1) + "\n", encoding="utf-8")
    (out / "nvml.json").write_text(json.dumps(bundle["nvml"], indent=1) + "\n", encoding="utf-8")
    if "torch_view" in bundle:
        (out / "torch_view.json").write_text(
            json.dumps(bundle["torch_view"], indent=1) + "\n", encoding="utf-8"
        )
    hosts = repo / "tests/hosts"
    hosts.mkdir(parents=True, exist_ok=True)
    (hosts / f"{name}.json").write_text(json.dumps(bundle["host"], indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="cmd")
    r = sub.add_parser("record", help="probe this host and write a bundle")
    r.add_argument("--name", required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--torch", action="store_true", help="also record torch's own view (imports torch)")
    s = sub.add_parser("split", help="turn a bundle into test recordings")
    s.add_argument("bundle", type=Path)
    s.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    if args.cmd == "record":
        args.out.mkdir(parents=True, exist_ok=True)
        bundle = record(args.name, args.torch)
        path = args.out / f"{args.name}.recording.json"
        path.write_text(json.dumps(bundle, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path} (probe took {bundle['probe_seconds'] * 1000:.0f} ms)")
        print(f"bindings: {json.dumps(bundle['bindings'])[:2000]}")
        return 0
    if args.cmd == "split":
        split(args.bundle, args.repo)
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
