"""`cudalign explain TEXT | --log FILE | -`: what an error message means on this host, and the fix.

Exit codes follow the rest of cudalign (and ruff, pip-audit): 1 when a recognised cause is at or above
``--fail-on`` (default ``error``: a recognised error exits 1, a warning or a harmless note does not),
0 when nothing at that level was recognised or ``--fail-on never``, 2 for usage or input errors.
"""

from __future__ import annotations

import argparse
import sys

from cudalign.cli.options import add_host_arguments, add_output_arguments, emit, host_from_args

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "text",
        nargs="*",
        metavar="TEXT",
        help="the error message (quote it); '-' reads standard input",
    )
    parser.add_argument("--log", metavar="FILE", help="scan a whole log file; each cause is reported once")
    add_output_arguments(parser, formats=("text", "json", "markdown"))
    add_host_arguments(parser)
    parser.add_argument(
        "--no-probe",
        action="store_true",
        help="do not read this machine; explain without host details (unless HOST flags are given)",
    )


def _read_input(args: argparse.Namespace) -> tuple[str, str]:
    """(text, origin) from TEXT, '-' or --log; usage errors are InvalidInput."""
    from pathlib import Path

    from cudalign.errors import InvalidInput

    if args.log and args.text:
        raise InvalidInput("give either TEXT or --log FILE, not both")
    if args.log:
        path = Path(args.log)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from None
        return data.decode("utf-8", errors="replace"), str(path)
    if args.text == ["-"]:
        return sys.stdin.read(), "<stdin>"
    if not args.text:
        raise InvalidInput(
            "nothing to explain: give the message as TEXT, '-' for standard input, or --log FILE",
            hint='cudalign explain "CUDA driver version is insufficient for CUDA runtime version"',
        )
    return " ".join(args.text), "<text>"


def run(args: argparse.Namespace) -> int:
    from cudalign.explain import explain
    from cudalign.facts import load

    text, origin = _read_input(args)
    facts = load()
    host = host_from_args(args, facts)
    if host is not None and args.host:
        from cudalign._dataclass import replace

        host = replace(host, origin="file")  # recorded elsewhere: not this machine
    note = None
    if host is None and not args.no_probe:
        from cudalign.errors import ProbeError
        from cudalign.probe import probe

        try:
            host = probe()
        except ProbeError as exc:
            note = f"this machine could not be read ({exc}); explained without host details"
    elif host is None:
        note = "explained without host details (--no-probe)"
    report = explain(text, facts, host, origin=origin, host_note=note)
    return emit(report, args)
