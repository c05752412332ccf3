"""``cudalign diff A B [--matrix L]``: before/after table of two snapshots, hosts or plans, and rollback."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cudalign.cli.options import add_output_arguments

    parser.add_argument("before", metavar="A", help="a snapshot, host (doctor --json) or plan (plan --json)")
    parser.add_argument("after", metavar="B", help="the same kinds")
    parser.add_argument("--matrix", metavar="LABEL", help="which matrix of a plan (default: the first)")
    add_output_arguments(parser, formats=("text", "json", "markdown", "html"))


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cudalign.cli.options import emit, read_json
    from cudalign.diff import SCHEMA, diff, side_from_json
    from cudalign.model import Report

    a = side_from_json(read_json(Path(args.before)), args.before, matrix=args.matrix)
    b = side_from_json(read_json(Path(args.after)), args.after, matrix=args.matrix)
    return emit(Report(schema=SCHEMA, data={"diff": diff(a, b)}), args)
