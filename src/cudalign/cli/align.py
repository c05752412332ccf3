"""``cudalign align [PATH] [--target REQ…] [HOST] [--write] [--force]``: one matrix for a repository's GPU
services, shown as a unified diff of the user's files (written only with ``--write``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cudalign.align import AlignResult

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cudalign.cli.options import add_host_arguments

    parser.add_argument("path", nargs="?", default=".", metavar="PATH", help="repository root (default: .)")
    parser.add_argument(
        "--target",
        nargs="+",
        default=[],
        metavar="REQ",
        help="the stack to align to (default: what the services declare)",
    )
    parser.add_argument("--write", action="store_true", help="apply the edits (default: print the diff)")
    parser.add_argument(
        "--force", action="store_true", help="write even into a dirty git worktree or over read-only files"
    )
    parser.add_argument("--fleet-driver", metavar="VERSION", help="the lowest NVIDIA driver of the fleet")
    add_host_arguments(parser)


def _host(args: argparse.Namespace, facts: object) -> object:
    from cudalign.cli.options import host_from_args
    from cudalign.errors import InvalidInput

    host = host_from_args(args, facts)  # type: ignore[arg-type]
    if host is None and args.fleet_driver:
        from cudalign.hosts import describe_host

        host = describe_host(facts, gpus=(), driver=args.fleet_driver)  # type: ignore[arg-type]
    if host is None:
        raise InvalidInput(
            "align needs the host the services run on",
            hint="give --host FILE, or --gpu NAME --driver VERSION",
        )
    return host


def explain(result: AlignResult) -> str:
    m = result.matrix
    out = [f"cudalign align {result.root}", f"request: {' '.join(result.request)}"]
    if m is not None:
        out.append(
            f"matrix: torch {m.torch}, CUDA {m.cuda}, vLLM {m.vllm or '-'}, Python {m.python or 'any'}; "
            f"driver {m.driver} kept; verdict {m.verdict.value}"
        )
        out.append(f"joined: {', '.join(result.joined)}")
    for name, why in result.left_out.items():
        out.append(f"cannot join: {name}: {why}")
    for f in result.changed:
        for why in f.reasons:
            out.append(f"  {f.path}: {why}")
    for left in result.remaining:
        where = left.location.file if left.location else ""
        out.append(f"still: {left.code} {left.name} {where}: {left.message}")
    return "\n".join(out) + "\n"


def _refuse(result: AlignResult, force: bool) -> None:
    import os
    from pathlib import Path

    from cudalign.errors import InvalidInput
    from cudalign.probe.run import run

    root = Path(result.root)
    for f in result.changed:
        path = root / f.path
        try:
            now = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"{f.path}: cannot read: {exc.strerror or exc}") from None
        if now != f.original:
            raise InvalidInput(
                f"{f.path}: changed on disk since it was read; nothing written", hint="run align again"
            )
        if not force and (not os.access(path, os.W_OK) or not os.stat(path).st_mode & 0o222):  # root too
            raise InvalidInput(f"{f.path}: read-only; nothing written", hint="--force writes it anyway")
    if force:
        return
    git = run(
        ["git", "-C", str(root), "status", "--porcelain", "--", *(f.path for f in result.changed)], 10.0
    )
    if git.returncode == 0 and git.stdout.strip():
        dirty = git.stdout.strip().splitlines()[0][3:]
        raise InvalidInput(
            f"{dirty}: uncommitted changes in the git worktree; nothing written",
            hint="commit or stash them first, or pass --force",
        )


def _write(result: AlignResult) -> None:
    import os
    from pathlib import Path

    from cudalign.cli.output import write_output

    for f in result.changed:
        target = Path(result.root) / f.path
        if not os.stat(target).st_mode & 0o200:  # --force over a read-only file
            os.chmod(target, os.stat(target).st_mode | 0o200)
        write_output(target, f.text, shown=f.path)


def run(args: argparse.Namespace) -> int:
    import sys

    from cudalign.align import align
    from cudalign.cli.scan import _check_path
    from cudalign.facts import load

    _check_path(args.path)
    facts = load()
    host = _host(args, facts)
    result = align(args.path, facts, host, targets=args.target)  # type: ignore[arg-type]
    sys.stderr.write(explain(result))
    if args.write:
        _refuse(result, args.force)
        _write(result)
        for f in result.changed:
            print(f"wrote {f.path}", file=sys.stderr)
    else:
        sys.stdout.write("".join(f.diff() for f in result.changed))
    return 1 if result.left_out or result.remaining else 0
