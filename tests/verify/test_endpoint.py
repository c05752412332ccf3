"""The endpoint check against a loopback OpenAI-compatible server with known latency and failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cudalign.cli import main
from cudalign.verify.endpoint import LoadSpec, compare, percentile, summarize, verify_endpoint

from .openai_server import Behaviour, serve


def test_percentile_interpolates_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 50) == 2.5
    assert percentile(values, 99) == pytest.approx(3.97)
    assert percentile([], 50) is None


def test_figures_with_known_latency_and_failures() -> None:
    b = Behaviour(ttft=0.08, gap=0.01, fail_every=4)
    with serve(b) as url:
        run = verify_endpoint(url, LoadSpec(concurrency=4, requests=12, max_tokens=10, timeout=10))
    by_id = {c.id: c for c in run.checks}
    assert [c.status for c in run.checks] == ["pass", "pass", "pass", "pass", "fail"]
    assert run.model == "tiny-model"
    f = run.figures
    assert f["summary"]["requests"] == 12 and f["summary"]["failed"] == 3 and f["errors"] == {"http 503": 3}
    assert f["summary"]["output_tokens"] == 9 * 10
    m = f["metrics"]
    assert 70 <= m["ttft_ms"]["p50"] <= 250
    assert 5 <= m["itl_ms"]["p50"] <= 60
    # TPOT: (latency - ttft) / (tokens - 1), nine gaps of ~10 ms each over nine
    assert 5 <= m["tpot_ms"]["p50"] <= 60
    assert f["summary"]["output_throughput_tok_s"] == pytest.approx(90 / f["summary"]["duration_s"], rel=0.01)
    assert "http 503 3" in by_id["endpoint.load"].detail


def test_unreachable_server_is_a_failed_check_not_a_traceback() -> None:
    with serve(Behaviour()) as url:
        pass  # stopped: nothing listens there now
    run = verify_endpoint(url, LoadSpec(1, 1, 4, timeout=2))
    assert run.checks[0].status == "fail" and run.checks[0].data["kind"] == "connection"


def test_save_and_compare_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "before.json"
    with serve(Behaviour(ttft=0.01)) as url:
        args = ["verify", "--endpoint", url, "--requests", "6", "--concurrency", "3", "--max-tokens", "5"]
        assert main([*args, "--save", str(saved)]) == 0
        capsys.readouterr()
        assert main([*args, "--compare", str(saved), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["schema"] == "cudalign.verify/1"
    rows = {r["metric"]: r for r in out["endpoint"]["compare"]}
    assert rows["failed requests"]["before"] == 0 and rows["failed requests"]["after"] == 0
    assert rows["output throughput (tok/s)"]["change"].endswith(("better", "worse", "%"))


def test_compare_with_a_file_that_is_no_saved_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    assert main(["verify", "--endpoint", "http://127.0.0.1:9", "--compare", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cudalign: error: {bad}: not a run saved") and "Traceback" not in err


def test_compare_rows() -> None:
    before = summarize([], 1.0) | {"summary": {"output_throughput_tok_s": 100.0, "failed": 0}}
    after = {"summary": {"output_throughput_tok_s": 125.0, "failed": 2}, "metrics": {}}
    rows = {r["metric"]: r["change"] for r in compare(before, after)}
    assert rows["output throughput (tok/s)"] == "+25.0% better"
    assert rows["failed requests"] == "new"
