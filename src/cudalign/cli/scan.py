"""``cudalign scan [PATH]``: misaligned CUDA, torch and vLLM pins across a repository's services."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cudalign.cli.options import add_host_arguments, add_output_arguments

    parser.add_argument("path", nargs="?", default=".", metavar="PATH", help="repository root (default: .)")
    add_output_arguments(parser, formats=("text", "json", "markdown", "sarif"))
    add_host_arguments(parser)
    parser.add_argument(
        "--fleet-driver",
        metavar="VERSION",
        help="the lowest NVIDIA driver of the target fleet (overrides [tool.cudalign] fleet-driver)",
    )


def run(args: argparse.Namespace) -> int:
    from cudalign.cli.options import emit, host_from_args
    from cudalign.facts import load
    from cudalign.scan import scan

    facts = load()
    host = host_from_args(args, facts)
    result = scan(args.path, facts, host, fleet_driver=args.fleet_driver)
    if args.fail_on == "error" and result.config.fail_on:
        args.fail_on = result.config.fail_on
    return emit(result.report(), args)
