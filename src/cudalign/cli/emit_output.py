"""Writing what ``--emit`` makes, shared by ``plan --emit`` and ``render``: without ``-o`` the main file goes
to standard output; with ``-o DIR`` every file of the kind is written there (each replaced in one step), and a
file there that cudalign did not make is never overwritten. ``uv lock`` runs where uv is installed.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cudalign.emit import EmitSource, EmittedFile
    from cudalign.facts import Facts

__all__ = ["EMIT_KINDS", "add_emit_arguments", "emit_files"]

EMIT_KINDS = ("requirements", "uv", "dockerfile", "compose", "k8s")
"""The kinds ``--emit`` offers (``cudalign.emit.KINDS`` holds their emitters; a test keeps both in step)."""


def add_emit_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--emit",
        choices=EMIT_KINDS,
        required=required,
        metavar="KIND",
        help=f"write matrix A (or --matrix) as files of this kind: {', '.join(EMIT_KINDS)}",
    )
    parser.add_argument(
        "--hashes",
        action="store_true",
        help="pin the whole closure with hashes (uv pip compile --generate-hashes; needs uv and the index)",
    )


_STAMP = "made by cudalign from plan"


def _check_dir(out: str) -> None:
    import os

    from cudalign.errors import InvalidInput

    if "\x00" in out:
        raise InvalidInput(f"-o {out!r}: a directory name cannot hold a NUL character")
    if os.path.exists(out) and not os.path.isdir(out):
        raise InvalidInput(f"-o {out}: not a directory")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(out) and not os.path.isdir(parent):
        raise InvalidInput(f"-o {out}: directory {parent} does not exist")


def _write(files: tuple[EmittedFile, ...], out: str) -> None:
    import os
    from pathlib import Path

    from cudalign.cli.output import write_output
    from cudalign.errors import InvalidInput

    _check_dir(out)
    for f in files:
        target = Path(out) / f.path
        if target.is_file():
            try:
                head = target.read_text(encoding="utf-8", errors="replace")[:2000]
            except OSError as exc:
                raise InvalidInput(f"-o {out}: {f.path}: cannot read: {exc.strerror or exc}") from None
            if _STAMP not in head:
                raise InvalidInput(
                    f"-o {out}: {f.path} exists and was not made by cudalign; refusing to overwrite it",
                    hint="choose an empty directory, or move the file away",
                )
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"-o {out}: cannot create: {exc.strerror or exc}") from None
    for f in files:
        write_output(Path(out) / f.path, f.text, shown=os.path.join(out, f.path))


def _with_hashes(files: tuple[EmittedFile, ...], source: EmitSource, facts: Facts) -> tuple[EmittedFile, ...]:
    from dataclasses import replace

    from cudalign.emit.context import context
    from cudalign.emit.uvtool import compile_hashes
    from cudalign.probe.run import run

    ctx = context(source, facts)
    arch = source.host.os.arch or "x86_64"
    out = []
    for f in files:
        if f.path != "requirements.txt":
            out.append(f)
            continue
        body = compile_hashes(f.text, ctx.python, f"{arch}-manylinux_2_28", run)
        head = [ln for ln in f.text.splitlines() if ln.startswith("# ") and "cudalign: ignore" not in ln]
        lines = [*head[:2], "# the whole closure, pinned with hashes by uv pip compile --generate-hashes"]
        for ln in body.splitlines():
            if ctx.suppress_ca603 and ln.startswith("torch=="):
                lines.append(f"# cudalign: ignore=CA603; {ctx.suppress_ca603}")
            lines.append(ln)
        out.append(replace(f, text="\n".join(lines) + "\n"))
    return tuple(out)


def emit_files(args: argparse.Namespace, source: EmitSource, facts: Facts) -> int:
    """Emit ``args.emit`` for the matrix and write it (stdout, or ``-o DIR``); ``uv lock`` where uv is."""
    import sys

    from cudalign.cli.output import write_text
    from cudalign.emit import EmittedFile, emit

    files = emit(source, args.emit, facts)
    if getattr(args, "hashes", False):
        files = _with_hashes(files, source, facts)
    out = getattr(args, "emit_dir", None)
    if not out or out == "-":
        write_text(files[0].text, None)
        return 0
    if args.emit == "uv":
        from cudalign.emit.uvtool import UvFailed, lock, uv_path
        from cudalign.probe.run import run

        if uv_path() is None:
            print("cudalign: note: uv is not installed, so no uv.lock was made", file=sys.stderr)
        else:
            try:
                files = (*files, EmittedFile("uv.lock", lock(files[0].text, run)))
            except UvFailed as exc:
                print(f"cudalign: note: {exc}; pyproject.toml written without uv.lock", file=sys.stderr)
    _write(files, out)
    for f in files:
        print(f"wrote {out.rstrip('/')}/{f.path}", file=sys.stderr)
    return 0
