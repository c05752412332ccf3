"""Bad hosts, from a file (``--host``) or from flags (``--python``, ``--driver``): one line naming the
file or flag and what is wrong, exit 2, no Python signature or traceback, no input file changed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import Result

HOSTS = Path(__file__).resolve().parents[1] / "hosts"
REPO = Path(__file__).resolve().parents[1] / "repos" / "clean"

Cli = Callable[..., Result]
Check = Callable[..., None]

# Each command that reads --host, with the arguments of a quick run.
HOST_RUNS: dict[str, list[str]] = {
    "check": ["check", "vllm==0.13.0"],
    "plan": ["plan", "vllm==0.13.0"],
    "scan": ["scan", str(REPO)],
    "explain": ["explain", "CUDA driver version is insufficient for CUDA runtime version"],
    "runbook": ["runbook", "--driver", "575", "--os", "ubuntu22.04"],
}

_GOOD = {"origin": "probe", "gpus": [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "cc": "9.0"}]}

# (file content, what the one line must say after the file name)
BAD_HOSTS: list[tuple[str, str]] = [
    ("{}", "missing field 'origin'"),
    ('{"python": "3.12"}', "missing field 'origin'"),
    ('{"origin": "file", "gpus": [{"index": 0}]}', "gpus[0]: missing field 'name'"),
    ('{"origin": "file", "packages": [{"name": "torch"}]}', "packages[0]: missing field 'version'"),
    ('{"origin": "file", "python": "banana"}', "python: not a Python version: 'banana'"),
    ('{"origin": "file", "python": "3"}', "python: not a Python version: '3'"),
    ('{"origin": "file", "driver": {"version": "five-fifty"}}', "driver.version: not a driver version"),
    (
        '{"origin": "file", "driver": {"version": "550.54.15", "cuda": "x"}}',
        "driver.cuda: not a CUDA version",
    ),
    ('{"origin": "file", "os": {"glibc": "musl"}}', "os.glibc: not a glibc version"),
    ('{"origin": 5}', "origin: expected a string, got a number"),
    ('{"origin": "file", "gpus": "many"}', "gpus: expected an array, got a string"),
    ('{"origin": "file", "gpus": [3]}', "gpus[0]: expected an object, got a number"),
    ('{"origin": "file", "gpus": [{"index": "0", "name": "x"}]}', "gpus[0].index: expected an integer"),
    ('{"origin": "file", "gpus": [{"index": true, "name": "x"}]}', "gpus[0].index: expected an integer"),
    ('{"origin": "file", "gpus": [{"index": 0, "name": 7}]}', "gpus[0].name: expected a string"),
    ('{"origin": "file", "gpus": [{"index": 0, "name": "x", "cc": "zz"}]}', "not a compute capability"),
    ('{"origin": "file", "gpus": [{"index": 0, "name": "x", "cc": true}]}', "gpus[0].cc: expected a compute"),
    ('{"origin": "file", "gpus": [{"index": 0, "name": "x", "memory_mib": 1.5}]}', "memory_mib: expected an"),
    ('{"origin": "file", "nvlink": "yes"}', "nvlink: expected true or false, got a string"),
    ('{"origin": "file", "env": {"CUDA_HOME": 1}}', "env.CUDA_HOME: expected a string, got a number"),
    ('{"origin": "file", "env": []}', "env: expected an object of strings, got an array"),
    ('{"origin": "file", "cuda_toolkits": [12.4]}', "cuda_toolkits[0]: expected a string, got a number"),
    ('{"origin": "file", "os": "ubuntu"}', "os: expected an object, got a string"),
    ('{"origin": "file", "colour": "green"}', "unknown key 'colour'"),
    ('{"schema": "cudalign.host/9", "origin": "file"}', "schema 'cudalign.host/9'"),
    ("[]", "expected a JSON object, got an array"),
    ('"host"', "expected a JSON object, got a string"),
    ("null", "expected a JSON object, got null"),
    ("3", "expected a JSON object, got a number"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"a":' * 100_000 + "1" + "}" * 100_000, "nested too deeply"),
    ('{"origin": "file", "gpus": [{"index": 1' + "0" * 5000 + ', "name": "x"}]}', "not valid JSON"),
    ('{"origin": "file",\n  "gpus": [}', "host.json:2: not valid JSON"),
    ("", "not valid JSON"),
]


def _write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "host.json"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize(("content", "expected"), BAD_HOSTS, ids=[e for _, e in BAD_HOSTS])
def test_a_bad_host_file_is_one_line_naming_the_file_and_the_field(
    content: str,
    expected: str,
    tmp_path: Path,
    cli: Cli,
    usage_error: Check,
    digests: Callable[[Path], dict[str, str]],
) -> None:
    path = _write(tmp_path, content)
    before = digests(tmp_path)
    result = cli(*HOST_RUNS["check"], "--host", str(path))
    usage_error(result, str(path), expected)
    assert "__init__" not in result.err and "positional argument" not in result.err
    assert digests(tmp_path) == before


@pytest.mark.parametrize("command", sorted(HOST_RUNS))
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{}", "missing field 'origin'"),
        ('{"origin": "file", "python": "banana"}', "not a Python version"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"origin": "file", "gpus": [{"index": 0, "name": ["x"]}]}', "gpus[0].name: expected a string"),
        (b"\xff\xfe\x00binary", "not UTF-8 text"),
    ],
)
def test_every_command_that_reads_a_host_file_refuses_it_the_same_way(
    command: str,
    content: str | bytes,
    expected: str,
    tmp_path: Path,
    cli: Cli,
    usage_error: Check,
    digests: Callable[[Path], dict[str, str]],
) -> None:
    path = _write(tmp_path, content)
    before = digests(tmp_path)
    usage_error(cli(*HOST_RUNS[command], "--host", str(path)), str(path), expected)
    assert digests(tmp_path) == before


def test_a_missing_host_file_is_one_line(tmp_path: Path, cli: Cli, usage_error: Check) -> None:
    missing = tmp_path / "nope.json"
    usage_error(cli(*HOST_RUNS["check"], "--host", str(missing)), str(missing), "cannot read")


def test_a_host_file_with_a_byte_order_mark_is_read(tmp_path: Path, cli: Cli) -> None:
    path = _write(tmp_path, b"\xef\xbb\xbf" + json.dumps(_GOOD).encode())
    result = cli(*HOST_RUNS["check"], "--host", str(path), "--json")
    assert result.rc in (0, 1), result.err
    assert json.loads(result.out)["host"]["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"


@pytest.mark.parametrize("command", ["check", "plan", "scan", "explain"])
@pytest.mark.parametrize("value", ["banana", "3", "3.12.1.4", "1!3.12", "3.12+local", ""])
def test_python_flag_that_is_not_a_python_version_is_one_line(
    command: str, value: str, cli: Cli, usage_error: Check
) -> None:
    argv = [*HOST_RUNS[command], "--gpu", "H100", "--driver", "550.54.15", "--python", value]
    usage_error(cli(*argv), "--python", "not a Python version", repr(value))


def test_python_flag_is_checked_also_beside_a_host_file(cli: Cli, usage_error: Check) -> None:
    result = cli(*HOST_RUNS["check"], "--host", str(HOSTS / "h100.json"), "--python", "banana")
    usage_error(result, "--python", "'banana'")


@pytest.mark.parametrize("value", ["3.12", "3.12.3", "3.13.0rc1", " 3.11 "])
def test_python_flag_accepts_python_versions(value: str, cli: Cli) -> None:
    result = cli(*HOST_RUNS["check"], "--gpu", "H100", "--driver", "550.54.15", "--python", value, "--json")
    assert result.rc in (0, 1), result.err
    assert json.loads(result.out)["host"]["python"] == value.strip()


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["check", "vllm==0.13.0", "--gpu", "H100", "--driver", "five-fifty"], "--driver"),
        (["runbook", "--driver", "575", "--gpu", "H100", "--current-driver", "x.y"], "--current-driver"),
    ],
)
def test_a_driver_flag_that_is_not_a_version_names_the_flag(
    argv: list[str], flag: str, cli: Cli, usage_error: Check
) -> None:
    usage_error(cli(*argv), flag, "not a driver version")


@pytest.mark.parametrize("value", ["banana", "", "/no/such/python3", "a" * 5000])
def test_doctor_python_that_is_no_interpreter_is_one_line(value: str, cli: Cli, usage_error: Check) -> None:
    usage_error(cli("doctor", "--python", value), "--python", "no such interpreter")


def test_doctor_python_accepts_a_real_interpreter(cli: Cli) -> None:
    import sys

    result = cli("doctor", "--python", sys.executable, "--json", "--fail-on", "never")
    assert result.rc == 0, result.err
    assert "python" not in json.loads(result.out)["host"]["unknown"]


@pytest.mark.parametrize("kind", ["long", "loop"])
def test_scan_path_that_cannot_be_looked_at_is_one_line(
    kind: str, tmp_path: Path, cli: Cli, usage_error: Check
) -> None:
    if kind == "long":
        path = tmp_path / ("a" * 5000)
    else:
        path = tmp_path / "loop-a"
        path.symlink_to(tmp_path / "loop-b")
        (tmp_path / "loop-b").symlink_to(path)
    usage_error(cli("scan", str(path)), str(path), "cannot read")
