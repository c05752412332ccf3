"""The payload: its pure helpers, a real run in a real interpreter, and crashes, hangs and kills as results.

Tests that need torch run the payload in an interpreter that has it: ``CUDALIGN_TEST_TORCH_PYTHON``, or
this one when it imports torch; elsewhere they are skipped (a CPU torch is no test dependency: pip would
pull a multi-GB CUDA build).
"""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from pathlib import Path

import pytest

from cudalign.probe.run import run as door
from cudalign.verify.checks import run_payload
from cudalign.verify.payload import bus_bandwidth, parse_arch, served_by, signal_name
from cudalign.verify.report import build


def _torch_python() -> str | None:
    env = os.environ.get("CUDALIGN_TEST_TORCH_PYTHON")
    if env:
        return env
    return sys.executable if importlib.util.find_spec("torch") is not None else None


TORCH = _torch_python()
needs_torch = pytest.mark.skipif(
    TORCH is None, reason="no interpreter with torch (CUDALIGN_TEST_TORCH_PYTHON)"
)


def test_served_by_reads_torch_arch_lists() -> None:
    h200 = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
    assert served_by((9, 0), h200) == ("sass", "sm_90")
    assert served_by((8, 9), h200) == ("sass", "sm_86")  # same major, lower minor
    assert served_by((12, 1), ["sm_90", "sm_120"]) == ("sass", "sm_120")
    assert served_by((12, 0), ["sm_80", "sm_90", "compute_90"]) == ("ptx-jit", "compute_90")
    assert served_by((12, 0), ["sm_50", "sm_90"]) == ("none", None)
    assert served_by((10, 0), ["sm_90a", "compute_90a"]) == ("none", None)  # arch-specific never forward
    assert parse_arch("sm_120a") == ("sm", 12, 0, "a") and parse_arch("gfx90a") is None


def test_bus_bandwidth_is_nccl_tests_definition() -> None:
    algbw, busbw = bus_bandwidth(8_000_000_000, 0.1, 8)
    assert algbw == pytest.approx(80.0) and busbw == pytest.approx(140.0)  # 2 (n-1)/n = 1.75
    assert bus_bandwidth(1_000_000_000, 1.0, 1) == (1.0, 0.0)
    assert signal_name(-11) == "SIGSEGV" and signal_name(0) is None


def _fake_python(tmp_path: Path, body: str) -> str:
    """An executable that prints like the payload and then behaves as ``body`` says."""
    script = tmp_path / "python"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, signal, sys, time\n"
        "M = '@@cudalign-verify '\n"
        "print(M + json.dumps({'event': 'hello', 'python': '3.12.3'}))\n"
        "print(M + json.dumps({'event': 'check', 'id': 'torch.import', 'title': 't', 'status': 'pass',"
        " 'detail': 'torch', 'data': {}, 'seconds': 1.0}))\n"
        "print(M + json.dumps({'event': 'start', 'id': 'gpu0.matmul', 'title': 'GPU 0: matmul'}),"
        " flush=True)\n" + body
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ("os.kill(os.getpid(), signal.SIGSEGV)\n", "died of SIGSEGV"),
        ("os.kill(os.getpid(), signal.SIGKILL)\n", "OOM killer"),
        ("time.sleep(60)\n", "hung: no answer within the 1 s timeout"),
        ("sys.stderr.write('torch.OutOfMemoryError: CUDA out of memory\\n'); sys.exit(1)\n", "out of memory"),
    ],
)
def test_a_crash_is_the_result_of_the_check_that_was_running(tmp_path: Path, body: str, expect: str) -> None:
    ran = run_payload(_fake_python(tmp_path, body), {}, door, 1.0)
    assert not ran.complete and ran.info["python"] == "3.12.3"
    assert [(c.id, c.status) for c in ran.checks] == [("torch.import", "pass"), ("gpu0.matmul", "fail")]
    assert expect in ran.checks[-1].detail
    report = build(None, ran.checks, complete=ran.complete)
    assert report.verdict is not None and report.verdict.value == "fails"


def test_without_torch_the_import_fails_and_nothing_else_runs(tmp_path: Path) -> None:
    if importlib.util.find_spec("torch") is not None:
        pytest.skip("this interpreter has torch")
    ran = run_payload(sys.executable, {"gpus": None}, door, 60)
    assert ran.complete
    assert [(c.id, c.status) for c in ran.checks] == [("torch.import", "fail")]
    assert "No module named 'torch'" in ran.checks[0].detail


@needs_torch
def test_cpu_torch_is_caught_as_cpu_only_with_its_rule() -> None:
    from cudalign.cli.verify import _classifier
    from cudalign.facts import load

    assert TORCH is not None
    ran = run_payload(TORCH, {"gpus": None}, door, 120, _classifier(load(), None))
    ids = {c.id: c for c in ran.checks}
    assert ids["torch.import"].status == "pass"
    cuda = ids["torch.cuda"]
    if ids["torch.import"].data["cuda"] is None:  # a CPU build
        assert cuda.status == "fail" and cuda.rule == "CA305 cpu-only-torch" and cuda.fix


@needs_torch
def test_multi_process_all_reduce_with_gloo_gives_the_right_sum() -> None:
    assert TORCH is not None
    config = {
        "gpus": None,
        "nccl": True,
        "nccl_backend": "gloo",
        "nccl_ranks": 3,
        "nccl_bytes": 1 << 20,
        "nccl_iters": 3,
    }
    ran = run_payload(TORCH, config, door, 180)
    (check,) = [c for c in ran.checks if c.id == "nccl.all-reduce"]
    assert check.status == "pass", check.detail
    d = check.data
    assert d["ranks"] == 3 and d["sums_right"] and d["expected_sum"] == 6
    assert d["busbw_gbs"] == pytest.approx(d["algbw_gbs"] * 4 / 3)
    assert d["algbw_gbs"] == pytest.approx(d["bytes"] / d["seconds"] / 1e9)
