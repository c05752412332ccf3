"""`cudalign runbook` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cudalign.cli import main

SCENARIO = ["runbook", "--driver", "575", "--gpu", "RTX 6000 Ada", "--gpu", "RTX 6000 Ada",
            "--current-driver", "550.107.02", "--os", "ubuntu22.04", "--hostname", "ws-7"]  # fmt: skip


def test_markdown_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(SCENARIO) == 0
    out = capsys.readouterr().out
    assert out.startswith("# NVIDIA driver runbook: ws-7 (Ubuntu 22.04, 2x RTX 6000 Ada Generation) to R575")
    assert "## 3. Maintenance window" in out


def test_shell_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SCENARIO, "--format", "sh"]) == 0
    assert capsys.readouterr().out.startswith("#!/usr/bin/env bash")


def test_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SCENARIO, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["schema"] == "cudalign.runbook/1"
    assert body["runbook"]["target"] == {"branch": 575, "version": None}
    assert [s["key"] for s in body["runbook"]["sections"]] == [
        "preflight",
        "stage",
        "window",
        "verify",
        "rollback",
    ]


@pytest.mark.parametrize("driver", ["R575", "575.57.08"])
def test_accepts_what_plan_prints(driver: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*SCENARIO]
    argv[2] = driver
    assert main(argv) == 0


def test_a_branch_that_cannot_drive_the_gpu_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["runbook", "--driver", "390", "--gpu", "H100", "--os", "ubuntu22.04", "--no-probe"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    first, *rest = captured.err.splitlines()
    assert first.startswith("cudalign: error: R390 cannot drive this host's GPUs: ")
    assert "H100" in first and "the lowest branch that can is R" in first
    assert "branches still supported that can: R580 (LTSB" in first
    assert all(line.startswith("hint: ") for line in rest)
    assert "nvidia-open-390" not in captured.err


def test_a_branch_past_the_gpus_last_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["runbook", "--driver", "590", "--gpu", "GTX 1080", "--current-driver", "550.107.02"]
    assert main([*argv, "--os", "debian12", "--no-probe"]) == 2
    err = capsys.readouterr().err
    assert "R580 is the last branch for Pascal GPUs" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["runbook", "--driver", "latest", "--gpu", "L40S", "--os", "ubuntu22.04"], "not a driver branch"),
        (["runbook", "--driver", "575", "--gpu", "L40S", "--current-driver", "550.54.15"], "--os"),
        (
            ["runbook", "--driver", "575", "--gpu", "L40S", "--os", "ubuntu18.04"],
            "not one the runbook supports",
        ),
    ],
)
def test_usage_errors(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert needle in captured.err
    assert "Traceback" not in captured.err


def test_recorded_host_is_not_this_machine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A host file recorded elsewhere must not get this machine's GPU processes."""
    import cudalign.probe.processes as processes

    def boom() -> None:
        raise AssertionError("NVML read for a recorded host")

    monkeypatch.setattr(processes, "gpu_processes", boom)
    host = Path(__file__).parents[1] / "hosts" / "h200x2.json"
    assert main(["runbook", "--driver", "590", "--host", str(host)]) == 0
    assert "nvidia-fabricmanager" in capsys.readouterr().out


PLAN = Path(__file__).with_name("data") / "plan-rtx6000ada-550.json"  # 'cudalign plan --json' output


def test_from_plan_follows_the_first_matrix_that_changes_the_driver(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan = json.loads(PLAN.read_text(encoding="utf-8"))
    changing = next(m for m in plan["matrices"] if m["driver_change"])
    assert main(["runbook", "--from-plan", str(PLAN), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["runbook"]["target"]["version"] == changing["driver"]
    assert body["runbook"]["current"] == plan["host"]["driver"]["version"]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--matrix", "A"], "R550"),  # matrix A keeps the driver: the host already runs that branch
        (["--matrix", "Z"], "no matrix 'Z'"),
        (["--driver", "575"], "either --driver or --from-plan"),
    ],
)
def test_from_plan_choices(extra: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["runbook", "--from-plan", str(PLAN), *extra])
    captured = capsys.readouterr()
    assert needle in captured.out + captured.err
    assert rc == (0 if extra == ["--matrix", "A"] else 2)


def test_no_target_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runbook", "--gpu", "L40S", "--os", "ubuntu22.04"]) == 2
    assert "no target driver" in capsys.readouterr().err
