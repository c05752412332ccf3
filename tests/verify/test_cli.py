"""``cudalign verify`` on the command line: static judgement against described GPUs, input errors, rules."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from cudalign.cli import main
from cudalign.rules import RULES
from cudalign.verify import report, static

RECORDED = Path(__file__).resolve().parents[1] / "recordings" / "verify-fatbin"


@pytest.fixture
def python(tmp_path: Path) -> str:
    """An interpreter whose only site-packages holds the two recorded extensions."""
    site = tmp_path / "site-packages"
    (site / "brokenext").mkdir(parents=True)
    for name in ("libsm80only.so", "libptxonly.so"):
        shutil.copy(RECORDED / name, site / "brokenext" / name)
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={site} exec {sys.executable} -S "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def test_static_names_the_library_without_code_for_the_gpu(
    python: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["verify", "--python", python, "--static", "--gpu", "H200", "--driver", "580.65.06", "--json"])
        == 1
    )
    out = json.loads(capsys.readouterr().out)
    assert [(f["code"], f["name"]) for f in out["findings"]] == [("CA201", "gpu-arch-not-in-build")]
    assert "brokenext/libsm80only.so" in out["findings"][0]["message"]
    jit = [v for v in out["static"]["verdicts"] if v["how"] == "jit"]
    assert [(v["library"], v["code"]) for v in jit] == [("brokenext/libptxonly.so", "compute_80")]


def test_static_on_an_old_driver_finds_the_ptx_too_new(
    python: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "--python", python, "--static", "--gpu", "A100", "--driver", "550.54.15"]) == 1
    text = capsys.readouterr().out
    assert "CA103 ptx-jit-unsupported" in text and "PTX ISA 9.0" in text  # CUDA 12.4's JIT stops at 8.4


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--gpus", "0"], "--gpus: '0' is not 'all' or a number above 0"),
        (["--timeout", "-1"], "--timeout: -1 is not a number above 0"),
        (["--python", "/nonexistent/python"], "--python: no such interpreter"),
        (["--endpoint", "ftp://x"], "--endpoint: 'ftp://x' is not an http:// or https:// URL"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cudalign: error: {error}") and "Traceback" not in err


def test_every_rule_verify_names_is_in_the_catalogue() -> None:
    catalogue = {f"{r.code} {r.name}" for r in RULES}
    named = {"CA201 gpu-arch-not-in-build", "CA202 gpu-arch-dropped", "CA103 ptx-jit-unsupported"}
    assert named <= catalogue
    assert set(report._FIXES) == {n.split()[0] for n in named}
    assert static.__doc__ is not None and all(n.split()[0] in static.__doc__ for n in named)


def test_recorded_h200_bench_as_ratios_to_its_datasheet() -> None:
    """The H200 figures kept from the GPU machine, through the knowledge base's datasheet for NVML's name."""
    from cudalign.cli.verify import _datasheets
    from cudalign.facts import load
    from cudalign.model import ComputeCapability, Gpu, Host
    from cudalign.verify.checks import Check

    recorded = json.loads((RECORDED.parent / "verify-bench-h200.json").read_text())
    raw = next(c for c in recorded["checks"] if c["id"] == "bench.gpu0")
    host = Host(origin="probe", gpus=(Gpu(0, "NVIDIA H200", ComputeCapability(9, 0)),))
    sheet = _datasheets(load(), host)[0]
    check = report.bench_ratios(
        Check(raw["id"], raw["title"], "pass", raw["detail"], None, raw["data"]), sheet
    )
    assert check.status == "pass"
    assert check.data["copy_gbs_ratio"] == pytest.approx(raw["data"]["copy_gbs"] / 4800, abs=1e-3)
    assert check.data["bf16_tflops_ratio"] == pytest.approx(raw["data"]["bf16_tflops"] / 989.5, abs=1e-3)
    assert check.data["datasheet_fact"] == "gpu.datasheet.h200-sxm"
    slow = report.bench_ratios(
        Check("b", "b", "pass", "", None, {"copy_gbs": 2000.0, "bf16_tflops": 700.0}), sheet
    )
    assert slow.status == "warn" and "memory bandwidth" in slow.detail and "dense bf16" not in slow.detail
