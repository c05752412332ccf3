"""``cudalign scan`` on the command line: formats, --fail-on and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cudalign.cli import main

REPOS = Path(__file__).resolve().parents[1] / "repos"


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scan", str(REPOS / "speech_llm"), "--format", "json"])
    body = json.loads(capsys.readouterr().out)
    assert code == 1  # CA605 is an error
    assert body["schema"] == "cudalign.scan/1"
    assert {s["name"] for s in body["services"]} == {"tts", "stt", "llm", "worker", "api", "redis"}
    ca605 = next(f for f in body["findings"] if f["code"] == "CA605")
    assert ca605["location"] == {"file": "services/worker/requirements.txt", "line": 3, "column": None}
    assert ca605["service"] == "worker" and ca605["severity"] == "error"
    assert body["suppressed"] == 1


def test_clean_repo_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(REPOS / "clean")]) == 0
    out = capsys.readouterr().out
    assert "0 findings" in out and "server" in out


@pytest.mark.parametrize(("fail_on", "expected"), [("error", 0), ("warning", 1), ("never", 0)])
def test_fail_on(fail_on: str, expected: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "requirements.txt").write_text("torch>=2.5\n", encoding="utf-8")  # a warning only (CA604)
    assert main(["scan", str(tmp_path), "--fail-on", fail_on]) == expected
    capsys.readouterr()


def test_a_constraint_against_a_pin_fails_the_scan(capsys: pytest.CaptureFixture[str]) -> None:
    # pip install -r requirements.txt -c constraints.txt: torch==2.9.0 against torch==2.3.0
    assert main(["scan", str(REPOS / "vllm_cuda_upgrade"), "--fail-on", "error"]) == 1
    assert "CA309 requirements-conflict" in capsys.readouterr().out


def test_fleet_driver_flag(capsys: pytest.CaptureFixture[str]) -> None:
    main(["scan", str(REPOS / "speech_llm"), "--fleet-driver", "535.104.05", "--json"])
    body = json.loads(capsys.readouterr().out)
    assert body["fleet_driver"] == "535.104.05"
    # the llm runs on A10G nodes (product label): the engine judges its image there (forward
    # compatibility, CA402 info); the fleet rule CA608 would contradict it on the same line
    llm = [f for f in body["findings"] if f["location"]["file"] == "services/llm/Dockerfile"]
    assert [f["code"] for f in llm] == ["CA402"] and "forward compatibility" in llm[0]["message"]


def test_gpu_and_driver_describe_the_fleet(capsys: pytest.CaptureFixture[str]) -> None:
    main(["scan", str(REPOS / "vllm_cuda_upgrade"), "--gpu", "V100", "--driver", "535.104.05", "--json"])
    body = json.loads(capsys.readouterr().out)
    assert body["fleet_driver"] == "535.104.05"
    host = body["services"][0]["host"]
    assert host["driver"]["version"] == "535.104.05" and "V100" in host["gpus"][0]["name"]


def test_markdown_and_sarif_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scan.sarif"
    main(["scan", str(REPOS / "speech_llm"), "--format", "sarif", "-o", str(out)])
    log = json.loads(out.read_text())
    assert log["version"] == "2.1.0" and log["runs"][0]["results"]
    main(["scan", str(REPOS / "speech_llm"), "--format", "markdown"])
    assert capsys.readouterr().out.startswith("# cudalign scan:")


def test_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a directory" in err


def test_bad_fleet_driver_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(REPOS / "clean"), "--fleet-driver", "latest"]) == 2
    assert "not a driver version" in capsys.readouterr().err


def test_recorded_host(capsys: pytest.CaptureFixture[str]) -> None:
    host = Path(__file__).resolve().parents[1] / "hosts" / "driver470.json"
    code = main(["scan", str(REPOS / "vllm_cuda_upgrade"), "--host", str(host), "--json"])
    body = json.loads(capsys.readouterr().out)
    # the A100 runs the image's CUDA 12.1 compat libraries over R470 (warnings); the one error is the
    # constraint torch==2.3.0 against the pin torch==2.9.0 (CA309)
    assert code == 1
    assert [f["code"] for f in body["findings"] if f["severity"] == "error"] == ["CA309"]
    assert body["fleet_driver"].startswith("470.")
    ca102 = [f for f in body["findings"] if f["code"] == "CA102"]
    assert ca102 and all(f["location"]["file"] in {"requirements.txt", "Dockerfile"} for f in ca102)
    assert all("forward compatibility over 470.256.02" in f["message"] for f in ca102)
    assert not any(f["code"] == "CA608" for f in body["findings"])  # the engine's CA402 says it
