"""Tests of the CLI frame: version, help, usage errors and error translation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cudalign import __version__
from cudalign.cli import COMMANDS, build_parser, main


def test_version_prints_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"cudalign {__version__}"


def test_every_registered_command_has_a_parser_and_help() -> None:
    parser = build_parser()
    text = parser.format_help()
    for name in COMMANDS:
        assert name in text


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage:" in capsys.readouterr().out


def test_python_dash_m_runs_the_same_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cudalign", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == f"cudalign {__version__}"


def test_version_fast_path_imports_no_command_module() -> None:
    code = (
        "import sys; from cudalign.cli import main; main(['--version']);"
        "print(sorted(m for m in sys.modules if m.startswith('cudalign.cli.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
