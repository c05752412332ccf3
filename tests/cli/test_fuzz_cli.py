"""Fuzz the command line: random argv built from each command's real options, and random input files of
every kind a command reads, through ``cudalign.cli.main`` in-process.

Whatever comes in, the exit status is 0, 1 or 2, nothing escapes ``main`` (no traceback), a usage error
says something on stderr, and no input file changes. The network is never touched: ``facts update`` is
only parsed, never run. Examples are bounded so the suite stays quick; ``CUDALIGN_FUZZ_EXAMPLES`` raises
the count for a deeper local run.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cudalign.cli import COMMANDS, build_parser, main

from .conftest import file_digests

TESTS = Path(__file__).resolve().parents[1]
HOSTS = TESTS / "hosts"
REPOS = TESTS / "repos"
EXAMPLES = int(os.environ.get("CUDALIGN_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=os.environ.get("CUDALIGN_FUZZ_RANDOM") is None,
)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fuzzed run that reaches for the network fails loudly instead of waiting on it."""
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a fuzzed run opened a network connection: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


# ------------------------------------------------------------------ the world a run may see


@dataclass(frozen=True)
class World:
    """Files a fuzzed run may name: inputs (must never change) and a place for outputs."""

    inputs: Path
    outputs: Path

    def path(self, name: str) -> str:
        return str(self.inputs / name)

    def populate(self) -> dict[str, str]:
        """(Re)write every input file; return their digests."""
        inputs = self.inputs
        for path in sorted(inputs.rglob("*"), reverse=True):
            path.unlink() if path.is_file() or path.is_symlink() else path.rmdir()
        (inputs / "host.json").write_bytes((HOSTS / "h100.json").read_bytes())
        (inputs / "empty.json").write_text("{}")
        (inputs / "deep.json").write_text("[" * 50_000 + "]" * 50_000)
        (inputs / "run.log").write_text(
            "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
            "CUDA driver version is insufficient for CUDA runtime version\n"
        )
        (inputs / "plan.json").write_text('{"schema": "cudalign.plan/1", "matrices": [{"label": "A"}]}')
        (inputs / "requirements.txt").write_text("vllm==0.13.0\ntorch==2.9.0+cu128\n")
        (inputs / "notes.txt").write_bytes(b"\xff\xfe\x00binary\n")
        (inputs / "repo").mkdir()
        (inputs / "repo" / "requirements.txt").write_text("torch==2.5.1+cu124\n")
        (inputs / "link.json").symlink_to(inputs / "host.json")
        (inputs / "loop-a").symlink_to(inputs / "loop-b")
        (inputs / "loop-b").symlink_to(inputs / "loop-a")
        return file_digests(inputs)


@pytest.fixture
def world(tmp_path: Path) -> World:
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    outputs.mkdir()
    return World(inputs, outputs)


INPUT_FLAGS = ("--host", "--log", "--from-plan", "--python", "-r", "--requirement", "-c", "--constraint")


def _writable(argv: list[str], root: Path) -> set[str]:
    """Files under ``root`` a run may change: its ``-o`` target, unless also one of its inputs."""
    outs, ins = set(), set()
    for flag, value in itertools.pairwise(argv):
        if flag in ("-o", "--output"):
            outs.add(os.path.realpath(value))
        elif flag in INPUT_FLAGS:
            ins.add(os.path.realpath(value))
    return {os.path.relpath(p, root) for p in outs - ins}


_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)


_RELATIVE = _TEXT.filter(lambda t: not t.lstrip().startswith(("/", "~")))
"""Random words that, taken as a path, stay inside the working directory (the test's own)."""


def _paths(world: World) -> st.SearchStrategy[str]:
    names = ["host.json", "empty.json", "deep.json", "run.log", "plan.json", "requirements.txt", "notes.txt"]
    return st.sampled_from(
        [world.path(n) for n in (*names, "repo", "link.json", "loop-a", "missing.json", "a" * 4000)]
        + ["", "-", os.devnull]
    )


def _values(world: World) -> dict[str, st.SearchStrategy[str]]:
    """Values worth trying for each option (by its ``dest``), beside random text."""
    numbers = st.sampled_from(
        ["0", "1", "3", "-1", "1e9", "nan", "inf", "0.001", "99999999999999999999", "x"]
    )
    outputs = st.sampled_from(
        [
            str(world.outputs / "report.txt"),
            str(world.outputs),
            str(world.outputs / "missing" / "r.txt"),
            "report.txt",
            str(world.outputs / ("a" * 4000)),
            str(world.outputs / "sub") + "/",
            world.path("host.json"),
            world.path("link.json"),
            world.path("run.log"),
            world.path("plan.json"),
            "-",
            os.devnull,
        ]
    )
    return {
        "output": outputs,
        "host": _paths(world),
        "log": _paths(world),
        "from_plan": _paths(world),
        "target_python": st.sampled_from(
            [world.path("notes.txt"), world.path("missing"), world.path("repo")]
        ),
        "path": st.sampled_from(
            [
                str(REPOS / "clean"),
                str(REPOS / "speech_llm"),
                world.path("repo"),
                world.path("requirements.txt"),
                world.path("missing"),
                world.path("loop-a"),
                world.path("a" * 4000),
                "",
            ]
        ),
        "gpu": st.sampled_from(
            ["H100", "RTX 5090", "sm_120", "A100", "V100", "0x2330", "9.0", "sm_", "banana"]
        ),
        "driver": st.sampled_from(["550.54.15", "575", "R575", "570.124.06", "470.82.01", "x", "-1", "1e9"]),
        "current_driver": st.sampled_from(["550.54.15", "535.54.03", "x", "", "575"]),
        "fleet_driver": st.sampled_from(["550.54.15", "x", "", "999"]),
        "host_python": st.sampled_from(["3.12", "3.9", "3.13.0rc1", "banana", "", "3"]),
        "host_os": st.sampled_from(["ubuntu22.04", "rocky9", "debian12", "windows", "", "ubuntu", "rhel8"]),
        "image": st.sampled_from(
            [
                "nvidia/cuda:12.8.1-runtime-ubuntu22.04",
                "vllm/vllm-openai:v0.13.0",
                "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
                "nvidia/cuda:99.9-base",
                "ubuntu",
                ":::",
                "",
            ]
        ),
        "index_url": st.sampled_from(
            ["https://download.pytorch.org/whl/cu128", "https://download.pytorch.org/whl/cpu", "x", ""]
        ),
        "feature": st.sampled_from(["bf16", "fp8", "flash-attn-3", "banana", ""]),
        "max": numbers,
        "timeout": numbers,
        "jobs": numbers,
        "matrix": st.sampled_from(["A", "B", "Z", ""]),
        "requirement_files": _paths(world),
        "constraint_files": _paths(world),
        "requirements": st.sampled_from(
            [
                "vllm==0.13.0",
                "torch==2.9.0+cu128",
                "vllm>=0.12",
                "torch",
                "vllm",
                "torch==9.9.9",
                "vlm==0.13.0",
                "vllm===",
                "torch @ https://download.pytorch.org/whl/cu124/torch-2.5.1%2Bcu124-cp312-cp312-linux_x86_64.whl",
                "flash-attn==2.7.4",
                "foo[bar]>=",
                "-r",
                "",
            ]
        ),
        "text": st.sampled_from(
            [
                "CUDA driver version is insufficient for CUDA runtime version",
                "no kernel image is available for execution on the device",
                "undefined symbol: " + "_Z" * 200,
                "-",
                "",
            ]
        ),
        "what": st.sampled_from(
            ["torch", "vllm==0.13.0", "torch==9.9.9", "cuda.toolkit.12.8.0", "==", "", "x"]
        ),
    }


# ------------------------------------------------------------------ argv built from the real parsers


@dataclass(frozen=True)
class Option:
    flag: str
    dest: str
    takes_value: bool
    choices: tuple[str, ...] | None


@cache
def _parser_of(command: str, sub: str | None = None) -> argparse.ArgumentParser:
    top = build_parser([command])
    parser = _subparsers(top)[command]
    return _subparsers(parser)[sub] if sub else parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


ONLINE_FLAGS = frozenset({"--registry", "--online", "--resolve"})
"""Flags that ask for the network (a registry, the real resolver): never drawn, the run stays offline."""


def _options(parser: argparse.ArgumentParser) -> tuple[list[Option], list[Option]]:
    """(optional, positional) arguments of a parser; help and subcommand actions left out."""
    optional, positional = [], []
    for a in parser._actions:
        if isinstance(a, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
            continue
        choices = tuple(str(c) for c in a.choices) if a.choices else None
        if a.option_strings:
            if set(a.option_strings) & ONLINE_FLAGS:
                continue
            for flag in a.option_strings:
                optional.append(Option(flag, a.dest, a.nargs != 0, choices))
        else:
            positional.append(Option(a.dest, a.dest, True, choices))
    return optional, positional


PINNED = frozenset({"output", "path", "target_python", "host", "log", "from_plan"})
"""Options that name files: only ever the world's paths, so a run never writes, scans or executes
anything outside the test's directory (random text there could be ``/`` or a file in the checkout)."""


def _value(draw: st.DrawFn, world: World, option: Option) -> str:
    pools = _values(world)
    if option.dest in PINNED:
        return draw(pools[option.dest])
    if option.choices and draw(st.integers(0, 4)):
        return draw(st.sampled_from(option.choices))
    if option.dest in pools and draw(st.integers(0, 5)):
        return draw(pools[option.dest])
    return draw(_RELATIVE)


@st.composite
def _argv(draw: st.DrawFn, world: World, words: tuple[str, ...]) -> list[str]:
    parser = _parser_of(*words) if len(words) > 1 else _parser_of(words[0])
    optional, positional = _options(parser)
    argv = list(words)
    for _ in range(draw(st.integers(0, 7))):
        kind = draw(st.integers(0, 9))
        if kind < 6 and optional:
            option = draw(st.sampled_from(optional))
            argv.append(option.flag)
            if option.takes_value:
                argv.append(_value(draw, world, option))
        elif kind < 9 and positional:
            argv.append(_value(draw, world, draw(st.sampled_from(positional))))
        else:
            argv.append(draw(st.sampled_from(["--", "-", "--nope", "-o"]) | _RELATIVE))
    return argv


def _runnable(command: str) -> tuple[tuple[str, ...], ...]:
    """The word lists to run: a command, or each subcommand of one (``facts status``)."""
    subs = _subparsers(_parser_of(command))
    return tuple((command, s) for s in sorted(subs)) if subs else ((command,),)


OFFLINE_FACTS = ("status", "show")
SERVERS = (("mcp",),)
"""Commands that serve a client until it goes: parsed, never run."""
RUN = [
    words
    for c in sorted(COMMANDS)
    for words in _runnable(c)
    if (words[:1] != ("facts",) or words[1] in OFFLINE_FACTS) and words not in SERVERS
]
PARSE_ONLY = [words for c in sorted(COMMANDS) for words in _runnable(c) if words not in RUN]


def _judge(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    rc = main(argv)  # an exception escaping here is the failure this suite looks for
    err = capsys.readouterr().err
    assert rc in (0, 1, 2), (argv, rc, err)
    assert "Traceback" not in err, (argv, err)
    if rc == 2:
        assert err.strip() or argv == [], argv


@pytest.mark.parametrize("words", RUN, ids=[" ".join(w) for w in RUN])
def test_random_arguments_never_crash_a_command(
    words: tuple[str, ...], world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        argv = data.draw(_argv(world, words))
        monkeypatch.setattr(sys, "stdin", io.StringIO(data.draw(_TEXT)))
        monkeypatch.chdir(world.outputs)  # a relative path a run makes up lands here
        before = world.populate()
        _judge(argv, capsys)
        after = file_digests(world.inputs)
        changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
        assert changed <= _writable(argv, world.inputs), (argv, changed)

    run()


@pytest.mark.parametrize("words", PARSE_ONLY, ids=[" ".join(w) for w in PARSE_ONLY])
def test_random_arguments_to_an_online_command_parse_or_fail_as_usage_errors(
    words: tuple[str, ...], world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Online commands are parsed, never run: their parser gives 0 (help) or 2, never a traceback."""
    parser = build_parser([words[0]])

    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        argv = data.draw(_argv(world, words))
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            assert exc.code in (0, 2)
        assert "Traceback" not in capsys.readouterr().err

    run()


def test_the_fuzzed_commands_are_every_command() -> None:
    assert {w[0] for w in RUN + PARSE_ONLY} == set(COMMANDS)
    assert ("facts", "update") in PARSE_ONLY


# ------------------------------------------------------------------ random input files of every kind


def _fixture_lines(*patterns: str) -> list[str]:
    lines: list[str] = []
    for pattern in patterns:
        for path in sorted(TESTS.glob(pattern)):
            if path.is_file():
                lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if line.strip()][:400]


def _mutate(line: str, draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 4))
    if kind == 0 or not line:
        return line
    at = draw(st.integers(0, len(line)))
    if kind == 1:
        return line[:at] + draw(_TEXT) + line[at:]
    if kind == 2:
        return line[:at]
    if kind == 3:
        return line[:at] + line[at + 1 :]
    return line * draw(st.integers(2, 5))


@st.composite
def _text_file(draw: st.DrawFn, seeds: tuple[str, ...]) -> bytes:
    """Lines from real fixtures, mutated and mixed with junk; sometimes re-encoded or raw bytes."""
    if not draw(st.integers(0, 9)):
        return draw(st.binary(max_size=200))
    lines = []
    for _ in range(draw(st.integers(0, 25))):
        if seeds and draw(st.integers(0, 3)) > 0:
            lines.append(_mutate(draw(st.sampled_from(seeds)), draw))
        else:
            lines.append(draw(_TEXT))
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="replace")


_SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | _TEXT


def _json_like(keys: list[str]) -> st.SearchStrategy[object]:
    """JSON values whose keys are mostly the real ones, nested a few levels."""
    key = st.sampled_from(keys) | _TEXT

    def nest(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
        return st.lists(inner, max_size=4) | st.dictionaries(key, inner, max_size=6)

    return st.recursive(_SCALARS, nest, max_leaves=25)


@cache
def _host_keys() -> list[str]:
    import dataclasses

    from cudalign.model import ContainerInfo, DriverInfo, Gpu, Host, InstalledPackage, OsInfo

    types = (Host, OsInfo, DriverInfo, ContainerInfo, Gpu, InstalledPackage)
    return sorted({f.name for t in types for f in dataclasses.fields(t)} | {"schema", "host", "label"})


@st.composite
def _host_file(draw: st.DrawFn) -> bytes:
    import json

    if draw(st.integers(0, 3)) == 0:
        return draw(_text_file(tuple(_fixture_lines("hosts/*.json"))))
    value = draw(_json_like(_host_keys()))
    if draw(st.booleans()) and isinstance(value, dict):
        value.setdefault("origin", draw(st.sampled_from(["file", "probe", "described"])))
    return json.dumps(value).encode()


@st.composite
def _plan_file(draw: st.DrawFn) -> bytes:
    import json

    keys = ["schema", "matrices", "label", "driver", "driver_change", "host", "origin", "gpus"]
    value = draw(_json_like(keys))
    if isinstance(value, dict) and draw(st.booleans()):
        value["schema"] = "cudalign.plan/1"
    return json.dumps(value).encode()


# file name in the repo -> where its seed lines come from
REPO_FILES = {
    "requirements.txt": (
        "repos/*/requirements.txt",
        "repos/*/*/*/requirements.txt",
        "repos/*/constraints.txt",
    ),
    "Dockerfile": ("repos/*/Dockerfile", "repos/*/*/*/Dockerfile"),
    "docker-compose.yml": ("repos/*/docker-compose.yml",),
    "k8s/deploy.yaml": ("repos/*/k8s/*.yaml", "repos/*/deploy/*.yaml"),
    "pyproject.toml": ("repos/uv_workspace/pyproject.toml", "repos/uv_workspace/packages/*/pyproject.toml"),
    "uv.lock": ("repos/uv_workspace/uv.lock",),
}


@pytest.mark.parametrize("name", sorted(REPO_FILES))
def test_random_repository_files_never_crash_scan(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = tuple(_fixture_lines(*REPO_FILES[name]))
    assert seeds, name

    @FUZZ
    @given(content=_text_file(seeds), extra=_text_file(seeds), sarif=st.booleans())
    def run(content: bytes, extra: bytes, sarif: bool) -> None:
        repo = tmp_path / "repo"
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        (repo / "svc").mkdir(exist_ok=True)
        (repo / "svc" / name.rsplit("/", 1)[-1]).write_bytes(extra)
        before = file_digests(repo)
        fmt = ["--format", "sarif", "--fleet-driver", "535.54.03"] if sarif else ["--json"]
        _judge(["scan", str(repo), *fmt], capsys)
        assert file_digests(repo) == before

    run()


def test_random_host_files_never_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    @FUZZ
    @given(content=_host_file(), command=st.sampled_from(["check", "plan", "explain", "runbook", "scan"]))
    def run(content: bytes, command: str) -> None:
        path = tmp_path / "host.json"
        path.write_bytes(content)
        argv = {
            "check": ["check", "vllm==0.13.0"],
            "plan": ["plan", "torch==2.9.0"],
            "explain": ["explain", "no kernel image is available for execution on the device"],
            "runbook": ["runbook", "--driver", "575", "--os", "ubuntu22.04"],
            "scan": ["scan", str(REPOS / "clean")],
        }[command]
        _judge([*argv, "--host", str(path)], capsys)
        assert path.read_bytes() == content

    run()


def test_random_plan_files_never_crash_runbook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    @FUZZ
    @given(content=_plan_file(), label=st.none() | st.sampled_from(["A", "B", ""]))
    def run(content: bytes, label: str | None) -> None:
        path = tmp_path / "plan.json"
        path.write_bytes(content)
        argv = ["runbook", "--from-plan", str(path), "--os", "ubuntu22.04", "--gpu", "H100"]
        _judge([*argv, *(["--matrix", label] if label is not None else [])], capsys)
        assert path.read_bytes() == content

    run()


def test_random_logs_never_crash_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeds = tuple(_fixture_lines("explain/data/*.log"))
    assert seeds

    @FUZZ
    @given(content=_text_file(seeds), fmt=st.sampled_from(["text", "json", "markdown"]))
    def run(content: bytes, fmt: str) -> None:
        path = tmp_path / "run.log"
        path.write_bytes(content)
        _judge(["explain", "--no-probe", "--log", str(path), "--format", fmt], capsys)
        assert path.read_bytes() == content

    run()


def test_the_network_guard_refuses_a_connection() -> None:
    import socket

    with pytest.raises(AssertionError, match="network"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
