"""The command line: parse arguments, run one command, turn its report into output and an exit code.

Each command lives in ``cudalign.cli.<name>`` with ``add_arguments(parser)`` and ``run(args) -> int``;
those modules import nothing heavy at module level so that ``cudalign --version`` starts fast. The
library raises :class:`~cudalign.errors.CudalignError`; only :func:`main` turns it into one line on
stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cudalign import __version__

__all__ = ["COMMANDS", "build_parser", "main"]

# name -> one-line help; the module cudalign.cli.<module> implements it.
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("doctor", "what is on this host, what is wrong with it, and whether a stack would run here"),
    "check": ("check", "verdict for a stack on a host: this one, a recorded one, or a described one"),
    "plan": ("plan", "ranked compatible matrices: driver, CUDA, torch build, vLLM, Python, base image"),
    "scan": ("scan", "misaligned CUDA, torch and vLLM pins across a repository"),
    "explain": ("explain", "what an error message means on this host, and the fix"),
    "runbook": ("runbook", "a driver upgrade runbook with preflight, verification and rollback"),
    "facts": ("facts", "the knowledge base: update from PyPI, status, show a fact and its source"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cudalign",
        description="Will this GPU stack run on that host, and if not, why and what exactly to do.",
    )
    parser.add_argument("--version", action="version", version=f"cudalign {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        mod = importlib.import_module(f"cudalign.cli.{module}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run cudalign; return the exit code (0 ok, 1 findings at or above --fail-on, 2 usage/input error)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list in (["--version"], ["-V"]):  # fast path: no command modules imported
        print(f"cudalign {__version__}")
        return 0
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    from cudalign.errors import CudalignError

    try:
        return int(args._run(args))
    except CudalignError as exc:
        print(f"cudalign: error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cudalign: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
