"""The one door through which the probe starts processes: argv only, always with a timeout and a bound
on what it reads, and nothing it starts outlives the call."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

from cudalign._dataclass import dataclass

__all__ = ["MAX_STDERR", "MAX_STDOUT", "Result", "Runner", "run"]

MAX_STDOUT = 4 * 1024 * 1024
"""Bytes of standard output read at most: ``nvidia-smi --query-gpu`` prints about 200 per GPU."""
MAX_STDERR = 256 * 1024
_SLICE = 0.1  # seconds between checks whether the program itself has exited
_REAP = 0.5  # seconds to wait for a killed process to go; one stuck in the kernel is abandoned


@dataclass(frozen=True, slots=True)
class Result:
    """What one external command did."""

    argv: tuple[str, ...]
    returncode: int | None
    """Exit status; ``None`` when the command did not start or was killed (timeout, too much output)."""
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    error: str | None = None
    """Why it did not run (``not found``, ``permission denied``), ``timed out after 2.0 s`` or
    ``printed more than 4 MiB on stdout; …``."""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and self.error is None

    @property
    def why(self) -> str:
        """One phrase saying why the command gave no usable answer."""
        if self.error:
            return self.error
        tail = (self.stderr or self.stdout).strip().splitlines()
        return f"exit {self.returncode}" + (f": {tail[-1][:160]}" if tail else "")


Runner = Callable[[Sequence[str], float], Result]
"""The shape of :func:`run`; tests pass a fake that replays recorded outputs."""


def _size(n: int) -> str:
    return f"{n // 1048576} MiB" if n % 1048576 == 0 else f"{n // 1024} KiB"


def _exited(proc: Any) -> bool:
    """Whether the program has exited, without reaping it: while it is a zombie its process group id
    cannot be given to another process, so killing the group afterwards hits only what it left."""
    waitid = getattr(os, "waitid", None)
    flags = getattr(os, "WEXITED", 0) | getattr(os, "WNOHANG", 0) | getattr(os, "WNOWAIT", 0)
    if waitid is None or not hasattr(os, "WNOWAIT"):
        return proc.poll() is not None
    try:
        return waitid(os.P_PID, proc.pid, flags) is not None
    except ChildProcessError:
        return True


def _kill_group(pid: int) -> None:
    """SIGKILL the session the program leads: the program and every child it started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _drain(proc: Any, deadline: float) -> tuple[bytes, bytes, str | None]:
    """Read stdout and stderr until both close, the deadline passes, a stream passes its bound, or the
    program has exited while a child it left behind still holds the pipes. Returns what was read and
    why reading stopped early (``"timeout"``, ``"stdout"``, ``"stderr"``), or None."""
    import selectors

    streams = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
    limits = {"stdout": MAX_STDOUT, "stderr": MAX_STDERR}
    bufs = {"stdout": bytearray(), "stderr": bytearray()}
    stopped: str | None = None
    with selectors.DefaultSelector() as sel:
        for fd in streams:
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map() and stopped is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stopped = "timeout"
                break
            ready = sel.select(min(remaining, _SLICE))
            if not ready and _exited(proc):
                break  # what is still open belongs to a child the program left behind
            for key, _ in ready:
                name = streams[key.fd]
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                room = limits[name] - len(bufs[name])
                bufs[name] += chunk[:room]
                if len(chunk) > room:
                    stopped = name
                    break
    return bytes(bufs["stdout"]), bytes(bufs["stderr"]), stopped


def run(argv: Sequence[str], timeout: float) -> Result:
    """Run ``argv`` (never through a shell) and give up after ``timeout`` seconds.

    Reads at most :data:`MAX_STDOUT` and :data:`MAX_STDERR` bytes: a program that prints more (an
    ``nvidia-smi`` that loops) is stopped there. The program runs in a session of its own, and when the
    call returns that whole session is killed, so no child it started is left running. A command stuck
    in the kernel (a hung ``nvidia-smi`` waiting on the driver) may ignore SIGKILL for a while; we then
    abandon it rather than wait, so the caller always returns within about ``timeout``.
    """
    import subprocess  # lazily: most doctor runs never start a process

    args = tuple(str(a) for a in argv)
    if not (math.isfinite(timeout) and timeout > 0):
        return Result(args, None, error=f"{os.path.basename(args[0])}: not run, timeout {timeout!r}")
    start = time.monotonic()
    env = {**os.environ, "LC_ALL": "C"}
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except FileNotFoundError:
        return Result(args, None, error=f"{args[0]}: not found")
    except PermissionError:
        return Result(args, None, error=f"{args[0]}: permission denied")
    except OSError as exc:
        return Result(args, None, error=f"{args[0]}: {exc.strerror or exc}")
    assert proc.stdout is not None and proc.stderr is not None
    deadline = start + timeout
    try:
        raw_out, raw_err, stopped = _drain(proc, deadline)
        while stopped is None and not _exited(proc):  # it closed its output but goes on running
            if time.monotonic() >= deadline:
                stopped = "timeout"
                break
            time.sleep(0.01)
    finally:
        _kill_group(proc.pid)
        proc.stdout.close()
        proc.stderr.close()
        with contextlib.suppress(subprocess.TimeoutExpired):  # stuck in the kernel: abandoned
            proc.wait(_REAP)
    out, err = raw_out.decode("utf-8", "replace"), raw_err.decode("utf-8", "replace")
    seconds = time.monotonic() - start
    name = os.path.basename(args[0])
    if stopped == "timeout":
        error = f"{name} timed out after {timeout:g} s"
        return Result(args, None, out, err, timed_out=True, error=error, seconds=seconds)
    if stopped is not None:
        limit = MAX_STDOUT if stopped == "stdout" else MAX_STDERR
        error = f"{name} printed more than {_size(limit)} on {stopped}; stopped reading and killed it"
        return Result(args, None, out, err, error=error, seconds=seconds)
    return Result(args, proc.returncode, out, err, seconds=seconds)
