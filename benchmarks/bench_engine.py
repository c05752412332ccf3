"""Benchmarks of ``check`` on a described host (budget 120 ms) and ``plan`` over the knowledge base (200 ms).

``python3 -c pass`` is timed in the same run: a command's time as a ratio to it is what carries over to
another machine.

Each is measured twice: as the command a user runs (a subprocess: interpreter start-up, imports, loading
the facts and the snapshot count) and in-process with the knowledge base already loaded (the engine alone).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from run import cli

__all__ = ["BENCHMARKS"]

_CACHE = Path(tempfile.gettempdir()) / "cudalign-bench-engine"
_CACHE.mkdir(exist_ok=True)
_ENV = {"CUDALIGN_CACHE_DIR": str(_CACHE)}

_ADA = ("--gpu", "RTX 6000 Ada", "--gpu", "RTX 6000 Ada", "--driver", "550.107.02")
_V100 = ("--gpu", "V100", "--driver", "535.183.01")


def _in_process_check() -> Callable[[], None]:
    from cudalign.facts import load
    from cudalign.hosts import describe_host
    from cudalign.rules import check, verdict
    from cudalign.stack import resolve

    facts = load()
    facts.snapshot  # noqa: B018 - load once, as a long-running caller would
    host = describe_host(facts, gpus=["RTX 6000 Ada", "RTX 6000 Ada"], driver="550.107.02")

    def run() -> None:
        stack = resolve(["torch==2.9.*", "vllm==0.13.0"], facts, host)
        verdict(check(host, stack, facts))

    return run


def _in_process_plan(requirements: list[str], gpus: list[str], driver: str) -> Callable[[], None]:
    from cudalign.facts import load
    from cudalign.hosts import describe_host
    from cudalign.plan import make_plan

    facts = load()
    facts.snapshot  # noqa: B018
    host = describe_host(facts, gpus=gpus, driver=driver)

    def run() -> None:
        make_plan(requirements, facts, host)

    return run


def _python_pass() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


BENCHMARKS: list[tuple[object, ...]] = [
    ("python3 -c pass (the baseline of the ratios)", _python_pass, None, 10),
    (
        "check torch 2.9 + vLLM 0.13 on 2x RTX 6000 Ada (CLI)",
        cli("check", "torch==2.9.*", "vllm==0.13.0", *_ADA, env=_ENV),
        120,
    ),
    ("check … --json (CLI)", cli("check", "torch==2.9.*", "vllm==0.13.0", *_ADA, "--json", env=_ENV), 120),
    ("check (in-process, facts loaded)", _in_process_check(), None, 20),
    ("plan vllm on V100 / R535: every vLLM release (CLI)", cli("plan", "vllm", *_V100, env=_ENV), 200),
    (
        "plan vllm on RTX 5090 / R570 (CLI)",
        cli("plan", "vllm", "--gpu", "RTX 5090", "--driver", "570.133.07", env=_ENV),
        200,
    ),
    ("plan vllm on V100 (in-process)", _in_process_plan(["vllm"], ["V100"], "535.183.01"), None, 5),
    ("plan torch on H100 (in-process)", _in_process_plan(["torch"], ["H100"], "580.95.05"), None, 5),
]
