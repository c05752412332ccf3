"""The command line: parse arguments, run one command, turn its report into output and an exit code.

Each command lives in ``cudalign.cli.<name>`` with ``add_arguments(parser)`` and ``run(args) -> int`` (and,
where it reads files its options do not name, ``reads(args, path)``: why ``-o path`` would overwrite one);
those modules import nothing heavy at module level so that ``cudalign --version`` starts fast. The
library raises :class:`~cudalign.errors.CudalignError`; only :func:`main` turns it into one line on
stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from cudalign import __version__

__all__ = ["COMMANDS", "build_parser", "command_of", "main"]

# name -> one-line help; the module cudalign.cli.<module> implements it.
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("doctor", "what is on this host, what is wrong with it, and whether a stack would run here"),
    "check": ("check", "verdict for a stack on a host: this one, a recorded one, or a described one"),
    "plan": ("plan", "ranked compatible matrices: driver, CUDA, torch build, vLLM, Python, base image"),
    "scan": ("scan", "misaligned CUDA, torch and vLLM pins across a repository"),
    "explain": ("explain", "what an error message means on this host, and the fix"),
    "runbook": ("runbook", "a driver upgrade runbook with preflight, verification and rollback"),
    "facts": ("facts", "the knowledge base: update from PyPI, status, show a fact and its source"),
    "matrix": ("matrix", "releases x CUDA builds (or x GPUs) of a package on a host, as a grid of verdicts"),
    "mcp": ("mcp", "the read-only commands as tools for coding assistants (MCP over stdio)"),
    "gpus": ("gpus", "which GPU types run a stack, on which providers' stock drivers, ranked by price"),
    "fleet": ("fleet", "the same questions across a cluster: Kubernetes labels, Ray, Slurm, collected hosts"),
    "verify": (
        "verify",
        "does the installed stack really run on this GPU: kernels, cuDNN, NCCL, vLLM, an endpoint",
    ),
    "render": ("render_plan", "files for a saved plan: requirements, uv, Dockerfile, compose, k8s"),
    "align": ("align", "one matrix for every GPU service of a repository, as edits to its own files"),
    "snapshot": ("snapshot", "record this host and its installed distributions, for a later diff"),
    "diff": ("diff", "before/after table of two snapshots, hosts or plans, with rollback steps"),
}


def _columns() -> int:
    """The terminal's width as :func:`shutil.get_terminal_size` reads it (``$COLUMNS``, the terminal of
    stdout, else 80)."""
    import os

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return columns


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, measuring the terminal without importing :mod:`shutil` (and with it
    ``bz2`` and ``lzma``): argparse makes a formatter for every argument added, help or not."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
        **kwargs: Any,
    ) -> None:
        width = _columns() - 2 if width is None else width
        super().__init__(prog, indent_increment, max_help_position, width, **kwargs)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line and a hint, like every other input error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"cudalign: error: {message}\nhint: see '{self.prog} --help'\n")


def build_parser(commands: Iterable[str] | None = None, *, others: bool = True) -> argparse.ArgumentParser:
    """The parser; full sub-parsers for ``commands`` (default: all), help-only ones for the others.

    ``main`` passes only the command it was asked for, so that a run imports that command's module
    alone; the top-level ``--help`` still lists every command from :data:`COMMANDS`. With
    ``others=False`` the other commands get no sub-parser at all (each costs about a millisecond to
    build): ``main`` asks for that when the command is the first word, where nothing can show them.
    """
    wanted = set(COMMANDS if commands is None else commands)
    parser = _Parser(
        prog="cudalign",
        description="Will this GPU stack run on that host, and if not, why and what exactly to do.",
    )
    parser.add_argument("--version", action="version", version=f"cudalign {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        if not others and name not in wanted:
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name in wanted:
            mod = importlib.import_module(f"cudalign.cli.{module}")
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run, _reads=getattr(mod, "reads", None))
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option, if that is a command."""
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run cudalign; return the exit code (0 ok, 1 findings at or above --fail-on, 2 usage/input error)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list in (["--version"], ["-V"]):  # fast path: no command modules imported
        print(f"cudalign {__version__}")
        return 0
    chosen = command_of(args_list)
    # the command first: nothing before it (--help) can list the others, so they are not built
    parser = build_parser([chosen] if chosen else [], others=not args_list or args_list[0] != chosen)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return _exit_status(exc.code)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    from cudalign.errors import CudalignError

    try:
        from cudalign.cli.output import check_output

        check_output(args)
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
        _quiet_stdout()
        return 0


def _exit_status(code: object) -> int:
    """What ``SystemExit(code)`` means as an exit status: argparse's 0 or 2, a message is 2."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 2


def _quiet_stdout() -> None:
    """After a closed pipe (``cudalign … | head``), point stdout at /dev/null so exit does not complain."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
