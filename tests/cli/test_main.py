"""Tests of the CLI frame: version, help, usage errors and error translation."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

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


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"schema": "cudalign.host/1",\n  "origin": }', r"host\.json:2: not valid JSON"),
        (b"\xff\xfe\x00binary", r"host\.json: not valid JSON: not UTF-8 text"),
        (
            b'{"origin": "file", "gpus": [{"index": 0, "name": "x", "cc": "banana"}]}',
            r"not a compute capability",
        ),
    ],
)
def test_a_bad_host_file_is_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, expected: str
) -> None:
    path = tmp_path / "host.json"
    path.write_bytes(content)
    assert main(["check", "--host", str(path), "vllm==0.13.0"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert re.search(expected, err)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_parsing_one_command_imports_no_other_command_module(command: str) -> None:
    code = (
        "import contextlib, io, json, sys\n"
        "from cudalign.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main([{command!r}, '--help'])\n"
        "print(rc, json.dumps(sorted(m for m in sys.modules if m.startswith('cudalign.cli.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    rc, _, modules = out.stdout.strip().splitlines()[-1].partition(" ")
    assert rc == "0"
    others = {f"cudalign.cli.{COMMANDS[c][0]}" for c in COMMANDS if c != command}
    loaded = set(json.loads(modules))
    assert f"cudalign.cli.{COMMANDS[command][0]}" in loaded
    assert not loaded & others


def test_top_level_help_lists_every_command_without_importing_them() -> None:
    code = (
        "import contextlib, io, json, sys\n"
        "from cudalign.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    rc = main(['--help'])\n"
        "print(json.dumps(buf.getvalue()))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('cudalign.cli.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    help_repr, modules = out.stdout.strip().splitlines()[-2:]
    help_text = json.loads(help_repr)
    assert json.loads(modules) == []
    for name, (_, summary) in COMMANDS.items():
        assert re.search(rf"^\s+{name}\s", help_text, re.MULTILINE), name
        assert summary.split()[0] in help_text


def test_a_command_word_after_an_option_value_still_selects_that_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "--gpu", "plan", "--help"]) == 0
    assert "usage: cudalign check" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["plan", "vllm", "--max", "x"], "argument --max: invalid int value: 'x'"),
        (["check", "--arch", "sparc"], "argument --arch: invalid choice: 'sparc'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["facts", "show"], "the following arguments are required"),
        (["scan", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_a_usage_error_is_one_line_and_a_hint(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert lines[0].startswith("cudalign: error: ")
    assert needle in lines[0]
    assert len(lines) == 2 and lines[1].startswith("hint: see 'cudalign") and lines[1].endswith("--help'")
    assert captured.out == ""
