"""Progress is drawn for a person at a terminal and nowhere else: not for JSON, pipes, CI or TERM=dumb."""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
import time

import pytest

from cudalign.render.progress import Task, enabled, progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        super().isatty()  # a closed stream raises ValueError, like a real one
        return True


def _on(env: dict[str, str] | None = None, **kw: object) -> bool:
    streams = {"stdout": _Tty(), "stderr": _Tty()}
    streams.update(kw)  # type: ignore[arg-type]
    return enabled(environ=env or {}, **streams)  # type: ignore[arg-type]


def test_enabled_on_two_terminals_only() -> None:
    assert _on()
    assert not _on(stdout=io.StringIO())
    assert not _on(stderr=io.StringIO())
    assert not _on(json=True)


@pytest.mark.parametrize("value", ["true", "1", "True", "yes", "anything"])
def test_ci_set_true_turns_it_off(value: str) -> None:
    assert not _on({"CI": value})


@pytest.mark.parametrize("value", ["", "0", "false", "FALSE", "no", "off"])
def test_ci_set_false_leaves_it_on(value: str) -> None:
    assert _on({"CI": value})


def test_dumb_terminal_turns_it_off() -> None:
    assert not _on({"TERM": "dumb"})
    assert _on({"TERM": "xterm-256color"})


def test_a_closed_stream_is_no_terminal() -> None:
    closed = _Tty()
    closed.close()
    assert not _on(stdout=closed)


def test_the_no_op_task_accepts_every_call() -> None:
    with progress("working", total=3, show=False) as task:
        assert isinstance(task, Task)
        assert not task.active
        task.advance()
        task.update(description="still working", total=4)


def test_a_shown_task_counts_and_stops_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    with progress("counting", total=5, show=True, delay=0) as task:
        assert task.active
        for _ in range(5):
            task.advance()
        task.update(description="counted")
        assert task._bar.tasks[0].completed == 5
        assert task._bar.tasks[0].description == "counted"
    assert not task._bar.live.is_started


def test_the_display_waits_for_its_delay() -> None:
    with progress("quick", show=True, delay=5) as task:
        pass
    assert not task._started  # work done before the delay never started the display


_CHILD = """
import sys, time
from cudalign.render.progress import progress
with progress("crunching numbers", total=3, delay=0, json={json}) as task:
    for _ in range(3):
        time.sleep(0.15)
        task.advance()
print("rich imported:", "rich" in sys.modules)
"""


def _on_a_pty(code: str, env: dict[str, str]) -> str:
    """Run ``code`` with stdout and stderr on a real pseudo-terminal; return all it wrote there."""
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    full_env = {**os.environ, "COLUMNS": "100", "TERM": "xterm", **env}
    if "CI" not in env:
        full_env.pop("CI", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=follower, stderr=follower, stdin=subprocess.DEVNULL, env=full_env
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_sees_the_bar() -> None:
    shown = _on_a_pty(_CHILD.format(json=False), {})
    assert "crunching numbers" in shown
    assert "rich imported: True" in shown


@pytest.mark.parametrize(("env", "json"), [({"CI": "true"}, False), ({}, True), ({"TERM": "dumb"}, False)])
def test_ci_json_and_dumb_terminals_see_nothing_and_import_nothing(env: dict[str, str], json: bool) -> None:
    shown = _on_a_pty(_CHILD.format(json=json), env)
    assert "crunching numbers" not in shown
    assert "rich imported: False" in shown


def test_a_pipe_sees_nothing() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(json=False)], capture_output=True, text=True, env=env, check=True
    )
    assert "crunching" not in done.stdout + done.stderr
    assert "rich imported: False" in done.stdout
