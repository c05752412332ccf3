"""Benchmarks of ``cudalign matrix``: ``--package torch`` over the whole knowledge base (budget 0.3 s).

Every torch release the snapshot has against every CUDA variant the knowledge base lists for it, judged on
the recorded H100 host: in-process with the knowledge base loaded (the engine alone, as the budget is
meant), and as the command a user runs, beside ``python3 -c pass`` in the same run. vLLM (releases x
wheels x images) is timed too, without a budget.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from run import cli

__all__ = ["BENCHMARKS"]

_HOST = Path(__file__).resolve().parents[1] / "tests" / "hosts" / "h100.json"


def _in_process(package: str) -> Callable[[], None]:
    from cudalign.cli.options import read_host
    from cudalign.facts import load
    from cudalign.matrix import make_grid

    facts = load()
    facts.snapshot  # noqa: B018 - load once, as a long-running caller would
    host = read_host(_HOST)

    def run() -> None:
        make_grid(facts, host, package)

    return run


def _python_pass() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


BENCHMARKS: list[tuple[object, ...]] = [
    ("python3 -c pass", _python_pass, None, 10),
    ("matrix --package torch, whole knowledge base (in-process)", _in_process("torch"), 300, 10),
    ("matrix --package vllm, whole knowledge base (in-process)", _in_process("vllm"), None, 3),
    (
        "cudalign matrix --package torch (command)",
        cli("matrix", "--package", "torch", "--host", str(_HOST), "--json"),
        None,
        5,
    ),
]
