"""``cudalign render PLAN.json --emit KIND [-o DIR] [--matrix L] [--hashes]``: files for a saved plan."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cudalign.cli.emit_output import add_emit_arguments

    parser.add_argument("plan", metavar="PLAN.json", help="a plan written by 'cudalign plan --json'")
    add_emit_arguments(parser, required=True)
    parser.add_argument("--matrix", metavar="LABEL", help="which matrix of the plan (default: the first)")
    parser.add_argument("-o", "--output", dest="emit_dir", metavar="DIR", help="write the files into DIR")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cudalign.cli.emit_output import emit_files
    from cudalign.cli.options import read_json
    from cudalign.emit import source_from_json
    from cudalign.errors import InvalidInput
    from cudalign.facts import load

    facts = load()
    doc = read_json(Path(args.plan))
    try:
        source = source_from_json(doc, facts, label=args.matrix)
    except InvalidInput as exc:
        raise InvalidInput(f"{args.plan}: {exc}", hint=exc.hint) from None
    return emit_files(args, source, facts)
