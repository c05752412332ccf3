"""`cudalign check [REQ…] [-r FILE] [-c FILE] [--image IMG] [HOST]`: the verdict for a stack on a host."""

from __future__ import annotations

import argparse

from cudalign.cli.options import add_host_arguments, add_output_arguments, add_requirement_file_arguments

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "requirements", nargs="*", metavar="REQ", help="PEP 508 requirements, e.g. vllm==0.13.0"
    )
    add_requirement_file_arguments(parser)
    parser.add_argument("--image", metavar="IMG", help="container image the stack runs in")
    parser.add_argument(
        "--index-url", metavar="URL", help="the torch index, e.g. https://download.pytorch.org/whl/cu128"
    )
    parser.add_argument(
        "--feature", action="append", default=[], metavar="NAME", help="needed feature, e.g. bf16"
    )
    parser.add_argument(
        "--resolve",
        action="store_true",
        help="online: resolve with uv pip compile for the host (extra: resolve), judge the exact closure",
    )
    parser.add_argument(
        "--registry",
        "--online",
        dest="registry",
        action="store_true",
        help="online: read --image's config from its registry (Env: CUDA_VERSION, NVIDIA_REQUIRE_CUDA …)",
    )
    add_host_arguments(parser)
    add_output_arguments(parser, formats=("text", "json", "markdown", "sarif", "html"))


def run(args: argparse.Namespace) -> int:
    from cudalign.cli.options import check_features, emit, host_from_args, requirements_from_args
    from cudalign.facts import load
    from cudalign.model import Report, to_jsonable
    from cudalign.rules import check, host_conditions, verdict
    from cudalign.stack import from_installed, resolve

    requirements, constraints, index_url = requirements_from_args(args)
    facts = load()
    features = check_features(args.feature, facts)
    host = host_from_args(args, facts)
    if host is None:
        from cudalign.probe import probe

        host = probe()
    reader = None
    if args.registry and args.image:
        from cudalign.stack.registry import RegistryReader

        reader = RegistryReader(facts, platform=host.os.arch)
    if requirements or args.image:
        if args.resolve and requirements:
            from cudalign.stack.uvresolve import resolve_exact

            stack = resolve_exact(
                requirements,
                facts,
                host,
                image=args.image,
                index_url=index_url,
                constraints=constraints,
                image_reader=reader,
            )
        else:
            stack = resolve(
                requirements,
                facts,
                host,
                image=args.image,
                index_url=index_url,
                constraints=constraints,
                image_reader=reader,
            )
        if reader is not None:
            import sys

            for note in reader.notes:
                print(f"cudalign: note: {note}", file=sys.stderr)
    else:
        stack = from_installed(host, facts)
    findings = check(host, stack, facts, features=features)
    report = Report(
        schema="cudalign.check/1",
        verdict=verdict(findings, stack),
        host=host,
        stack=stack,
        findings=findings,
        data={"conditions": to_jsonable(host_conditions(findings, host))},
    )
    return emit(report, args)
