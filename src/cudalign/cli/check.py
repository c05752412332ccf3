"""`cudalign check`: placeholder until its issue lands (the helper that owns it replaces this module)."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rest", nargs="*")


def run(args: argparse.Namespace) -> int:
    print("cudalign check: not built yet", file=sys.stderr)
    return 2
