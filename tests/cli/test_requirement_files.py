"""``-r FILE`` and ``-c FILE`` on check, plan, doctor and gpus, read as pip reads them.

Includes are followed relative to the including file (a loop ends), comments, continuations and
per-requirement hashes are read as pip reads them, an index a file names is the index, UTF-16 files are
read, a bad line is one error naming the file and line, and no file read is ever overwritten by ``-o``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import Result, file_digests

RTX5090 = ["--gpu", "RTX 5090", "--driver", "570.133.07"]


def _files(tmp_path: Path) -> Path:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.txt").write_text("torchaudio==2.5.1\n-r ../requirements.txt\n")
    (tmp_path / "requirements.txt").write_text(
        "--extra-index-url https://download.pytorch.org/whl/cu124\n"
        "-r sub/base.txt  # shared pins\n"
        "torch==2.5.1 \\\n"
        "    --hash=sha256:0123456789abcdef\n"
    )
    return tmp_path / "requirements.txt"


def _body(result: Result) -> Any:
    return json.loads(result.out)


def test_check_reads_a_file_and_what_it_includes(tmp_path: Path, cli: Callable[..., Result]) -> None:
    req = _files(tmp_path)
    result = cli("check", "-r", str(req), *RTX5090, "--json")
    assert result.rc == 1, result.err
    stack = _body(result)["stack"]
    assert isinstance(stack, dict)
    found = {p["name"]: p for p in stack["components"]}
    assert found["torch"]["version"] == "2.5.1" and found["torchaudio"]["version"] == "2.5.1"
    assert found["torch"]["variant"] == "cu124"  # the index the file names
    codes = {f["code"] for f in _body(result)["findings"]}
    assert "CA201" in codes  # torch 2.5 has no sm_120 code


def test_a_constraint_that_contradicts_a_pin_is_an_error(tmp_path: Path, cli: Callable[..., Result]) -> None:
    req = _files(tmp_path)
    (tmp_path / "constraints.txt").write_text("torch<2.5\n")
    result = cli("check", "-r", str(req), "-c", str(tmp_path / "constraints.txt"), *RTX5090, "--json")
    assert result.rc == 1
    assert any(f["code"] == "CA309" and "torch<2.5" in f["message"] for f in _body(result)["findings"])


def test_a_utf16_file_from_powershell_is_read(tmp_path: Path, cli: Callable[..., Result]) -> None:
    req = tmp_path / "requirements.txt"
    req.write_bytes("\ufefftorch==2.9.0+cu128\r\nvllm==0.13.0\r\n".encode("utf-16-le"))
    result = cli("check", "-r", str(req), "--gpu", "H100", "--driver", "580.95.05", "--json")
    assert result.rc == 0, result.err
    names = {p["name"] for p in _body(result)["stack"]["components"]}
    assert {"torch", "vllm"} <= names


def test_plan_and_gpus_take_files_too(tmp_path: Path, cli: Callable[..., Result]) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("vllm==0.13.0\n")
    plan = cli("plan", "-r", str(req), "--gpu", "H100", "--driver", "580.95.05", "--json")
    assert plan.rc == 0, plan.err
    assert _body(plan)["requirements"] == ["vllm==0.13.0"]
    gpus = cli("gpus", "-r", str(req), "--provider", "runpod", "--json")
    assert gpus.rc == 0 and _body(gpus)["requirements"] == ["vllm==0.13.0"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("torch==2.9.0\ntorch=2.5\n", "requirements.txt:2: not a valid requirement 'torch=2.5'"),
        ("-r\n", "requirements.txt:1: -r without a file"),
        ("-r missing.txt\n", "requirements.txt:1: -r missing.txt: no such file"),
        ("--index-url\n", "requirements.txt:1: --index-url without a URL"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_line(
    tmp_path: Path, cli: Callable[..., Result], content: str, expected: str
) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text(content)
    result = cli("check", "-r", str(req), *RTX5090)
    assert result.rc == 2 and result.out == ""
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    assert expected in result.err, result.err


def test_a_file_that_includes_itself_is_read_once(tmp_path: Path, cli: Callable[..., Result]) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("-r requirements.txt\ntorch==2.9.0+cu128\n")
    result = cli("check", "-r", str(req), "--gpu", "H100", "--driver", "580.95.05", "--json")
    assert result.rc == 0, result.err


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_a_file_that_is_not_there_is_one_line(tmp_path: Path, cli: Callable[..., Result], what: str) -> None:
    target = tmp_path / "nope.txt" if what == "missing" else tmp_path
    result = cli("check", "-r", str(target), *RTX5090)
    assert result.rc == 2 and len(result.err.strip().splitlines()) == 1
    assert f"-r {target}" in result.err


def test_output_onto_an_included_file_is_refused(tmp_path: Path, cli: Callable[..., Result]) -> None:
    req = _files(tmp_path)
    before = file_digests(tmp_path)
    result = cli("check", "-r", str(req), *RTX5090, "-o", str(tmp_path / "sub" / "base.txt"))
    assert result.rc == 2 and "refusing to overwrite it" in result.err
    direct = cli("plan", "-r", str(req), *RTX5090, "-o", str(req))
    assert direct.rc == 2 and "is the -r input file" in direct.err
    assert file_digests(tmp_path) == before


def test_plan_without_any_requirement_is_one_line(cli: Callable[..., Result]) -> None:
    result = cli("plan", "--gpu", "H100")
    assert result.rc == 2 and "give the stack" in result.err
