"""``cudalign matrix`` as text, Markdown and JSON: fits 80 columns, no escapes without a terminal or with
NO_COLOR, the same verdicts in every form, and bad input as one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cudalign.cli import main

HOSTS = Path(__file__).resolve().parents[1] / "hosts"
H100 = ["--host", str(HOSTS / "h100.json")]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("package", ["torch", "vllm", "onnxruntime-gpu"])
def test_text_fits_80_columns(
    package: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = _run(["matrix", "--package", package, *H100, "--max", "8"], capsys)
    assert code == 0
    too_wide = [line for line in out.splitlines() if len(line) > 80]
    assert all(len(line.split()) == 1 for line in too_wide)  # only a URL too long to break stays whole
    assert "\x1b" not in out
    assert any(line.startswith("release") for line in out.splitlines())


def test_wide_grids_are_cut_into_blocks_that_repeat_the_releases(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    _, out, _ = _run(["matrix", "--package", "vllm", *H100, "--max", "2"], capsys)
    heads = [line for line in out.splitlines() if line.startswith("release")]
    assert len(heads) >= 2
    assert all(len(line) <= 30 for line in out.splitlines() if line.startswith(("release", "  0.", "▶ 0.")))
    for label in ("PyPI", "+cu129", "image", "image-cu129"):
        assert any(label in h.split() for h in heads)


def test_the_grid_says_state_rule_and_installed_build_in_text(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    _, out, _ = _run(["matrix", *H100], capsys)
    lines = {
        line.split()[0] if not line.startswith("▶") else line.split()[1]: line
        for line in out.splitlines()
        if line[:2] in ("  ", "▶ ")
    }
    assert lines["2.11.0"].startswith("▶ 2.11.0")  # the host's torch 2.11.0+cu130
    assert "✓◀" in lines["2.11.0"]
    assert "✗ CA201" in lines["2.0.1"]  # cu117 has no sm_90
    assert "~ CA102" in lines["2.15.0"]  # CUDA 13.2 on a CUDA 13.0 driver
    assert "CA201 gpu-arch-not-in-build (error), cu117" in out
    assert "fact torch.build.2.0.cu117.linux_x86_64:" in out
    assert "installed: torch 2.11.0+cu130" in out


def _on_a_pty(argv: list[str], env: dict[str, str]) -> str:
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    full = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "CI")}
    full.update({"COLUMNS": "100", "TERM": "xterm", **env})
    proc = subprocess.Popen(
        [sys.executable, "-m", "cudalign", *argv], stdout=follower, stderr=follower, env=full
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_colour_on_a_terminal_and_none_with_no_color() -> None:
    argv = ["matrix", *H100, "--max", "3"]
    coloured = _on_a_pty(argv, {})
    assert "\x1b[32m✓" in coloured and "\x1b[33m~ CA102" in coloured
    plain = _on_a_pty(argv, {"NO_COLOR": "1"})
    assert "\x1b[" not in plain
    assert "~ CA102" in plain


def test_json_and_markdown_agree_with_the_text(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(["matrix", *H100, "--json", "--max", "30"], capsys)
    data = json.loads(out)
    assert data["schema"] == "cudalign.matrix/1"
    grid = data["matrix"]
    assert grid["package"] == "torch" and grid["installed"] == "2.11.0+cu130"
    rows = {r["release"]: {c["column"]: c for c in r["cells"]} for r in grid["rows"]}
    cell = rows["2.0.1"]["cu117"]
    assert cell["verdict"] == "fails" and cell["checked"] == "torch==2.0.1+cu117"
    assert cell["reasons"][0]["code"] == "CA201" and cell["reasons"][0]["facts"]
    assert rows["2.0.1"]["cu121"]["verdict"] is None
    assert rows["2.11.0"]["cu130"]["installed"] is True
    _, md, _ = _run(["matrix", *H100, "--format", "markdown", "--max", "30"], capsys)
    assert "| **2.11.0** (installed) |" in md and "✗ fails `CA201`" in md


def test_gpus_on_the_columns(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    code, out, _ = _run(
        ["matrix", "--gpus", "H100,V100,T4", "--driver", "580.65.06", "--max", "4", "--json"], capsys
    )
    grid = json.loads(out)["matrix"]
    assert grid["axis"] == "gpus" and len(grid["columns"]) == 3
    newest = grid["rows"][0]["cells"]
    v100 = next(c for c in newest if "V100" in c["column"])
    assert v100["verdict"] == "fails" and v100["reasons"][0]["code"] == "CA202"
    assert code == 0


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["matrix", "--package", "no-such-package", *H100], "--package no-such-package: no releases"),
        (["matrix", "--max", "0", *H100], "--max 0: must be at least 1"),
        (["matrix", "--build", "cu128", *H100], "--build: only with --gpus"),
        (["matrix", "--gpus", "H100", "--build", "cu999", *H100], "--build cu999: not a build of torch"),
        (["matrix", "--gpus", " , ", *H100], "--gpus: give at least one GPU"),
        (["matrix", "--gpus", "Voodoo 5", *H100], "unknown GPU 'Voodoo 5'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(argv, capsys)
    assert code == 2 and out == ""
    assert err.startswith("cudalign: error: ") and says in err.splitlines()[0]
    assert "Traceback" not in err
