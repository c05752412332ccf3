"""The shell runbooks: shellcheck-clean, and no destructive command runs without a confirmation."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from itertools import product
from pathlib import Path

import pytest

from cudalign.facts import Facts
from cudalign.hosts import describe_host
from cudalign.model import DriverInfo
from cudalign.render.runbook_sh import render_shell
from cudalign.runbook import Target, build

from .conftest import CASES, make_host

OSES = ["ubuntu20.04", "ubuntu22.04", "ubuntu24.04", "debian12", "rhel8", "rocky9"]


def _scripts(facts: Facts) -> dict[str, str]:
    """Every family x branch (before and after the R580/R590 packaging changes) x flavour, plus edge cases."""
    from dataclasses import replace

    out: dict[str, str] = {}
    for os_name, branch, module in product(OSES, (570, 575, 580, 590), ("open", "proprietary")):
        host = describe_host(facts, gpus=["L40S", "L40S"], driver="535.183.01", os=os_name)
        host = replace(host, driver=DriverInfo(version="535.183.01", kernel_module=module))
        out[f"{os_name}-{branch}-{module}"] = render_shell(build(host, facts, Target(branch)))
    for name in CASES:
        out[name] = render_shell(
            build(make_host(facts, name), facts, Target(int(CASES[name][3].lstrip("R")[:3])))
        )
    fresh = describe_host(facts, gpus=["RTX 5090"], os="debian13")
    out["fresh-install-debian13"] = render_shell(build(fresh, facts, Target(580)))
    same = describe_host(facts, gpus=["H100"], driver="575.57.08", os="rocky9")
    out["no-change"] = render_shell(build(same, facts, Target(575)))
    return out


def test_every_shell_runbook_passes_shellcheck(facts: Facts, tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck binary not installed (apt-get install shellcheck; .ci/run installs it)")
    paths = []
    for name, text in _scripts(facts).items():
        p = tmp_path / f"{name}.sh"
        p.write_text(text, encoding="utf-8")
        paths.append(str(p))
    res = subprocess.run([shellcheck, "--shell=bash", *paths], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout[-4000:]


def test_every_shell_runbook_is_valid_bash(facts: Facts, tmp_path: Path) -> None:
    for name, text in _scripts(facts).items():
        p = tmp_path / f"{name}.sh"
        p.write_text(text, encoding="utf-8")
        res = subprocess.run(["bash", "-n", str(p)], capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, (name, res.stderr)


def test_script_starts_strict_and_names_its_phases(facts: Facts) -> None:
    text = render_shell(build(make_host(facts, "ubuntu2204-rtx6000ada-550-to-575"), facts, Target(575)))
    lines = text.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    for phase in ("preflight", "stage", "window", "verify", "rollback"):
        assert f"{phase}() {{" in lines


# --------------------------------------------------------------------------- running it against stubs


def _stub_bin(tmp: Path) -> Path:
    """Commands the window phase calls, as stubs that log their arguments (id says root)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    log = tmp / "calls.log"
    outputs = {
        "id": "0",
        "nvidia-smi": "550.107.02",  # the driver the runbook was written for: same_host lets it go on
        "dpkg-query": "nvidia-open-575 575.57.08-1ubuntu1",
        "modinfo": "575.57.08",
        "dkms": "nvidia/575.57.08, 6.8.0-45-generic, x86_64: installed",
    }
    for name in ("id", "nvidia-smi", "systemctl", "apt-get", "apt-mark", "dpkg-query", "dkms", "modinfo"):
        script = bin_dir / name
        out = outputs.get(name, "")
        script.write_text(
            f'#!/bin/sh\necho "{name} $*" >> "{log}"\nprintf "%s\\n" "{out}"\n', encoding="utf-8"
        )
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def _run_window(facts: Facts, tmp_path: Path, yes: bool) -> tuple[int, list[str]]:
    text = render_shell(build(make_host(facts, "ubuntu2204-rtx6000ada-550-to-575"), facts, Target(575)))
    script = tmp_path / "runbook.sh"
    script.write_text(text, encoding="utf-8")
    bin_dir = _stub_bin(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    (state / "packages.before.txt").write_text("nvidia-driver-550 550.107.02-0ubuntu1\n", encoding="utf-8")
    env = {"PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}", "STATE": str(state)}
    if yes:
        env["CUDALIGN_YES"] = "1"
    res = subprocess.run(
        ["bash", str(script), "window"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # no controlling terminal: confirm() cannot ask
        stdin=subprocess.DEVNULL,
    )
    log = tmp_path / "calls.log"
    calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return res.returncode, calls


def test_window_without_a_terminal_stops_before_any_change(facts: Facts, tmp_path: Path) -> None:
    rc, calls = _run_window(facts, tmp_path, yes=False)
    assert rc == 1
    assert not [c for c in calls if c.startswith(("apt-get", "apt-mark", "systemctl"))]


def test_window_confirmed_installs_then_reboots_last(facts: Facts, tmp_path: Path) -> None:
    rc, calls = _run_window(facts, tmp_path, yes=True)
    assert rc == 0, calls
    changes = [c for c in calls if c.startswith(("apt-get", "apt-mark", "systemctl"))]
    assert changes[-1] == "systemctl reboot"
    assert "apt-get install -y nvidia-open-575" in changes
    assert changes.index("apt-mark unhold nvidia-driver-550") < changes.index(
        "apt-get install -y nvidia-open-575"
    )


def _fake_nvidia_smi(bin_dir: Path, version: str) -> None:
    """A stand-in for nvidia-smi on a machine with no GPU: it answers the one query same_host asks."""
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\necho {version}\n", encoding="utf-8")
    tool.chmod(0o755)


def _run_phase(script: Path, phase: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin",
        "STATE": str(tmp_path / "state"),
        "CUDALIGN_YES": "1",
    }
    return subprocess.run(["bash", str(script), phase], capture_output=True, text=True, timeout=30,
                          env={**base, **env})  # fmt: skip


def test_stage_refuses_a_host_whose_driver_changed_since_the_runbook_was_written(
    facts: Facts, tmp_path: Path
) -> None:
    host = describe_host(facts, gpus=["L40S"], driver="550.107.02", os="debian12")
    script = tmp_path / "r.sh"
    script.write_text(render_shell(build(host, facts, Target(580))), encoding="utf-8")
    _fake_nvidia_smi(tmp_path / "bin", "535.183.01")
    for phase in ("stage", "window"):
        res = _run_phase(script, phase, tmp_path)
        assert res.returncode == 1, res.stdout
        assert "refused: written for driver 550.107.02, the host runs 535.183.01" in res.stdout + res.stderr
    log = (tmp_path / "state" / "runbook.log").read_text(encoding="utf-8")
    assert " stage" in log and " window" in log and "refused: written for driver 550.107.02" in log


def test_stage_refuses_another_kernel(facts: Facts, tmp_path: Path) -> None:
    from dataclasses import replace

    host = describe_host(facts, gpus=["L40S"], driver="550.107.02", os="debian12")
    host = replace(host, os=replace(host.os, kernel="0.0.0-not-this-one"))
    script = tmp_path / "r.sh"
    script.write_text(render_shell(build(host, facts, Target(580))), encoding="utf-8")
    _fake_nvidia_smi(tmp_path / "bin", "550.107.02")
    res = _run_phase(script, "stage", tmp_path)
    assert res.returncode == 1
    assert "refused: written for kernel 0.0.0-not-this-one" in res.stdout + res.stderr
    forced = _run_phase(script, "stage", tmp_path, CUDALIGN_FORCE="1")
    assert "refused:" not in forced.stdout + forced.stderr


def test_no_phase_prints_usage(facts: Facts, tmp_path: Path) -> None:
    script = tmp_path / "r.sh"
    script.write_text(render_shell(build(make_host(facts, "debian12-a100-535-to-575"), facts, Target(575))))
    res = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and "usage:" in res.stderr
