"""uv, run as a program: ``uv lock`` beside an emitted ``pyproject.toml``, and ``uv pip compile
--generate-hashes`` for ``--hashes`` (pip checks hashes for every package once one line has them, so
the whole closure must be pinned: uv resolves it and reads each file's hash from its index).

The process door is passed in (the CLI gives :func:`cudalign.probe.run.run`); nothing here runs a shell.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from cudalign.errors import CudalignError

__all__ = ["UvFailed", "compile_hashes", "lock", "uv_path"]


class _Result(Protocol):
    returncode: int | None
    stdout: str
    stderr: str
    error: str | None


Runner = Callable[[Sequence[str], float], Any]
"""``run(argv, timeout) -> result`` with ``returncode``, ``stdout``, ``stderr`` and ``error``."""

TIMEOUT = 300.0
"""Seconds uv may take: a cold resolution of torch and vLLM reads a few hundred index pages."""


class UvFailed(CudalignError):
    """uv is missing or could not do what was asked; the message is one line."""


def uv_path() -> str | None:
    """The ``uv`` on PATH (the ``resolve`` extra installs it), or None."""
    return shutil.which("uv")


def _last_line(result: _Result) -> str:
    if result.error:
        return str(result.error)
    lines = [ln.strip() for ln in (result.stderr or "").splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit code {result.returncode}"


def _uv(run: Runner) -> str:
    uv = uv_path()
    if uv is None:
        raise UvFailed("uv is not installed", hint="pip install 'cudalign[resolve]' (or install uv)")
    return uv


def lock(pyproject: str, run: Runner, timeout: float = TIMEOUT) -> str:
    """The ``uv.lock`` uv writes for this ``pyproject.toml`` (read in a temporary directory)."""
    uv = _uv(run)
    with tempfile.TemporaryDirectory(prefix="cudalign-uv-") as tmp:
        (Path(tmp) / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        result = run([uv, "lock", "--directory", tmp, "--no-progress", "--color", "never"], timeout)
        lockfile = Path(tmp) / "uv.lock"
        if result.returncode != 0 or not lockfile.is_file():
            raise UvFailed(f"uv lock failed: {_last_line(result)}")
        return lockfile.read_text(encoding="utf-8")


def compile_hashes(
    requirements: str, python: str, platform: str, run: Runner, timeout: float = TIMEOUT
) -> str:
    """The full closure of ``requirements`` pinned with hashes, as ``uv pip compile`` writes it for that
    Python and platform; index options are kept and every index is searched as pip does."""
    uv = _uv(run)
    with tempfile.TemporaryDirectory(prefix="cudalign-uv-") as tmp:
        src = Path(tmp) / "requirements.in"
        src.write_text(requirements, encoding="utf-8")
        argv = [
            uv,
            "pip",
            "compile",
            str(src),
            "--generate-hashes",
            "--emit-index-url",
            "--index-strategy",
            "unsafe-best-match",
            "--no-header",
            "--no-annotate",
            "--python-version",
            python,
            "--python-platform",
            platform,
            "--no-progress",
            "--color",
            "never",
        ]
        result = run(argv, timeout)
        if result.returncode != 0:
            raise UvFailed(f"uv pip compile failed: {_last_line(result)}")
        return str(result.stdout)
