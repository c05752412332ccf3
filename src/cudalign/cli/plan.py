"""`cudalign plan REQ…|-r FILE [HOST] [--no-driver-change] [--max N] [--resolve]`: ranked matrices."""

from __future__ import annotations

import argparse

from cudalign.cli.options import add_host_arguments, add_output_arguments, add_requirement_file_arguments

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "requirements", nargs="*", metavar="REQ", help="PEP 508 requirements, e.g. 'vllm>=0.12'"
    )
    add_requirement_file_arguments(parser, constraints=False)
    parser.add_argument(
        "--no-driver-change", action="store_true", help="only matrices that keep the host's driver"
    )
    parser.add_argument(
        "--max", type=int, default=3, metavar="N", help="how many matrices to show (default 3)"
    )
    parser.add_argument(
        "--index-url", metavar="URL", help="the torch index, e.g. https://download.pytorch.org/whl/cu128"
    )
    parser.add_argument(
        "--feature", action="append", default=[], metavar="NAME", help="needed feature, e.g. bf16"
    )
    parser.add_argument(
        "--resolve",
        action="store_true",
        help="online: resolve each proposed matrix with uv pip compile for the host (extra: resolve); "
        "a matrix the installer cannot resolve is rejected with its reason",
    )
    from cudalign.cli.emit_output import add_emit_arguments

    add_emit_arguments(parser, required=False)
    add_host_arguments(parser)
    add_output_arguments(parser, formats=("text", "json", "markdown", "html"))


def run(args: argparse.Namespace) -> int:
    from cudalign.cli.options import check_features, emit, host_from_args, requirements_from_args
    from cudalign.errors import InvalidInput
    from cudalign.facts import load
    from cudalign.plan import make_plan, plan_report

    if args.max < 1:
        raise InvalidInput(f"--max {args.max}: must be at least 1")
    requirements, _, index_url = requirements_from_args(args)
    if not requirements:
        raise InvalidInput("give the stack: REQ… (e.g. 'vllm>=0.12') or -r FILE")
    facts = load()
    check_features(args.feature, facts)
    host = host_from_args(args, facts)
    if host is None:
        from cudalign.probe import probe

        host = probe()
    plan = make_plan(
        requirements,
        facts,
        host,
        no_driver_change=args.no_driver_change,
        max_matrices=args.max,
        index_url=index_url,
        features=args.feature,
    )
    if args.resolve:
        from cudalign.plan_resolve import resolve_plan

        plan = resolve_plan(plan, facts, host, features=args.feature)
    if args.emit:  # -o is then a directory
        from cudalign.cli.emit_output import emit_files
        from cudalign.emit import source_from_plan

        if not plan.matrices:
            raise InvalidInput("--emit: no matrix runs on this host, so there is nothing to write")
        args.emit_dir = args.output
        return emit_files(args, source_from_plan(plan, host, facts), facts)
    return emit(plan_report(plan, host), args)
