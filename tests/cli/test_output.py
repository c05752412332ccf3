"""``-o FILE`` on every command: bad targets are one line and exit 2, inputs are never overwritten,
and a report replaces the file atomically (a failed write leaves the old file whole)."""

from __future__ import annotations

import argparse
import errno
import json
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cudalign.cli import COMMANDS

from .conftest import Result

HOSTS = Path(__file__).resolve().parents[1] / "hosts"
REPO = Path(__file__).resolve().parents[1] / "repos" / "clean"

# A quick run of each command that takes -o, on a described host where it needs one (no probing).
RUNS: dict[str, list[str]] = {
    "check": ["check", "vllm==0.13.0", "--gpu", "H100", "--driver", "550.54.15"],
    "plan": ["plan", "vllm==0.13.0", "--gpu", "H100", "--driver", "550.54.15"],
    "scan": ["scan", str(REPO)],
    "matrix": ["matrix", "--gpu", "H100", "--driver", "550.54.15", "--max", "3"],
    "explain": ["explain", "--no-probe", "CUDA driver version is insufficient for CUDA runtime version"],
    "doctor": ["doctor", "--fail-on", "never"],
    "verify": ["verify", "--static", "--gpu", "H100", "--driver", "550.54.15"],
    "gpus": ["gpus", "vllm==0.13.0", "--min-memory", "24"],
    "fleet": ["fleet", "k8s", "--nodes", "tests/recordings/k8s-mixed.json", "check", "vllm==0.13.0"],
    "snapshot": ["snapshot"],
    "diff": [
        "diff",
        "tests/recordings/snapshots/build-machine-2026-12-03.json",
        "tests/recordings/snapshots/h200-2026-12-03.json",
    ],
    "runbook": [
        "runbook",
        "--driver",
        "575",
        "--gpu",
        "H100",
        "--current-driver",
        "550.54.15",
        "--os",
        "ubuntu22.04",
    ],
}
HOST_COMMANDS = ["check", "plan", "scan", "explain", "runbook"]

Cli = Callable[..., Result]
Check = Callable[..., None]


def test_every_command_with_an_output_option_is_covered() -> None:
    from cudalign.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    with_output = {
        name for name, p in sub.choices.items() if any("-o" in a.option_strings for a in p._actions)
    }
    # render's -o is the directory its emitted files go to; tests/emit covers it
    assert with_output - {"render"} == set(RUNS)
    assert set(RUNS) <= set(COMMANDS)


def _bad_targets(tmp_path: Path) -> list[tuple[str, str]]:
    """(target, word the error must contain) for each kind of unwritable -o."""
    a_file = tmp_path / "a-file.txt"
    a_file.write_text("not a directory\n")
    targets = [
        (str(tmp_path), "is a directory"),
        (str(tmp_path / "missing" / "out.txt"), "does not exist"),
        (str(tmp_path / "sub") + "/", "directory"),
        (str(a_file / "out.txt"), "not a directory"),
    ]
    loop = tmp_path / "loop-a"
    if not loop.is_symlink():
        loop.symlink_to(tmp_path / "loop-b")
        (tmp_path / "loop-b").symlink_to(loop)
    targets += [
        (str(tmp_path / ("a" * 5000)), "cannot write there"),
        (str(loop), os.strerror(errno.ELOOP)),
    ]
    if sys.platform == "linux":
        targets.append(("/proc/cudalign-out.txt", "/proc/cudalign-out.txt"))
    return targets


@pytest.mark.parametrize("command", sorted(RUNS))
def test_an_unwritable_output_is_one_line_and_exit_2(
    command: str, tmp_path: Path, cli: Cli, usage_error: Check, digests: Callable[[Path], dict[str, str]]
) -> None:
    for target, word in _bad_targets(tmp_path):
        before = digests(tmp_path)
        result = cli(*RUNS[command], "-o", target)
        usage_error(result, f"-o {target}", word)
        assert (tmp_path / "loop-a").is_symlink() and (tmp_path / "loop-b").is_symlink()
        assert digests(tmp_path) == before
        assert result.out == ""


def test_a_read_only_directory_is_refused(tmp_path: Path, cli: Cli, usage_error: Check) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root writes anywhere: the check must then let the write through
            assert cli(*RUNS["check"], "-o", str(locked / "out.txt")).rc in (0, 1)
            return
        usage_error(cli(*RUNS["check"], "-o", str(locked / "out.txt")), "permission denied")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def _host_copy(tmp_path: Path) -> Path:
    path = tmp_path / "host.json"
    path.write_bytes((HOSTS / "h100.json").read_bytes())
    return path


def _argv_with_host(command: str, host: Path) -> list[str]:
    if command == "runbook":
        return ["runbook", "--driver", "575", "--host", str(host), "--os", "ubuntu22.04"]
    argv = [a for a in RUNS[command] if a not in ("--gpu", "H100", "--driver", "550.54.15")]
    return [*argv, "--host", str(host)]


@pytest.mark.parametrize("command", HOST_COMMANDS)
def test_output_onto_the_host_file_is_refused(
    command: str, tmp_path: Path, cli: Cli, usage_error: Check, digests: Callable[[Path], dict[str, str]]
) -> None:
    host = _host_copy(tmp_path)
    link = tmp_path / "link.json"
    link.symlink_to(host)
    before = digests(tmp_path)
    for given, target in ((host, host), (link, host), (host, link), (host, Path(os.path.relpath(host)))):
        usage_error(cli(*_argv_with_host(command, given), "-o", str(target)), f"-o {target}", "--host")
        assert digests(tmp_path) == before
    assert link.is_symlink()


def test_output_onto_the_log_is_refused(
    tmp_path: Path, cli: Cli, usage_error: Check, digests: Callable[[Path], dict[str, str]]
) -> None:
    log = tmp_path / "run.log"
    log.write_text("RuntimeError: CUDA error: no kernel image is available for execution on the device\n")
    before = digests(tmp_path)
    usage_error(cli("explain", "--no-probe", "--log", str(log), "-o", str(log)), str(log), "--log")
    assert digests(tmp_path) == before


def test_output_onto_the_plan_is_refused(
    tmp_path: Path, cli: Cli, usage_error: Check, digests: Callable[[Path], dict[str, str]]
) -> None:
    plan = tmp_path / "plan.json"
    result = cli("plan", "vllm==0.13.0", "--host", str(HOSTS / "h100.json"), "--json", "-o", str(plan))
    assert result.rc in (0, 1) and json.loads(plan.read_text())["schema"] == "cudalign.plan/1"
    before = digests(tmp_path)
    result = cli("runbook", "--from-plan", str(plan), "--os", "ubuntu22.04", "-o", str(plan))
    usage_error(result, str(plan), "--from-plan")
    assert digests(tmp_path) == before


def test_output_onto_the_target_interpreter_is_refused(
    tmp_path: Path, cli: Cli, usage_error: Check, digests: Callable[[Path], dict[str, str]]
) -> None:
    python = tmp_path / "python3"
    python.write_text("#!/bin/sh\n")
    before = digests(tmp_path)
    usage_error(cli("doctor", "--python", str(python), "-o", str(python)), str(python), "--python")
    assert digests(tmp_path) == before


@pytest.mark.parametrize("command", sorted(RUNS))
def test_output_replaces_the_file_keeping_its_mode_and_leaves_no_temporary_file(
    command: str, tmp_path: Path, cli: Cli
) -> None:
    out = tmp_path / "report.txt"
    out.write_text("old report\n")
    out.chmod(0o640)
    result = cli(*RUNS[command], "-o", str(out))
    assert result.rc in (0, 1), result.err
    assert result.out == ""
    text = out.read_text()
    assert text != "old report\n" and text.endswith("\n")
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


def test_a_failed_write_leaves_the_old_file_whole(
    tmp_path: Path, cli: Cli, usage_error: Check, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report.txt"
    out.write_text("old report\n")

    real_replace = os.replace

    def no_space(src: str, dst: str) -> None:  # the disk fills up just as the report is moved in place
        if Path(dst) == out:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", no_space)
    usage_error(cli(*RUNS["check"], "-o", str(out)), f"-o {out}", os.strerror(errno.ENOSPC))
    assert out.read_text() == "old report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


def test_output_through_a_link_writes_the_file_it_points_at(tmp_path: Path, cli: Cli) -> None:
    target = tmp_path / "real.json"
    target.write_text("{}\n")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert cli(*RUNS["check"], "--json", "-o", str(link)).rc in (0, 1)
    assert link.is_symlink()
    assert json.loads(target.read_text())["schema"] == "cudalign.check/1"


def test_a_new_output_file_follows_the_umask(tmp_path: Path, cli: Cli) -> None:
    out = tmp_path / "new.txt"
    old = os.umask(0o027)
    try:
        assert cli(*RUNS["check"], "-o", str(out)).rc in (0, 1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_output_to_a_device_is_written_in_place(cli: Cli) -> None:
    assert cli(*RUNS["check"], "-o", os.devnull).rc in (0, 1)
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_a_nul_in_the_output_name_is_one_line(cli: Cli, usage_error: Check) -> None:
    usage_error(cli(*RUNS["check"], "-o", "out\x00.txt"), "-o 'out\\x00.txt'", "NUL")


def test_dash_is_standard_output(cli: Cli) -> None:
    result = cli(*RUNS["check"], "--json", "-o", "-")
    assert result.rc in (0, 1)
    assert json.loads(result.out)["schema"] == "cudalign.check/1"


def test_a_lone_surrogate_from_a_host_file_is_written_escaped(tmp_path: Path, cli: Cli) -> None:
    host = tmp_path / "host.json"
    host.write_text('{"origin": "file", "gpus": [{"index": 0, "name": "GPU \\ud800 x", "cc": "9.0"}]}')
    out = tmp_path / "report.txt"
    result = cli("check", "vllm==0.13.0", "--host", str(host), "-o", str(out))
    assert result.rc in (0, 1), result.err
    assert "GPU \\ud800 x" in out.read_text(encoding="utf-8")
    result = cli("check", "vllm==0.13.0", "--host", str(host))
    assert result.rc in (0, 1), result.err
    assert "GPU \\ud800 x" in result.out


@pytest.mark.parametrize(
    "name", ["requirements.txt", "svc/Dockerfile", "docker-compose.yml", "pyproject.toml", "k8s/app.yaml"]
)
def test_scan_refuses_to_write_over_a_file_it_reads(
    name: str, tmp_path: Path, cli: Cli, usage_error: Check, digests: Callable[[Path], dict[str, str]]
) -> None:
    repo = tmp_path / "repo"
    (repo / "svc").mkdir(parents=True)
    (repo / "k8s").mkdir()
    (repo / "requirements.txt").write_text("torch==2.5.1+cu124\n")
    (repo / "svc" / "Dockerfile").write_text("FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\n")
    (repo / "docker-compose.yml").write_text("services:\n  svc:\n    build: svc\n")
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    (repo / "k8s" / "app.yaml").write_text("kind: Pod\n")
    (tmp_path / "link.txt").symlink_to(repo / name)
    before = digests(repo)
    for target in (repo / name, tmp_path / "link.txt"):
        usage_error(cli("scan", str(repo), "-o", str(target)), f"-o {target}", "scan reads")
    assert digests(repo) == before
    report = repo / "scan-report.txt"
    assert cli("scan", str(repo), "-o", str(report)).rc in (0, 1)
    assert cli("scan", str(repo), "-o", str(report)).rc in (0, 1)  # its own report: overwritten on a rerun
    assert report.read_text().startswith("cudalign scan")


def test_output_onto_the_file_on_standard_input_is_refused(tmp_path: Path) -> None:
    import subprocess

    log = tmp_path / "in.log"
    log.write_text("CUDA driver version is insufficient for CUDA runtime version\n")
    code = "import sys; from cudalign.cli import main; sys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, "explain", "--no-probe", "-", "-o", "/dev/stdin"]
    with log.open("rb") as stdin:
        res = subprocess.run(argv, stdin=stdin, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    assert res.stderr.splitlines() == [
        "cudalign: error: -o /dev/stdin: is the file on standard input; refusing to overwrite it"
    ]
    assert log.read_text() == "CUDA driver version is insufficient for CUDA runtime version\n"
