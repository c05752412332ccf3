"""`cudalign doctor`: what is on this host, what is wrong with it now, and whether a stack would run here.

The decisions are :func:`cudalign.doctor.diagnose`'s; this module reads the flags, probes this machine
while the knowledge base loads, and renders.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cudalign.cli.options import add_output_arguments, add_requirement_file_arguments

    parser.add_argument(
        "requirements",
        nargs="*",
        metavar="REQ",
        help="a stack to judge on this host (PEP 508, e.g. 'torch==2.9.0+cu128' 'vllm==0.11.0')",
    )
    add_requirement_file_arguments(parser, constraints=False)
    parser.add_argument(
        "--image", metavar="IMG", help="a container image the stack runs in (nvidia/cuda:12.8.1-…)"
    )
    parser.add_argument("--index-url", metavar="URL", help="the package index the requirements come from")
    parser.add_argument("--show-uuids", action="store_true", help="print GPU UUIDs (masked by default)")
    parser.add_argument("--show-hostname", action="store_true", help="print the hostname (masked by default)")
    parser.add_argument(
        "--python",
        dest="target_python",
        metavar="PATH",
        help="look at the packages of this interpreter instead of the running one",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        metavar="S",
        help="seconds each driver call may take (default 3)",
    )
    add_output_arguments(parser, ("text", "json", "markdown", "html"))


def interpreter(text: str) -> str:
    """``--python``: a path to an interpreter or a command on PATH; anything else is a usage error."""
    import shutil

    from cudalign.errors import InvalidInput

    try:
        found = shutil.which(text) if text.strip() else None
    except (OSError, ValueError):
        found = None
    if found is None:
        raise InvalidInput(f"no such interpreter: {text!r} (give the path of a Python, or a command on PATH)")
    return text


def run(args: argparse.Namespace) -> int:
    import threading

    from cudalign.cli.options import emit, flag_value, requirements_from_args

    if args.target_python is not None:
        flag_value("--python", args.target_python, interpreter)
    requirements, _, index_url = requirements_from_args(args)
    from cudalign.doctor import diagnose
    from cudalign.facts import load
    from cudalign.probe import probe

    # Probe in a thread while the knowledge base loads: NVML and libcuda spend their time in C with the
    # GIL released, loading the facts is Python work; the two overlap instead of adding up.
    box: dict[str, Any] = {}

    def snapshot() -> None:
        try:
            box["host"] = probe(
                show_uuids=args.show_uuids,
                show_hostname=args.show_hostname,
                timeout=args.timeout,
                python=args.target_python,
            )
        except BaseException as exc:  # re-raised below, in the main thread
            box["error"] = exc

    thread = threading.Thread(target=snapshot, name="cudalign-probe", daemon=True)
    thread.start()
    facts = load()
    thread.join()
    if "error" in box:
        raise box["error"]
    report = diagnose(box["host"], facts, requirements, image=args.image, index_url=index_url)
    return emit(report, args)
