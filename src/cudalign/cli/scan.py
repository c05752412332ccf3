"""``cudalign scan [PATH]``: misaligned CUDA, torch and vLLM pins across a repository's services."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments", "reads", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cudalign.cli.options import add_host_arguments, add_output_arguments

    parser.add_argument("path", nargs="?", default=".", metavar="PATH", help="repository root (default: .)")
    add_output_arguments(parser, formats=("text", "json", "markdown", "sarif", "html"))
    add_host_arguments(parser)
    parser.add_argument(
        "--fleet-driver",
        metavar="VERSION",
        help="the lowest NVIDIA driver of the target fleet (overrides [tool.cudalign] fleet-driver)",
    )
    parser.add_argument(
        "--registry",
        "--online",
        dest="registry",
        action="store_true",
        help="online: read each image's config from its registry (Env: CUDA_VERSION, NVIDIA_REQUIRE_CUDA …)",
    )


def reads(args: argparse.Namespace, target: Path) -> str | None:
    """Why ``-o`` must not be ``target``: an existing file under PATH of a kind scan reads, else None."""
    import os

    from cudalign.scan.walk import classify

    real = os.path.realpath(target)
    if not os.path.isfile(real):
        return None
    rel = os.path.relpath(real, os.path.realpath(args.path))
    if rel == ".." or rel.startswith(".." + os.sep):
        return None
    kind = classify(Path(rel).as_posix())
    return f"is a {kind} file that scan reads" if kind else None


def _check_path(path: str) -> None:
    """PATH that cannot even be looked at (a name too long, a loop of links) is one line here; a missing
    one or a file is left to ``scan``, which says so in its words."""
    import errno
    import os

    from cudalign.errors import InvalidInput

    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError:
        raise InvalidInput(f"{path!r}: a path cannot hold a NUL character") from None


def run(args: argparse.Namespace) -> int:
    from cudalign.cli.options import emit, host_from_args
    from cudalign.facts import load
    from cudalign.render.progress import progress
    from cudalign.scan import scan

    _check_path(args.path)
    facts = load()
    host = host_from_args(args, facts)
    reader = None
    if args.registry:
        from cudalign.stack.registry import RegistryReader

        reader = RegistryReader(facts, strict=False, platform=host.os.arch if host else None)
    with progress(f"scanning {args.path}", json=args.format != "text"):
        result = scan(args.path, facts, host, fleet_driver=args.fleet_driver, image_reader=reader)
    if reader is not None:
        import sys

        for note in reader.notes:
            print(f"cudalign: note: {note}", file=sys.stderr)
    if args.fail_on == "error" and result.config.fail_on:
        args.fail_on = result.config.fail_on
    return emit(result.report(), args)
