"""probe() end to end, its sources replaced by recordings from a real H100 host and by built failures."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cudalign.model import ComputeCapability, Host, host_from_json
from cudalign.probe import mask_uuid, probe
from cudalign.probe.run import Result
from cudalign.probe.smi import query_argv

from .fakes import RECORDINGS, FakeNvml, FakeRunner, make_root, make_site, recorded_root, recording

HOSTS = Path(__file__).resolve().parents[1] / "hosts"
REAL_HOSTS = ("h100", "h200x2")


def _real(name: str) -> dict[str, Any]:
    return json.loads((HOSTS / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


class _NoLibcuda:
    def __call__(self, name: str) -> object:
        raise OSError(f"{name}: cannot open shared object file")


def _smi_ok(host: str) -> FakeRunner:
    csv = recording(host, "nvidia_smi_query.csv")
    return FakeRunner({"nvidia-smi": Result(tuple(query_argv()), 0, csv)})


def _recorded_site(base: Path, name: str) -> Path:
    """A site-packages holding the packages the real host had, with its real torch/version.py."""
    pkgs = [(p["name"], p["version"].split("+")[0], p["requires"]) for p in _real(name)["packages"]]
    return make_site(base, pkgs, {"torch/version.py": recording(name, "torch_version.py.txt")})


def _replay(tmp_path: Path, name: str) -> Host:
    return probe(
        root=recorded_root(tmp_path / "root", name),
        nvml=FakeNvml.recorded(name),
        run=_smi_ok(name),
        environ={"NVIDIA_VISIBLE_DEVICES": "0", "HF_TOKEN": "hf_abc"},
        site_dirs=[str(_recorded_site(tmp_path / "site", name))],
        libcuda_loader=_NoLibcuda(),
        uname={"system": "Linux", "release": "6.18.44", "machine": "x86_64"},
    )


@pytest.fixture
def h100(tmp_path: Path) -> Host:
    return _replay(tmp_path, "h100")


@pytest.mark.parametrize("name", REAL_HOSTS)
def test_replay_matches_the_real_probe(name: str, tmp_path: Path) -> None:
    """The fakes replay what the real machine answered: same driver and GPUs as probed there."""
    replayed = _replay(tmp_path, name)
    real = host_from_json(_real(name))
    assert real.driver is not None and replayed.driver is not None
    assert (replayed.driver.version, replayed.driver.cuda, replayed.driver.kernel_module) == (
        real.driver.version,
        real.driver.cuda,
        real.driver.kernel_module,
    )
    assert replayed.driver.source == "nvml"
    assert [(g.name, g.cc, g.pci_device_id, g.memory_mib, g.mig_mode) for g in replayed.gpus] == [
        (g.name, g.cc, g.pci_device_id, g.memory_mib, g.mig_mode) for g in real.gpus
    ]


def test_h100_values(h100: Host) -> None:
    assert h100.driver is not None
    assert (h100.driver.version, h100.driver.cuda, h100.driver.kernel_module) == (
        "580.159.04",
        "13.0",
        "open",
    )
    assert h100.gpus[0].cc == ComputeCapability(9, 0)
    assert (h100.nvlink, h100.nvswitch, h100.fabric_manager) == (False, False, "n/a")


def test_h200_pair_has_nvlink_nvswitch_and_a_running_fabric(tmp_path: Path) -> None:
    """Checked by hand on that host: `nvidia-smi topo -m` showed NV18, `nvidia-smi -q` Fabric State
    Completed / Status Success."""
    host = _replay(tmp_path, "h200x2")
    assert [(g.index, g.name, str(g.cc), g.pci_device_id) for g in host.gpus] == [
        (0, "NVIDIA H200", "9.0", "0x2335"),
        (1, "NVIDIA H200", "9.0", "0x2335"),
    ]
    assert (host.nvlink, host.nvswitch, host.fabric_manager) == (True, True, "running")


@pytest.mark.parametrize("name", REAL_HOSTS)
def test_matches_nvidia_smi_csv(name: str, tmp_path: Path) -> None:
    """What NVML gave agrees with nvidia-smi's CSV recorded on the same machine."""
    host = _replay(tmp_path, name)
    rows = [
        [v.strip() for v in line.split(",")] for line in recording(name, "nvidia_smi_query.csv").splitlines()
    ]
    assert len(rows) == len(host.gpus)
    for row, gpu in zip(rows, host.gpus, strict=True):
        driver, gpu_name, pci, cc, mem = row[:5]
        assert host.driver is not None and host.driver.version == driver
        assert (gpu.name, str(gpu.cc), str(gpu.memory_mib)) == (gpu_name, cc, mem)
        assert pci.lower().startswith(gpu.pci_device_id or "?")


@pytest.mark.parametrize("name", REAL_HOSTS)
def test_packages_match_torchs_own_view(name: str, tmp_path: Path) -> None:
    """Read without importing torch, yet equal to what torch itself reported on that host."""
    view = json.loads(recording(name, "torch_view.json"))
    host = _replay(tmp_path, name)
    torch = host.package("torch")
    assert torch is not None
    assert torch.version == view["version"] == "2.11.0+cu130"
    assert torch.cuda == view["cuda"]
    n = view["cudnn"]  # 91900 -> 9.19.0
    assert host.cudnn["torch"].startswith(f"{n // 10000}.{n // 100 % 100}.{n % 100}")
    assert host.nccl["torch"] == ".".join(str(x) for x in view["nccl"])
    assert [d[0] for d in view["devices"]] == [g.name for g in host.gpus]
    assert [tuple(d[1]) for d in view["devices"]] == [(g.cc.major, g.cc.minor) for g in host.gpus if g.cc]
    assert "torch" not in sys.modules


def test_uuids_and_secrets_are_masked(h100: Host) -> None:
    assert all(g.uuid == "GPU-<hidden>" for g in h100.gpus)
    assert h100.hostname == "<hidden>"
    assert h100.env["HF_TOKEN"] == "***"
    assert h100.env["NVIDIA_VISIBLE_DEVICES"] == "0"


def test_host_round_trips_through_json(h100: Host) -> None:
    assert host_from_json(json.loads(json.dumps(h100.to_json()))) == h100


def test_show_uuids_keeps_them(tmp_path: Path) -> None:
    dump = json.loads(recording("h100", "nvml.json"))
    dump["devices"][0]["uuid"] = "GPU-12345678-1234-1234-1234-123456789abc"
    host = probe(root=make_root(tmp_path, {}), nvml=FakeNvml(dump), run=FakeRunner(), show_uuids=True)
    assert host.gpus[0].uuid == "GPU-12345678-1234-1234-1234-123456789abc"
    assert mask_uuid(host.gpus[0].uuid) == "GPU-<hidden>"


def test_no_driver_says_why(tmp_path: Path) -> None:
    host = probe(
        root=make_root(tmp_path, {"etc/os-release": "ID=ubuntu\nVERSION_ID=24.04\n"}),
        nvml=FakeNvml({"init": {"error": 12, "text": "NVML Shared Library Not Found"}}),
        run=FakeRunner(),
        libcuda_loader=_NoLibcuda(),
    )
    assert host.driver is None and host.gpus == ()
    why = host.unknown["driver"]
    assert why.startswith("no NVIDIA driver found")
    assert "libnvidia-ml.so.1 not found" in why
    assert "no /proc/driver/nvidia/version" in why
    assert "nvidia-smi: not found" in why


def test_nvml_mismatch_takes_the_kernel_module_version(tmp_path: Path) -> None:
    root = recorded_root(tmp_path, "h100")
    lib = root / "usr/lib/x86_64-linux-gnu"
    lib.mkdir(parents=True)
    (lib / "libnvidia-ml.so.580.95.05").write_text("")
    (lib / "libnvidia-ml.so.1").symlink_to("libnvidia-ml.so.580.95.05")
    runner = FakeRunner()
    host = probe(
        root=root,
        nvml=FakeNvml({"init": {"error": 18, "text": "RM has detected an NVML/RM version mismatch."}}),
        run=runner,
        libcuda_loader=_NoLibcuda(),
    )
    assert host.driver is not None
    assert host.driver.nvml_mismatch is True
    assert host.driver.version == "580.159.04" and host.driver.source == "proc"
    assert host.driver.library_version == "580.95.05"
    assert runner.calls == []  # nvidia-smi would only repeat NVML's failure
    assert [g.name for g in host.gpus] == ["NVIDIA H100 80GB HBM3"]  # from /proc, cc unknown
    assert host.gpus[0].cc is None and "cc" in host.gpus[0].unknown


def test_hanging_nvml_is_abandoned(tmp_path: Path) -> None:
    dump = json.loads(recording("h100", "nvml.json"))
    start = time.monotonic()
    host = probe(
        root=recorded_root(tmp_path, "h100"),
        nvml=FakeNvml(dump, init_delay=5.0),
        run=_smi_ok("h100"),
        timeout=0.3,
        libcuda_loader=_NoLibcuda(),
    )
    assert time.monotonic() - start < 2.5
    assert host.driver is not None and host.driver.source == "nvidia-smi"
    assert "did not answer within 0.3 s" in host.driver.unknown["nvml"]


def test_hanging_nvidia_smi_does_not_hang_probe(tmp_path: Path) -> None:
    """A real subprocess that never answers, through the real process door: killed at the timeout."""
    fake = tmp_path / "bin/nvidia-smi"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    fake.chmod(0o755)
    start = time.monotonic()
    host = probe(
        root=recorded_root(tmp_path / "root", "h100"),
        nvml=FakeNvml({"init": {"error": 9, "text": "Driver Not Loaded"}}),
        smi=str(fake),
        timeout=0.5,
        libcuda_loader=_NoLibcuda(),
    )
    assert time.monotonic() - start < 3.0
    assert "timed out after 0.5 s" in host.unknown["nvidia-smi"]
    assert host.driver is not None and host.driver.version == "580.159.04"  # from /proc
    assert [g.pci_device_id for g in host.gpus] == ["0x2330"]  # from /proc and /sys


def test_container_without_device_nodes_has_no_gpus(tmp_path: Path) -> None:
    root = recorded_root(tmp_path, "h100")
    (root / "dev/nvidia0").unlink()
    (root / ".dockerenv").write_text("")
    host = probe(
        root=root,
        nvml=FakeNvml({"init": {"error": 12, "text": "NVML Shared Library Not Found"}}),
        run=FakeRunner(),
        environ={},
        libcuda_loader=_NoLibcuda(),
    )
    assert host.gpus == ()
    assert "no /dev/nvidiaN device node" in host.unknown["gpus"]
    assert host.container.kind == "docker" and host.container.nvidia_visible_devices is None


def test_target_python_is_asked_through_the_door(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", [("vllm", "0.11.0", ["torch==2.8.0"])])
    answer = json.dumps(["3.10.14", [str(site)]])
    runner = FakeRunner({"python3.10": Result(("python3.10",), 0, answer + "\n")})
    host = probe(
        root=make_root(tmp_path / "r", {}),
        nvml=FakeNvml({"init": {"error": 12}}),
        run=runner,
        python="/opt/py/bin/python3.10",
        libcuda_loader=_NoLibcuda(),
    )
    assert host.python == "3.10.14"
    assert [p.name for p in host.packages] == ["vllm"]


def test_recordings_exist() -> None:
    """The replay above rests on files recorded on a real H100 by scripts/record_host.py."""
    assert (RECORDINGS / "h100" / "nvml.json").is_file()
    assert all(_real(n)["origin"] == "probe" for n in REAL_HOSTS)
