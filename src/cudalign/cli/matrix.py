"""``cudalign matrix [HOST] [--package NAME] [--gpus A,B,C]``: releases x builds (or x GPUs) as verdicts."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cudalign.cli.options import add_host_arguments, add_output_arguments

    parser.add_argument(
        "--package",
        default="torch",
        metavar="NAME",
        help="the package whose releases form the rows: torch (default), vllm, onnxruntime-gpu, …",
    )
    parser.add_argument(
        "--gpus",
        metavar="A,B,C",
        help="put these GPUs on the columns (one build of each release) instead of the builds",
    )
    parser.add_argument(
        "--build",
        metavar="KEY",
        help="with --gpus: the build judged on each GPU, a column of the builds grid "
        "(cu128, +cu130, image …; default: the PyPI wheel)",
    )
    parser.add_argument("--max", type=int, default=None, metavar="N", help="only the newest N releases")
    parser.add_argument(
        "--feature", action="append", default=[], metavar="NAME", help="needed feature, e.g. bf16"
    )
    add_host_arguments(parser)
    add_output_arguments(parser, formats=("text", "json", "markdown", "html"))


def _colour(args: argparse.Namespace) -> bool:
    """Colour only for text on a terminal, and never with ``NO_COLOR`` set or ``TERM=dumb``."""
    import os
    import sys

    if args.format != "text" or (args.output and args.output != "-"):
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def run(args: argparse.Namespace) -> int:
    from cudalign.cli.options import check_features, emit, exit_code, host_from_args
    from cudalign.errors import InvalidInput
    from cudalign.facts import load
    from cudalign.matrix import grid_report, make_grid

    if args.max is not None and args.max < 1:
        raise InvalidInput(f"--max {args.max}: must be at least 1")
    if args.build and not args.gpus:
        raise InvalidInput("--build: only with --gpus (the builds grid shows every build)")
    facts = load()
    features = check_features(args.feature, facts)
    host = host_from_args(args, facts)
    if host is None:
        from cudalign.probe import probe

        host = probe()
    gpus = [g for g in (args.gpus or "").split(",") if g.strip()]
    if args.gpus is not None and not gpus:
        raise InvalidInput("--gpus: give at least one GPU, e.g. --gpus H100,L4,V100")
    grid = make_grid(
        facts, host, args.package, gpus=gpus, build=args.build, max_rows=args.max, features=features
    )
    report = grid_report(grid, host)
    if not _colour(args):
        return emit(report, args)
    import sys

    from cudalign.cli.output import write_text
    from cudalign.render.matrix import paint_ansi, sections
    from cudalign.render.terminal import clean, fit, output_width

    width = output_width(sys.stdout)
    head, body, rest = sections(report, paint=paint_ansi)
    write_text(f"{fit(clean(head), width)}\n\n{body}\n\n{fit(clean(rest), width)}", None)
    return exit_code(report, args.fail_on)
