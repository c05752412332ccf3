"""Start-up stays lazy: a command imports what it needs and compiles no code (timings live in benchmarks/).

Each run happens in a fresh interpreter; what it imported is read from ``sys.modules`` at exit, and every
``exec`` of source text is recorded with the class it made, if any (``dataclasses.dataclass`` compiles
each class's methods that way; our value types take theirs ready-made from
:mod:`cudalign._dataclass_gen`, a dependency's classes still compile theirs).
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

import pytest

from cudalign.cli import COMMANDS, build_parser, main

_PROBE = """
import builtins, contextlib, io, json, sys
compiled = []
real = builtins.exec
def spy(source, *args, **kwargs):
    if isinstance(source, str):  # whose class is being made, if a dataclass is
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_name != "_process_class":
            frame = frame.f_back
        owner = frame.f_locals.get("cls") if frame is not None else None
        compiled.append(f"{owner.__module__}.{owner.__qualname__}" if owner is not None else "?")
    return real(source, *args, **kwargs)
builtins.exec = spy
from cudalign.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    rc = main(json.loads(sys.argv[1]))
builtins.exec = real
print(json.dumps({"rc": rc, "modules": sorted(sys.modules), "compiled": compiled}))
"""


def _run(*argv: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(argv))],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result


_ADA = ("--gpu", "RTX 6000 Ada", "--driver", "550.144.03")
_NEVER = (
    # what a check on a described host has no use for
    "cudalign.plan",
    "cudalign.scan",
    "cudalign.probe",
    "cudalign.explain",
    "cudalign.facts.update",
    "cudalign.facts.pypi",
    "cudalign.facts.http",
    "cudalign.render.html",
    "cudalign.render.sarif",
    "cudalign.rules.repo",
    "cudalign.rules.repo_drift",
    "cudalign.rules.repo_images",
    "cudalign.rules.repo_pins",
    "tomllib",
    "tomli",
    "urllib.request",
    "http.client",
    "email",
)


def test_check_on_a_described_host_imports_only_what_it_uses() -> None:
    first = _run("check", "torch==2.9.*", "vllm==0.13.0", *_ADA)  # writes the facts' pickle
    assert first["rc"] in (0, 1)
    result = _run("check", "torch==2.9.*", "vllm==0.13.0", *_ADA)
    modules = set(result["modules"])  # type: ignore[call-overload]
    assert "cudalign.rules" in modules and "cudalign.stack.resolve" in modules  # it did the work
    others = {f"cudalign.cli.{module}" for name, (module, _) in COMMANDS.items() if name != "check"}
    assert not modules & others
    loaded = sorted(m for m in _NEVER if m in modules or any(k.startswith(m + ".") for k in modules))
    assert loaded == []
    assert _ours(result["compiled"]) == []


# packaging's requirement parser pulls in packaging.tags (logging, subprocess, platform) and dataclasses
# (inspect): cudalign._pep508 reads the requirements these commands meet
_PACKAGING_HEAVY = ("packaging.requirements", "packaging.markers", "packaging.tags", "dataclasses", "inspect")


@pytest.mark.parametrize(
    "argv",
    [
        ("check", "torch==2.9.*", "vllm==0.13.0", *_ADA),
        ("plan", "vllm", "--gpu", "RTX 5090", "--driver", "570.133.07"),
        ("check", "faster-whisper", "torch; sys_platform == 'linux'", *_ADA),
    ],
    ids=["check", "plan", "marker"],
)
def test_the_engine_reads_requirements_without_packagings_parser(argv: tuple[str, ...]) -> None:
    _run(*argv)
    result = _run(*argv)
    modules = set(result["modules"])  # type: ignore[call-overload]
    assert "cudalign.stack.resolve" in modules  # it resolved requirements, markers included
    # packaging before 25 imports packaging.tags with its specifiers, which the engine cannot do without
    baseline = subprocess.run(
        [sys.executable, "-c", "import sys, packaging.specifiers; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert [m for m in _PACKAGING_HEAVY if m in modules and m not in baseline] == []
    assert "packaging.requirements" not in modules and "packaging.markers" not in modules


def _ours(compiled: object) -> list[str]:
    assert isinstance(compiled, list)
    return [c for c in compiled if not c.startswith("packaging.")]


def test_explain_of_one_line_resolves_no_stack() -> None:
    line = "RuntimeError: CUDA error: no kernel image is available for execution on the device"
    _run("explain", "--fail-on", "never", line, "--gpu", "H100", "--driver", "550.107.02")
    result = _run("explain", "--fail-on", "never", line, "--gpu", "H100", "--driver", "550.107.02")
    modules = set(result["modules"])  # type: ignore[call-overload]
    assert "cudalign.explain" in modules
    for lazy in (
        "cudalign.stack",
        "cudalign.rules",
        "cudalign.plan",
        "cudalign.scan",
        "tomllib",
        "tomli",
        "hashlib",
        "dataclasses",  # the value types' fields are made only when asked for
        "inspect",
        "shutil",  # argparse imports it for the terminal's width; cudalign's parser reads that itself
    ):
        assert lazy not in modules, lazy
    assert _ours(result["compiled"]) == []


def test_version_imports_neither_the_model_nor_the_facts() -> None:
    result = _run("--version")
    modules = set(result["modules"])  # type: ignore[call-overload]
    assert result["rc"] == 0
    assert not {"cudalign.model", "cudalign.facts", "dataclasses", "packaging"} & modules


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_parser_without_the_other_commands_says_the_same(command: str) -> None:
    """``main`` builds no sub-parser for the commands it was not asked for; what it prints is unchanged."""
    for argv in ([command, "--help"], [command, "--no-such-flag"], [command, "--format", "nope"]):
        seen = []
        for others in (True, False):
            out, err = io.StringIO(), io.StringIO()
            parser = build_parser([command], others=others)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    parser.parse_args(argv)
                    code: object = None
                except SystemExit as exc:
                    code = exc.code
            seen.append((code, out.getvalue(), err.getvalue()))
        assert seen[0] == seen[1], argv


def test_main_builds_only_the_chosen_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--help"]) == 0
    assert "usage: cudalign explain" in capsys.readouterr().out
    assert main(["--help"]) == 0  # the top-level help still lists every command
    help_text = capsys.readouterr().out
    assert all(f"    {name}" in help_text for name in COMMANDS)
