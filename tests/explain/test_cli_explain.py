"""`cudalign explain` on the command line: inputs, formats and exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cudalign.cli import main

LOG = Path(__file__).with_name("data") / "vllm-startup.log"


def test_recognised_message_exits_1_and_names_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--no-probe", "AssertionError: Torch not compiled with CUDA enabled"]) == 1
    out = capsys.readouterr().out
    assert "CA305 cpu-only-torch" in out
    assert "source: https://github.com/" in out


def test_fail_on_never_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--no-probe", "--fail-on", "never", "Torch not compiled with CUDA enabled"]) == 0


def test_unrecognised_text_exits_0_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--no-probe", "everything is fine"]) == 0
    assert "no known error signature" in capsys.readouterr().out


def test_json_output_has_the_schema_and_the_matches(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["explain", "--json", "--log", str(LOG), "--gpu", "H100", "--driver", "550.107.02"])
    assert rc == 1
    body = json.loads(capsys.readouterr().out)
    assert body["schema"] == "cudalign.explain/1"
    assert body["input"] == {"origin": str(LOG), "lines": len(LOG.read_text(encoding="utf-8").splitlines())}
    assert [m["code"] for m in body["matches"]] == ["CA501", "CA303"]
    assert body["findings"][0]["location"]["file"] == str(LOG)
    assert body["host"]["driver"]["version"] == "550.107.02"


def test_markdown_output(capsys: pytest.CaptureFixture[str]) -> None:
    main(
        [
            "explain",
            "--no-probe",
            "--format",
            "markdown",
            "Failed to initialize NVML: Driver/library version mismatch",
        ]
    )
    out = capsys.readouterr().out
    assert out.startswith("## cudalign explain: 1 cause")
    assert "### CA105 `nvml-driver-mismatch`" in out


def test_dash_reads_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        "sys.stdin", io.StringIO("RuntimeError: GPUs with compute capability below 7.0 are not supported.\n")
    )
    assert main(["explain", "--no-probe", "-"]) == 1
    assert "CA202 gpu-arch-dropped" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["explain", "--no-probe"], "nothing to explain"),
        (["explain", "--no-probe", "--log", str(LOG), "some text"], "either TEXT or --log"),
        (["explain", "--no-probe", "--log", "/nonexistent/x.log"], "/nonexistent/x.log: cannot read"),
        (
            ["explain", "--gpu", "Voodoo 5", "no kernel image is available for execution on the device"],
            "unknown GPU",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err


def test_recorded_host_file(capsys: pytest.CaptureFixture[str]) -> None:
    host = Path(__file__).parents[1] / "hosts" / "nvml-mismatch.json"
    rc = main(["explain", "--host", str(host), "Failed to initialize NVML: Driver/library version mismatch"])
    assert rc == 1
    out = capsys.readouterr().out
    assert "host (recorded host)" in out
    assert "reboot to load 550.127.05" in out
