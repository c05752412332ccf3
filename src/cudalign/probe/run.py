"""The one door through which the probe starts processes: argv only, always with a timeout."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Result", "Runner", "run"]


@dataclass(frozen=True, slots=True)
class Result:
    """What one external command did."""

    argv: tuple[str, ...]
    returncode: int | None
    """Exit status; ``None`` when the command did not start or was killed at its timeout."""
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    error: str | None = None
    """Why it did not run (``not found``, ``permission denied``) or ``timed out after 2.0 s``."""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def why(self) -> str:
        """One phrase saying why the command gave no usable answer."""
        if self.error:
            return self.error
        tail = (self.stderr or self.stdout).strip().splitlines()
        return f"exit {self.returncode}" + (f": {tail[-1][:160]}" if tail else "")


Runner = Callable[[Sequence[str], float], Result]
"""The shape of :func:`run`; tests pass a fake that replays recorded outputs."""


def run(argv: Sequence[str], timeout: float) -> Result:
    """Run ``argv`` (never through a shell) and give up after ``timeout`` seconds.

    A command stuck in the kernel (a hung ``nvidia-smi`` waiting on the driver) may ignore SIGKILL for a
    while; we then abandon it rather than wait, so the caller always returns within about ``timeout``.
    """
    import subprocess  # lazily: most doctor runs never start a process

    args = tuple(str(a) for a in argv)
    start = time.monotonic()
    env = {**os.environ, "LC_ALL": "C"}
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=env,
            start_new_session=True,
        )
    except FileNotFoundError:
        return Result(args, None, error=f"{args[0]}: not found")
    except PermissionError:
        return Result(args, None, error=f"{args[0]}: permission denied")
    except OSError as exc:
        return Result(args, None, error=f"{args[0]}: {exc.strerror or exc}")
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        try:
            out, err = proc.communicate(timeout=0.2)
        except subprocess.TimeoutExpired:
            out, err = "", ""
        return Result(
            args,
            None,
            out or "",
            err or "",
            timed_out=True,
            error=f"{os.path.basename(args[0])} timed out after {timeout:g} s",
            seconds=time.monotonic() - start,
        )
    return Result(args, proc.returncode, out, err, seconds=time.monotonic() - start)
