"""plan's report: a typed Plan inside, the same JSON as ever outside, and --fail-on honoured."""

from __future__ import annotations

import json

import pytest

from cudalign.cli import main
from cudalign.facts import Facts, load
from cudalign.hosts import describe_host
from cudalign.model import Matrix, Plan, Severity
from cudalign.plan import SCHEMA, make_plan, plan_report
from cudalign.render import render

ADA = ["--gpu", "RTX 6000 Ada", "--driver", "550.107.02"]
"""A matrix that keeps this driver runs with caveats (CUDA minor-version compatibility)."""
K80 = ["--gpu", "K80", "--driver", "470.82.01", "--no-driver-change"]
"""No matrix runs."""


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


def _plan(facts: Facts, *reqs: str, gpu: str, driver: str, no_driver_change: bool = False) -> Plan:
    host = describe_host(facts, gpus=(gpu,), driver=driver)
    return make_plan(reqs, facts, host, no_driver_change=no_driver_change)


def test_the_report_carries_a_typed_plan(facts: Facts) -> None:
    plan = _plan(facts, "torch==2.9.*", "vllm==0.13.0", gpu="RTX 6000 Ada", driver="550.107.02")
    assert plan.requirements == ("torch==2.9.*", "vllm==0.13.0") and plan.no_driver_change is False
    assert all(isinstance(m, Matrix) for m in plan.matrices)
    report = plan_report(plan, describe_host(facts, gpus=("RTX 6000 Ada",), driver="550.107.02"))
    assert report.schema == SCHEMA and report.data["plan"] is plan


def test_json_lists_the_plan_after_the_report_with_matrices_without_their_stack(facts: Facts) -> None:
    plan = _plan(facts, "torch==2.9.*", "vllm==0.13.0", gpu="RTX 6000 Ada", driver="550.107.02")
    host = describe_host(facts, gpus=("RTX 6000 Ada",), driver="550.107.02")
    data = json.loads(render(plan_report(plan, host), "json"))
    assert list(data) == [
        "schema", "host", "findings", "requirements", "no_driver_change", "matrices", "rejected", "considered"
    ]  # fmt: skip
    assert data["findings"] == [] and data["considered"] == plan.considered
    first = data["matrices"][0]
    assert "stack" not in first and list(first)[-3:] == ["findings", "images_rejected", "driver_assumed"]
    assert first["driver_assumed"] is False
    assert first["label"] == "A" and first["verdict"] == plan.matrices[0].verdict.value
    assert [f["code"] for f in first["findings"]] == [f.code for f in plan.matrices[0].findings]


def test_exit_on_is_matrix_as_findings_or_an_error_without_matrix(facts: Facts) -> None:
    plan = _plan(facts, "torch==2.9.*", "vllm==0.13.0", gpu="RTX 6000 Ada", driver="550.107.02")
    host = describe_host(facts, gpus=("RTX 6000 Ada",), driver="550.107.02")
    severities = plan_report(plan, host).severities()
    assert Severity.WARNING in severities and Severity.ERROR not in severities
    none = _plan(facts, "vllm==0.13.0", gpu="K80", driver="470.82.01", no_driver_change=True)
    assert none.matrices == ()
    assert plan_report(none, host).severities() == (Severity.ERROR,)


@pytest.mark.parametrize(
    ("flags", "fail_on", "code"),
    [
        (ADA, None, 0),  # caveats are warnings: below the default threshold
        (ADA, "error", 0),
        (ADA, "warning", 1),
        (ADA, "info", 1),
        (ADA, "never", 0),
        (K80, None, 1),  # no matrix runs: an error
        (K80, "warning", 1),
        (K80, "never", 0),
    ],
)
def test_plan_honours_fail_on(
    flags: list[str], fail_on: str | None, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    reqs = ["torch==2.9.*", "vllm==0.13.0"] if flags is ADA else ["vllm==0.13.0"]
    argv = ["plan", *reqs, *flags, "--json"] + (["--fail-on", fail_on] if fail_on else [])
    assert main(argv) == code
    assert json.loads(capsys.readouterr().out)["schema"] == SCHEMA


def test_emit_requirements_writes_matrix_a(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "vllm==0.13.0", *ADA, "--emit", "requirements"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# made by cudalign from plan sha256:") and "vllm==0.13.0" in out.splitlines()
