"""`cudalign check` and `cudalign plan` as a user runs them: outputs, JSON schema, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cudalign.cli import main

HOSTS = Path(__file__).resolve().parents[1] / "hosts"
ADA = ["--gpu", "RTX 6000 Ada", "--gpu", "RTX 6000 Ada", "--driver", "550.107.02"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_text_shows_verdict_host_stack_and_findings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "torch==2.9.*", "vllm==0.13.0", *ADA)
    assert code == 0
    assert out.startswith("verdict: caveats")
    assert "2x RTX 6000 Ada" in out and "driver 550.107.02 (CUDA 12.4)" in out
    assert "torch 2.9.0+cu128" in out and "vllm 0.13.0 (built with CUDA 12.9" in out
    assert "CA102 minor-version-compat (warning)" in out and "fix:" in out and "fact: cuda.major.12" in out


def test_check_of_a_release_the_snapshot_lacks_is_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    # a range above every release: valid PEP 440 whatever the parser's version, matched by nothing
    code, out, _ = run(capsys, "check", "vllm>=999", "--gpu", "H100", "--driver", "580.65.06")
    assert code == 0 and out.startswith("verdict: unknown")
    assert "no release satisfies vllm>=999" in out


def test_check_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "torch==2.11.0", "--gpu", "H100", "--driver", "575.57.08", "--json")
    data = json.loads(out)
    assert code == 1
    assert data["schema"] == "cudalign.check/1" and data["verdict"] == "fails"
    assert data["host"]["schema"] == "cudalign.host/1" and data["stack"]["cuda_runtime"] == "13.0"
    finding = next(f for f in data["findings"] if f["code"] == "CA101")
    assert set(finding) >= {"code", "name", "severity", "message", "fix", "facts"}
    assert finding["facts"] and set(finding["facts"][0]) == {"id", "source"}


def test_check_fail_on_warning_turns_caveats_into_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "check", "torch==2.9.0", *ADA, "--fail-on", "warning")[0] == 1
    assert run(capsys, "check", "torch==2.9.0", *ADA, "--fail-on", "never")[0] == 0


def test_check_without_gpu_gives_the_gpu_condition(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "torch==2.9.0", "--driver", "570.133.07", "--json")
    data = json.loads(out)
    assert code == 0 and data["verdict"] == "caveats"
    (gpu,) = [c for c in data["conditions"] if c["subject"] == "gpu"]
    assert "sm_70 to" in gpu["text"] and "7.5" in gpu["archs"] and "6.1" not in gpu["archs"]
    assert not any(f["unknown"] for f in data["findings"])


def test_check_without_driver_gives_the_driver_condition(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "torch==2.6.0+cu124", "--gpu", "T4", "--json")
    data = json.loads(out)
    assert code == 0 and data["verdict"] == "caveats"
    (drv,) = data["conditions"]
    assert drv["subject"] == "driver" and drv["minimum"] == "525.60.13" and drv["full"] == "550.54.14"
    assert drv["branches"] and all(b not in drv["branches"] for b in ("R525", "R550", "R575"))


def test_check_fails_without_driver_when_the_gpu_never_runs_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "torch==2.6.0+cu124", "--gpu", "RTX 5090", "--json")
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "fails"


def test_check_driver_given_as_a_branch_is_its_first_release(capsys: pytest.CaptureFixture[str]) -> None:
    for spelling in ("580", "R580", "580.x", "r580"):
        code, out, _ = run(
            capsys, "check", "torch==2.12.0+cu130", "--gpu", "H100", "--driver", spelling, "--json"
        )
        data = json.loads(out)
        assert code == 0 and data["verdict"] == "ok", spelling
        assert (
            data["host"]["driver"]["version"] == "580.65.06" and data["host"]["driver"]["given"] == spelling
        )
        assert "first release 580.65.06" in data["conditions"][0]["text"]
    code, out, _ = run(capsys, "check", "torch==2.12.0+cu130", "--gpu", "H100", "--driver", "575")
    assert code == 1 and "R575" in out


def test_check_bad_driver_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "torch==2.9.0", "--gpu", "H100", "--driver", "R58x")
    assert code == 2 and "--driver" in err and len(err.strip().splitlines()) <= 2


def test_check_markdown_is_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "torch==2.9.0", *ADA, "--format", "markdown")
    assert code == 0 and "| rule | severity | what | fix | facts |" in out and "`CA102`" in out


def test_check_sarif_is_valid_sarif_2_1_0(capsys: pytest.CaptureFixture[str]) -> None:
    import jsonschema  # type: ignore[import-untyped, unused-ignore]

    argv = ("check", "torch==2.11.0", "--gpu", "H100", "--driver", "575.57.08", "--format", "sarif")
    code, out, _ = run(capsys, *argv)
    doc = json.loads(out)
    schema = json.loads((HOSTS.parent / "schemas" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(doc)
    assert code == 1 and doc["version"] == "2.1.0"
    assert any(r["ruleId"] == "CA101" for r in doc["runs"][0]["results"])


def test_check_recorded_host_without_requirements_checks_what_is_installed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "check", "--host", str(HOSTS / "rtx5090-driver570.json"))
    assert code == 1 and "CA201 gpu-arch-not-in-build" in out and "torch 2.6.0+cu124" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "vllm=>0.12", "--gpu", "H100", "--driver", "580.95.05"],
        ["check", "torch", "--gpu", "Voodoo 5", "--driver", "580"],
    ],
)
def test_check_input_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.startswith("cudalign: error:") and "Traceback" not in err


def test_plan_text_matrices(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "torch==2.9.*", "vllm==0.13.0", *ADA, "--no-driver-change")
    assert code == 0 and "Matrix A" in out and "keep 550.107.02 (R550), no reboot" in out
    assert "uv pip install vllm==0.13.0 torch==2.9.0 --torch-backend=cu128" in out


def test_plan_json_and_emit(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "vllm", "--gpu", "RTX 5090", "--driver", "570.133.07", "--json")
    data = json.loads(out)
    assert code == 0 and data["schema"] == "cudalign.plan/1"
    assert data["matrices"][0]["label"] == "A" and data["rejected"]
    assert any(r["name"] == "ptx-jit-unsupported" for r in data["rejected"])
    code, out, _ = run(
        capsys, "plan", "vllm==0.13.0", "--gpu", "H100", "--driver", "580.95.05", "--emit", "requirements"
    )
    assert code == 0 and "vllm==0.13.0" in out.splitlines()


def test_plan_with_nothing_that_runs_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "plan", "vllm>=0.20", "--gpu", "V100", "--driver", "535.183.01", "--no-driver-change"
    )
    assert code == 1 and "no matrix runs" in out


@pytest.mark.parametrize("command", ["check", "plan"])
def test_an_unknown_feature_is_a_usage_error_listing_the_known_ones(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, command, "torch==2.9.0", "--feature", "warp-drive", "--gpu", "T4")
    assert code == 2
    assert "unknown feature 'warp-drive'" in err and "known features:" in err and "bf16" in err
