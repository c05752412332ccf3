"""`cudalign gpus [REQ…] [--image IMG] [--min-memory GB] [--count N] [--prices FILE] [--provider P]`."""

from __future__ import annotations

import argparse
from typing import Any

from cudalign.cli.options import add_output_arguments

__all__ = ["add_arguments", "reads", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cudalign.cli.options import add_requirement_file_arguments

    parser.add_argument(
        "requirements", nargs="*", metavar="REQ", help="requirements, e.g. 'vllm>=0.12' (or give --image)"
    )
    add_requirement_file_arguments(parser, constraints=False)
    parser.add_argument("--image", metavar="IMG", help="container image the stack runs in")
    parser.add_argument("--min-memory", type=float, metavar="GB", help="memory per GPU, at least")
    parser.add_argument("--count", type=int, default=1, metavar="N", help="GPUs per machine (default 1)")
    parser.add_argument(
        "--prices", metavar="FILE", help="your own prices: YAML or CSV (provider, gpu, count, price, driver)"
    )
    parser.add_argument(
        "--provider",
        action="append",
        default=[],
        metavar="P",
        help="only this provider (repeatable): aws, azure, lambda, runpod …",
    )
    add_output_arguments(parser, formats=("text", "json", "markdown"))


def reads(args: argparse.Namespace, path: Any) -> str | None:
    from pathlib import Path

    from cudalign.cli.output import _same_file

    if args.prices and _same_file(Path(args.prices), Path(path)):
        return "is the --prices input file"
    return None


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cudalign.cli.options import emit, requirements_from_args
    from cudalign.errors import InvalidInput
    from cudalign.facts import load
    from cudalign.fleet.clouds import SCHEMA, gpus_answer, offers_from_facts, read_prices
    from cudalign.model import Report, Severity

    requirements, _, _ = requirements_from_args(args)
    if not requirements and not args.image:
        raise InvalidInput("give the stack: REQ… (e.g. 'vllm==0.13.0'), --image IMG, or both")
    if args.count < 1:
        raise InvalidInput(f"--count {args.count}: must be at least 1")
    if args.min_memory is not None and not 0 < args.min_memory < 1e6:
        raise InvalidInput(f"--min-memory {args.min_memory:g}: must be a positive number of GB")
    facts = load()
    offers = read_prices(facts, Path(args.prices)) if args.prices else offers_from_facts(facts)
    outcomes = gpus_answer(
        requirements,
        facts,
        offers,
        image=args.image,
        min_memory=args.min_memory,
        count=args.count,
        providers=args.provider,
    )
    if args.provider and not outcomes:
        known = sorted({o.provider for o in offers})
        raise InvalidInput(
            f"--provider {', '.join(args.provider)}: no offer matches", hint=f"providers: {', '.join(known)}"
        )
    runs = any(o.result in ("runs", "forward-compat", "needs-host-filter") for o in outcomes)
    report = Report(
        schema=SCHEMA,
        data={
            "requirements": requirements,
            "image": args.image,
            "outcomes": outcomes,
            "prices": args.prices or "shipped",
        },
        exit_on=() if runs else (Severity.ERROR,),
    )
    return emit(report, args)
