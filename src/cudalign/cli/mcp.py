"""``cudalign mcp``: serve the read-only commands as MCP tools over standard input and output."""

from __future__ import annotations

import argparse
import threading

__all__ = ["add_arguments", "run", "run_captured"]

_LOCK = threading.Lock()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Serve doctor, check, plan, explain, scan and 'facts show' as MCP tools over stdio for coding "
        "assistants; each returns the command's --json output. Needs the 'mcp' extra."
    )


def run_captured(argv: list[str]) -> tuple[int, str, str]:
    """Run ``cudalign ARGV…`` in this process, one at a time; (exit code, stdout, stderr)."""
    import contextlib
    import io

    from cudalign.cli import main

    out, err = io.StringIO(), io.StringIO()
    with _LOCK, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def run(args: argparse.Namespace) -> int:
    from cudalign.errors import InvalidInput

    try:
        import mcp  # noqa: F401
    except ImportError:
        raise InvalidInput(
            "cudalign mcp needs the MCP SDK", hint="install it with: pip install 'cudalign[mcp]'"
        ) from None
    from cudalign.mcp_server import build_server

    build_server(run_captured).run()
    return 0
