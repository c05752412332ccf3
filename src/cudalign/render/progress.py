"""Progress for slow work: a bar or spinner on a terminal, nothing anywhere else.

:func:`progress` is a context manager that yields a :class:`Task` (``advance``, ``update``). It draws,
on standard error and through rich, only when a person is watching: not for machine-readable output
(``json=True``), not when standard output or standard error is not a terminal, not when ``CI`` is set
to a true value, not for ``TERM=dumb``. Otherwise the task is a no-op and rich is never imported, so
importing this module costs nothing. The display is transient (erased when the work ends) and appears
only after ``delay`` seconds, so quick work leaves no flicker.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["Task", "enabled", "progress"]

_FALSE = frozenset({"", "0", "false", "no", "off", "n", "f"})
"""Values of ``CI`` that mean "not CI" (CI services set ``CI=true``; some set ``CI=1``)."""


def _is_tty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):  # a closed or replaced stream
        return False


def enabled(
    *,
    json: bool = False,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> bool:
    """Whether progress may be drawn: not ``json``, both streams terminals, not in CI, not ``TERM=dumb``."""
    env = os.environ if environ is None else environ
    if json:
        return False
    if env.get("CI", "").strip().lower() not in _FALSE:
        return False
    if env.get("TERM", "") == "dumb":
        return False
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    return _is_tty(out) and _is_tty(err)


class Task:
    """One piece of work in progress; every method is a no-op when nothing is drawn."""

    __slots__ = ("_bar", "_id", "_lock", "_started", "_stopped")

    def __init__(self, bar: Any = None, task_id: Any = None) -> None:
        self._bar = bar
        self._id = task_id
        self._lock = threading.Lock()
        self._started = False
        self._stopped = False

    @property
    def active(self) -> bool:
        """Whether this task draws anything at all."""
        return self._bar is not None

    def advance(self, steps: float = 1) -> None:
        """Count ``steps`` more units of the work as done."""
        if self._bar is not None:
            self._bar.advance(self._id, steps)

    def update(self, *, description: str | None = None, total: float | None = None) -> None:
        """Change what the line says, or how much work there is (a spinner becomes a bar with a total)."""
        if self._bar is None:
            return
        fields: dict[str, Any] = {}
        if description is not None:
            fields["description"] = description
        if total is not None:
            fields["total"] = total
        self._bar.update(self._id, **fields)

    def _start(self) -> None:
        with self._lock:
            if self._bar is not None and not self._started and not self._stopped:
                self._bar.start()
                self._started = True

    def _stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._bar is not None and self._started:
                self._bar.stop()


def _bar(description: str, total: float | None) -> tuple[Any, Any]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    columns.append(TimeElapsedColumn())
    bar = Progress(*columns, console=Console(file=sys.stderr), transient=True)
    return bar, bar.add_task(description, total=total)


@contextmanager
def progress(
    description: str,
    total: float | None = None,
    *,
    json: bool = False,
    delay: float = 0.3,
    show: bool | None = None,
) -> Iterator[Task]:
    """A spinner (``total`` unknown) or a bar for the work inside the ``with`` block.

    ``show`` overrides :func:`enabled` (tests; a caller that knows better); ``json`` says the output is
    machine-readable. Nothing is drawn before ``delay`` seconds have passed.
    """
    draw = enabled(json=json) if show is None else show
    if not draw:
        yield Task()
        return
    bar, task_id = _bar(description, total)
    task = Task(bar, task_id)
    timer: threading.Timer | None = None
    if delay > 0:
        timer = threading.Timer(delay, task._start)
        timer.daemon = True
        timer.start()
    else:
        task._start()
    try:
        yield task
    finally:
        if timer is not None:
            timer.cancel()
        task._stop()
