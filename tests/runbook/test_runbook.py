"""What a runbook decides and lays out: phases, flavour, blockers, no-change cases, distributions."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest

from cudalign.errors import InvalidInput
from cudalign.facts import Facts
from cudalign.facts.query import driver_text, supported_branches
from cudalign.hosts import describe_host
from cudalign.model import DriverInfo, Host, OsInfo, Severity, host_from_json
from cudalign.probe.processes import gpu_processes
from cudalign.render.runbook_md import render_markdown
from cudalign.runbook import GpuProcess, Runbook, Target, build, parse_target
from cudalign.runbook.distros import detect, from_text

from .conftest import make_host


def _commands(rb: Runbook, key: str) -> list[str]:
    section = next(s for s in rb.sections if s.key == key)
    return [c for step in section.steps for c in step.commands]


def _branch(facts: Facts, n: int) -> dict[str, object]:
    f = next(x for x in facts.of_kind("driver_branch") if x["branch"] == n)
    return dict(f.values)


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("575", Target(575)),
        ("R575", Target(575)),
        ("r580", Target(580)),
        ("575.57.08", Target(575, "575.57.08")),
    ],
)
def test_target_accepts_what_plan_prints(text: str, target: Target) -> None:
    assert parse_target(text) == target


@pytest.mark.parametrize("text", ["", "latest", "R57", "5750", "575.57.08.1", "cu128"])
def test_target_rejects_other_text(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_target(text)


def test_scenario_stages_before_the_window_and_reboots_only_inside_it(facts: Facts) -> None:
    host = make_host(facts, "ubuntu2204-rtx6000ada-550-to-575")
    rb = build(host, facts, Target(575))
    assert rb.change_needed and rb.current == "550.107.02"
    assert [s.key for s in rb.sections] == ["preflight", "stage", "window", "verify", "rollback"]
    preflight, stage, window = (_commands(rb, k) for k in ("preflight", "stage", "window"))
    assert not any(c.startswith(("apt-get install", "dpkg -i", "systemctl reboot")) for c in preflight)
    assert "apt-get install -y --download-only nvidia-open-575" in stage
    assert not any("systemctl reboot" in c for c in stage)
    installs = [i for i, c in enumerate(window) if c == "apt-get install -y nvidia-open-575"]
    assert installs and window[-1] == "systemctl reboot" and installs[0] < len(window) - 1
    assert rb.flavour == "open"  # Ada: open module recommended, nothing running says otherwise
    assert rb.expected["gpu_count"] == "2"
    assert rb.expected["max_cuda"] == str(_branch(facts, 575)["max_cuda"])


def test_scenario_marks_every_change_as_destructive_and_asks_at_the_gates(facts: Facts) -> None:
    rb = build(make_host(facts, "ubuntu2204-rtx6000ada-550-to-575"), facts, Target(575))
    for section in rb.sections:
        for step in section.steps:
            changes = any(
                c.startswith(("apt-get install -y ", "systemctl reboot", "dpkg -i")) for c in step.commands
            )
            if changes and "--download-only" not in " ".join(step.commands):
                assert step.destructive, step.title
    gates = [s.gate for s in rb.sections[0].steps if s.gate]
    assert any("console" in g for g in gates)


def test_end_of_life_branch_is_a_warning_with_the_nearest_supported_one(facts: Facts) -> None:
    rb = build(make_host(facts, "ubuntu2204-rtx6000ada-550-to-575"), facts, Target(575))
    if str(_branch(facts, 575)["designation"]).upper() != "EOL":
        pytest.fail("the knowledge base no longer calls R575 end-of-life: update this test's premise")
    (w,) = [f for f in rb.findings if f.severity is Severity.WARNING]
    assert "end-of-life" in w.message and "R580" in w.message


def test_already_on_the_branch_needs_no_change(facts: Facts) -> None:
    host = describe_host(facts, gpus=["RTX 6000 Ada"], driver="575.57.08", os="ubuntu22.04")
    rb = build(host, facts, Target(575))
    assert not rb.change_needed
    assert [s.key for s in rb.sections] == ["verify"]
    assert "No driver change" in render_markdown(rb)


def test_newer_branch_is_not_downgraded(facts: Facts) -> None:
    host = describe_host(facts, gpus=["RTX 6000 Ada"], driver="580.95.05", os="ubuntu22.04")
    rb = build(host, facts, parse_target("575"))
    assert not rb.change_needed and "does not downgrade" in rb.summary


def test_exact_version_older_than_the_installed_one_needs_no_change(facts: Facts) -> None:
    host = describe_host(facts, gpus=["L40S"], driver="575.64.05", os="ubuntu22.04")
    assert not build(host, facts, parse_target("575.57.08")).change_needed
    assert build(host, facts, parse_target("580.65.06")).change_needed


def test_pascal_past_its_last_branch_is_refused(facts: Facts) -> None:
    host = describe_host(facts, gpus=["GTX 1080"], driver="550.107.02", os="debian12")
    last = next(f for f in facts.of_kind("driver_branch") if "Pascal" in f.get("last_for", ()))
    with pytest.raises(InvalidInput, match=f"R{last['branch']} is the last branch for Pascal GPUs"):
        build(host, facts, Target(last["branch"] + 10), today=dt.date(2026, 12, 3))
    rb = build(host, facts, Target(last["branch"]), today=dt.date(2026, 12, 3))
    assert rb.flavour == "proprietary"  # Pascal has no open module
    assert not [f for f in rb.findings if f.severity is Severity.ERROR]


def test_gpu_newer_than_the_branch_is_refused_naming_the_branches_that_can(facts: Facts) -> None:
    gpu = next(
        f for f in facts.of_kind("gpu") if f.get("min_driver") is not None and f["arch"] == "Blackwell"
    )
    host = describe_host(facts, gpus=[gpu["name"]], driver="535.104.05", os="ubuntu24.04")
    old = gpu["min_driver"].major - 10
    with pytest.raises(InvalidInput) as err:
        build(host, facts, Target(old), today=dt.date(2026, 12, 3))
    text = str(err.value)
    assert f"needs driver >= {gpu['min_driver']}" in text
    assert f"the lowest branch that can is R{gpu['min_driver'].major}" in text
    supported = list(supported_branches(facts, dt.date(2026, 12, 3)).value)
    assert supported and all(f"R{b} (" in text for b in supported if b >= gpu["min_driver"].major)
    assert build(host, facts, Target(gpu["min_driver"].major + 10)).flavour == "open"


def test_supported_branches_follow_the_date(facts: Facts) -> None:
    early = set(supported_branches(facts, dt.date(2025, 1, 1)).value)
    late = set(supported_branches(facts, dt.date(2026, 12, 3)).value)
    assert 535 in early and 535 not in late  # R535's EOL (2026-06) has passed by then
    assert 580 in late and all(
        str(f["designation"]).upper() in ("LTSB", "PB", "NFB")
        for f in facts.of_kind("driver_branch")
        if f["branch"] in late
    )


def test_the_runbook_names_the_newest_known_release_and_what_apt_will_pick(facts: Facts) -> None:
    host = describe_host(facts, gpus=["H100"], driver="550.90.07", os="ubuntu22.04")
    rb = build(host, facts, Target(580))
    newest = max(f["version"] for f in facts.of_kind("driver_release") if f["branch"] == 580)
    assert f"newest R580 release the knowledge base knows is {driver_text(newest)}" in rb.summary
    assert "installs the newest 580.* in NVIDIA's repository" in rb.summary
    assert any(r.id.startswith("driver.release.") for r in rb.facts)
    unknown = build(host, facts, Target(595))
    assert "records no release of R595" in unknown.summary
    exact = build(host, facts, parse_target("580.65.06"))
    assert "newest R580 release" not in exact.summary


def test_inferred_package_names_are_said_to_be_inferences(facts: Facts) -> None:
    host = describe_host(facts, gpus=["L40S"], driver="550.90.07", os="ubuntu22.04")
    rb = build(host, facts, Target(575))
    inferred = {
        str(f["name"]).format(branch=575)
        for f in facts.of_kind("driver_package")
        if f.get("inference") and f["family"] == "ubuntu"
    }
    named = [s for sec in rb.sections for s in sec.steps if any(n in " ".join(s.commands) for n in inferred)]
    assert named, "the runbook should install an inferred name here"
    installing = [s for s in named if "apt-get install" in " ".join(s.commands)]
    assert installing and all("Inference:" in s.why for s in installing)


def test_running_proprietary_module_is_kept(facts: Facts) -> None:
    host = describe_host(facts, gpus=["L40S"], driver="550.107.02", os="ubuntu22.04")
    host = replace(host, driver=DriverInfo(version="550.107.02", kernel_module="proprietary"))
    rb = build(host, facts, Target(575))
    assert rb.flavour == "proprietary"
    assert "apt-get install -y cuda-drivers-575" in _commands(rb, "window")


def test_nvswitch_host_installs_and_checks_the_fabric_manager(facts: Facts) -> None:
    rb = build(make_host(facts, "ubuntu2404-h100x8-nvswitch-550-to-580"), facts, Target(580))
    assert any("nvidia-fabricmanager" in c for c in _commands(rb, "window"))
    assert "systemctl is-active nvidia-fabricmanager" in _commands(rb, "verify")
    pcie = build(make_host(facts, "ubuntu2204-rtx6000ada-550-to-575"), facts, Target(575))
    assert not any("fabricmanager" in c for k in ("window", "verify") for c in _commands(pcie, k))


def test_rhel_uses_module_streams_and_the_fm_profile(facts: Facts) -> None:
    rb = build(make_host(facts, "rocky9-h100-nvswitch-550-to-580"), facts, Target(580))
    assert rb.distro.id == "rhel" and rb.distro.version == "9"
    assert "dnf -y module install --allowerasing nvidia-driver:580-open/fm" in _commands(rb, "window")
    v100 = build(make_host(facts, "rhel8-v100-proprietary-535-to-580"), facts, parse_target("580.65.06"))
    assert "dnf -y module install --allowerasing nvidia-driver:580-dkms" in _commands(v100, "window")


def test_debian_pins_the_branch_before_r580_and_uses_the_pinning_package_after(facts: Facts) -> None:
    rb = build(make_host(facts, "debian12-a100-535-to-575"), facts, Target(575))
    stage = _commands(rb, "stage")
    assert any("> /etc/apt/preferences.d/nvidia-driver-575" in c and "Pin: version 575.*" in c for c in stage)
    later = build(make_host(facts, "debian12-a100-535-to-575"), facts, Target(580))
    assert "apt-get install -y nvidia-driver-pinning-580 nvidia-open" in _commands(later, "window")


def test_rollback_returns_to_the_recorded_packages(facts: Facts) -> None:
    rb = build(make_host(facts, "ubuntu2204-rtx6000ada-550-to-575"), facts, Target(575))
    stage, rollback = _commands(rb, "stage"), _commands(rb, "rollback")
    assert any("apt-get download" in c and "packages.before.txt" in c for c in stage)
    assert 'apt-get install -y --allow-downgrades "$STATE"/rollback/*.deb' in rollback
    assert rollback[-1].startswith('diff "$STATE/gpus.before.csv"')
    assert any("550.107.02" in (s.gate or "") for s in rb.sections[-1].steps)


def test_processes_seen_at_generation_are_listed(facts: Facts) -> None:
    procs = (GpuProcess(4242, "python3", 0, 40960), GpuProcess(4243, "vllm", 1, None))
    rb = build(make_host(facts, "ubuntu2204-rtx6000ada-550-to-575"), facts, Target(575), processes=procs)
    md = render_markdown(rb)
    assert "| 4242 | python3 | 0 | 40960 |" in md
    assert "# seen at generation: pid 4243 vllm (GPU 1)" in _commands(rb, "window")


@pytest.mark.parametrize(
    ("distro_id", "version", "like", "family", "major"),
    [
        ("ubuntu", "22.04", (), "ubuntu", "22.04"),
        ("debian", "12", (), "debian", "12"),
        ("rocky", "9.4", ("rhel", "centos", "fedora"), "rhel", "9"),
        ("almalinux", "8.10", ("rhel",), "rhel", "8"),
        ("rhel", "9.3", ("fedora",), "rhel", "9"),
    ],
)
def test_supported_distributions(
    distro_id: str, version: str, like: tuple[str, ...], family: str, major: str
) -> None:
    d = detect(OsInfo(distro_id=distro_id, distro_version=version, distro_like=like))
    assert (d.id, d.version) == (family, major)


@pytest.mark.parametrize("text", ["ubuntu18.04", "debian11", "fedora41", "arch"])
def test_unsupported_distributions_are_input_errors(text: str) -> None:
    with pytest.raises(InvalidInput):
        from_text(text)


class _FakeProc:
    def __init__(self, pid: int, used: int | None) -> None:
        self.pid = pid
        self.usedGpuMemory = used


class _FakeNvml:
    """Stands in for pynvml: two GPUs, one process on the second."""

    def __init__(self, fail_init: bool = False) -> None:
        self.fail_init = fail_init
        self.shut = False

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise RuntimeError("NVML Shared Library Not Found")

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[_FakeProc]:
        return [_FakeProc(999999, 2 * 1024 * 1024 * 1024)] if handle == 1 else []

    def nvmlShutdown(self) -> None:
        self.shut = True


def test_gpu_processes_from_nvml() -> None:
    nvml = _FakeNvml()
    (p,) = gpu_processes(nvml) or ()
    assert (p.pid, p.gpu, p.used_mib) == (999999, 1, 2048)
    assert nvml.shut


def test_gpu_processes_without_nvml_is_none() -> None:
    assert gpu_processes(_FakeNvml(fail_init=True)) is None


# --------------------------------------------------------------------------- recorded hosts


def _recorded(name: str) -> Host:
    path = Path(__file__).parents[1] / "hosts" / f"{name}.json"
    return host_from_json(json.loads(path.read_text(encoding="utf-8")))


def test_recorded_nvswitch_host_gets_the_fabric_manager_and_keeps_the_open_module(facts: Facts) -> None:
    host = _recorded("h200x2")
    assert host.nvswitch is True and host.driver is not None
    rb = build(host, facts, Target(590))
    assert rb.flavour == host.driver.kernel_module == "open"
    assert "apt-get install -y nvidia-driver-pinning-590 nvidia-open nvidia-fabricmanager" in _commands(
        rb, "window"
    )
    assert rb.host_label.startswith(("this host", host.hostname or "this host"))
    assert not build(host, facts, Target(580)).change_needed  # it runs 580 already


def test_host_without_gpus_warns_that_flavour_and_nvswitch_are_undecided(facts: Facts) -> None:
    host = describe_host(facts, gpus=[], driver="550.107.02", os="ubuntu22.04")
    rb = build(host, facts, Target(575))
    assert any(f.name == "no-driver" and "No GPU is recorded" in f.message for f in rb.findings)
    assert any(s.title == "NVSwitch and Fabric Manager" for s in rb.sections[0].steps)  # checked by hand
