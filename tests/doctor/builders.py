"""Built hosts: each one made by running the real probe() over fake sources, then saved as JSON.

``python -m tests.doctor.builders`` (or ``python tests/doctor/builders.py``) rewrites
``tests/hosts/<name>.json``; ``test_hosts.py`` checks the saved files still equal what this builds, so
no host file is edited by hand. GPU identities (NVML name, PCI id, memory) come from the knowledge base.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from cudalign.facts import Facts, load
from cudalign.model import Host
from cudalign.probe import probe
from cudalign.probe.run import Result

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from probe.fakes import FakeNvml, FakeRunner, make_root, make_site, recorded_root  # noqa: E402

__all__ = ["BUILDERS", "HOSTS", "build", "build_all", "main"]

HOSTS = TESTS / "hosts"
SITE = "/usr/local/lib/python3.12/dist-packages"
UNAME = {"system": "Linux", "release": "6.8.0-60-generic", "machine": "x86_64"}
UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n'
Pkg = tuple[str, str, Sequence[str]]


class _NoLibcuda:
    def __call__(self, name: str) -> Any:
        raise OSError(f"{name}: cannot open shared object file: No such file or directory")


def _torch(version: str, cuda: str | None) -> tuple[Pkg, dict[str, str]]:
    public = version.split("+")[0]
    text = f"__version__ = '{version}'\ncuda: Optional[str] = {cuda!r}\nhip: Optional[str] = None\n"
    return ("torch", public, ()), {"torch/version.py": text}


def _nvml_gpu(facts: Facts, name: str, *, mig: int = 0) -> dict[str, Any]:
    """One NVML device answer for a knowledge-base GPU."""
    fact = facts.gpu(name)
    nvml_name = (fact.get("nvml_names") or (fact["name"],))[0]
    pci = int(fact["pci_ids"][0], 16)
    gib = float(max(fact.get("memory_gb") or (16.0,)))
    cc = fact["cc"]
    return {
        "name": nvml_name,
        "pciDeviceId": (pci << 16) | 0x10DE,
        "busId": "00000000:01:00.0",
        "cc": [cc.major, cc.minor],
        "memory_total": int(gib * 1000**3),
        "mig": [mig, mig] if fact["segment"] == "datacenter" else {"error": 3, "text": "Not Supported"},
        "uuid": "GPU-<hidden>",
        "nvlink": [{"error": 3, "text": "Not Supported"}] * 18,
        "nvlink_remote": [{"error": 3, "text": "Not Supported"}] * 18,
        "fabric": {"state": 0, "status": 0},
    }


def _nvml(driver: str, cuda: int, gpus: list[dict[str, Any]]) -> FakeNvml:
    return FakeNvml({"init": None, "driver": driver, "cuda_v2": cuda, "count": len(gpus), "devices": gpus})


def _proc(version: str, flavour: str) -> dict[str, str | bytes]:
    line = (
        f"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  {version}  Release Build  (builder@U22)\n"
        if flavour == "open"
        else f"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {version}  Thu Oct 19 18:56:32 UTC 2023\n"
    )
    return {
        "proc/driver/nvidia/version": line,
        "sys/module/nvidia/version": f"{version}\n",
        "sys/module/nvidia/taint": "OE\n" if flavour == "open" else "POE\n",
    }


def _finish(host: Host) -> Host:
    """Make the host independent of the machine and temp folder that built it."""
    pkgs = tuple(replace(p, location=SITE) for p in host.packages)
    return replace(host, python="3.12.3", packages=pkgs, os=replace(host.os, glibc="2.35"))


def _probe(
    tmp: Path,
    *,
    files: dict[str, str | bytes] | None = None,
    root: Path | None = None,
    nvml: Any,
    packages: Sequence[Pkg] = (),
    site_files: dict[str, str] | None = None,
    environ: dict[str, str] | None = None,
    runner: FakeRunner | None = None,
) -> Host:
    root = root or make_root(tmp / "root", {"etc/os-release": UBUNTU, **(files or {})})
    site = make_site(tmp / "site", packages, site_files)
    host = probe(
        root=root,
        nvml=nvml,
        run=runner or FakeRunner(),
        environ=environ or {},
        uname=UNAME,
        site_dirs=[str(site)],
        libcuda_loader=_NoLibcuda(),
    )
    return _finish(host)


def no_driver(facts: Facts, tmp: Path) -> Host:
    pkg, files = _torch("2.9.0+cpu", None)
    return _probe(tmp, nvml=FakeNvml({"init": {"error": 12, "text": "NVML Shared Library Not Found"}}),
                  packages=[pkg], site_files=files)  # fmt: skip


def driver_no_gpu(facts: Facts, tmp: Path) -> Host:
    pkg, files = _torch("2.9.0+cu128", "12.8")
    return _probe(tmp, files=_proc("580.95.05", "open"), nvml=_nvml("580.95.05", 13000, []),
                  packages=[pkg], site_files=files)  # fmt: skip


def rtx5090_driver570(facts: Facts, tmp: Path) -> Host:
    """torch 2.6.0+cu124 has no sm_120: the RTX 5090 cannot run it (CA201)."""
    pkg, files = _torch("2.6.0+cu124", "12.4")
    return _probe(
        tmp,
        files=_proc("570.133.07", "open"),
        nvml=_nvml("570.133.07", 12080, [_nvml_gpu(facts, "RTX 5090")]),
        packages=[pkg, ("torchvision", "0.21.0+cu124", ["torch==2.6.0"])],
        site_files=files,
    )


def driver470(facts: Facts, tmp: Path) -> Host:
    """Driver 470 (CUDA 11.4) under a CUDA 12.1 torch (CA101)."""
    pkg, files = _torch("2.5.1+cu121", "12.1")
    return _probe(
        tmp,
        files=_proc("470.256.02", "proprietary"),
        nvml=_nvml("470.256.02", 11040, [_nvml_gpu(facts, "NVIDIA A100-SXM4-40GB")]),
        packages=[pkg],
        site_files=files,
    )


def nvml_mismatch(facts: Facts, tmp: Path) -> Host:
    """Libraries upgraded to 550.127.05, module 550.90.07 still loaded (CA105)."""
    fact = facts.gpu("NVIDIA L40S")
    name = (fact.get("nvml_names") or (fact["name"],))[0]
    files = {
        **_proc("550.90.07", "proprietary"),
        "proc/driver/nvidia/gpus/0000:41:00.0/information": f"Model: \t\t {name}\nGPU UUID: \t GPU-<hidden>\n"
        "Bus Location: \t 0000:41:00.0\nDevice Minor: \t 0\n",
        "sys/bus/pci/devices/0000:41:00.0/device": f"{fact['pci_ids'][0]}\n",
        "dev/nvidia0": "",
        "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.127.05": "",
    }
    root = make_root(tmp / "root", {"etc/os-release": UBUNTU, **files})
    (root / "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1").symlink_to("libnvidia-ml.so.550.127.05")
    pkg, site_files = _torch("2.5.1+cu124", "12.4")
    mismatch = FakeNvml({"init": {"error": 18, "text": "RM has detected an NVML/RM version mismatch."}})
    return _probe(tmp, root=root, nvml=mismatch, packages=[pkg], site_files=site_files)


def mig_enabled(facts: Facts, tmp: Path) -> Host:
    pkg, files = _torch("2.9.0+cu128", "12.8")
    return _probe(
        tmp,
        files=_proc("580.95.05", "open"),
        nvml=_nvml("580.95.05", 13000, [_nvml_gpu(facts, "NVIDIA H100 80GB HBM3", mig=1)]),
        packages=[pkg],
        site_files=files,
    )


def container_no_visible_devices(facts: Facts, tmp: Path) -> Host:
    """docker run without --gpus: /proc shows the host's driver, but no libraries and no /dev/nvidia*."""
    root = recorded_root(tmp / "root", "h100")
    (root / "dev/nvidia0").unlink()
    (root / ".dockerenv").write_text("")
    pkg, files = _torch("2.9.0+cu128", "12.8")
    missing = FakeNvml({"init": {"error": 12, "text": "NVML Shared Library Not Found"}})
    return _probe(tmp, root=root, nvml=missing, packages=[pkg], site_files=files)


def smi_hang(facts: Facts, tmp: Path) -> Host:
    """No nvidia-ml-py, and nvidia-smi hangs until killed: /proc and /sys still give driver and GPU."""
    hung = Result(("nvidia-smi",), None, timed_out=True, error="nvidia-smi timed out after 3 s")
    pkg, files = _torch("2.11.0+cu130", "13.0")
    return _probe(
        tmp,
        root=recorded_root(tmp / "root", "h100"),
        nvml=FakeNvml({"init": {"error": 999, "text": "nvidia-ml-py (pynvml) is not installed"}}),
        runner=FakeRunner({"nvidia-smi": hung}),
        packages=[pkg],
        site_files=files,
    )


def h100_mixed_cuda(facts: Facts, tmp: Path) -> Host:
    """torch built for CUDA 13.0 beside a torchvision built for CUDA 12.6 (CA303)."""
    pkg, files = _torch("2.9.0+cu130", "13.0")
    return _probe(
        tmp,
        root=recorded_root(tmp / "root", "h100"),
        nvml=FakeNvml.recorded("h100"),
        packages=[pkg, ("torchvision", "0.24.0+cu126", ["torch==2.9.0"])],
        site_files=files,
    )


def h100_vllm_pin(facts: Facts, tmp: Path) -> Host:
    """vLLM 0.11.0 pins torch==2.8.0, but torch 2.9.0 is installed (CA301)."""
    pkg, files = _torch("2.9.0+cu128", "12.8")
    requires = ["torch==2.8.0", "torchvision==0.23.0", "xformers==0.0.32.post1; platform_system == 'Linux'"]
    return _probe(
        tmp,
        root=recorded_root(tmp / "root", "h100"),
        nvml=FakeNvml.recorded("h100"),
        packages=[pkg, ("vllm", "0.11.0", requires)],
        site_files=files,
    )


BUILDERS: dict[str, Callable[[Facts, Path], Host]] = {
    "no-driver": no_driver,
    "driver-no-gpu": driver_no_gpu,
    "rtx5090-driver570": rtx5090_driver570,
    "driver470": driver470,
    "nvml-mismatch": nvml_mismatch,
    "mig-enabled": mig_enabled,
    "container-no-visible-devices": container_no_visible_devices,
    "smi-hang": smi_hang,
    "h100-mixed-cuda": h100_mixed_cuda,
    "h100-vllm-pin": h100_vllm_pin,
}


def build(name: str, facts: Facts | None = None) -> Host:
    with tempfile.TemporaryDirectory() as tmp:
        return BUILDERS[name](facts or load(), Path(tmp))


def build_all() -> dict[str, Host]:
    facts = load()
    return {name: build(name, facts) for name in BUILDERS}


def main() -> int:
    for name, host in build_all().items():
        (HOSTS / f"{name}.json").write_text(json.dumps(host.to_json(), indent=2) + "\n", encoding="utf-8")
        print(f"wrote tests/hosts/{name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
