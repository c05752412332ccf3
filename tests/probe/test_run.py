"""The process door: argv only, output captured, and nothing outlives its timeout."""

from __future__ import annotations

import math
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cudalign.probe.run import MAX_STDERR, MAX_STDOUT, run


def test_captures_output_and_status() -> None:
    r = run([sys.executable, "-c", "import sys; print('hi'); sys.exit(3)"], 10)
    assert (r.returncode, r.stdout.strip(), r.ok) == (3, "hi", False)
    assert r.why == "exit 3: hi"


def test_missing_program() -> None:
    r = run(["/nonexistent/nvidia-smi"], 1)
    assert r.returncode is None and r.error == "/nonexistent/nvidia-smi: not found"


def test_timeout_kills_and_returns_promptly() -> None:
    start = time.monotonic()
    r = run([sys.executable, "-c", "import time; time.sleep(30)"], 0.3)
    assert time.monotonic() - start < 2.0
    assert r.timed_out and r.returncode is None and not r.ok
    assert r.error is not None and "timed out after 0.3 s" in r.error


def test_no_shell_interpretation() -> None:
    r = run([sys.executable, "-c", "import sys; print(sys.argv[1])", "$(echo hacked); ls"], 10)
    assert r.stdout.strip() == "$(echo hacked); ls"


# Programs that misbehave. Each test runs the real door; the ``timeout`` given to ``run`` bounds the
# test, and a broken bound shows as ``timed_out`` (or a leftover process), never as a slow pass.


def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n{textwrap.dedent(body)}", encoding="utf-8")
    path.chmod(0o755)
    return path


def _gone(pid: int, wait: float = 10.0) -> bool:
    """True once ``pid`` has exited (a zombie no parent reaped counts as gone), polling up to ``wait``."""
    stop = time.monotonic() + wait
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > stop:
            return False
        time.sleep(0.05)


# spawns a grandchild that sleeps in the same session, and writes both process ids
_FAMILY = """
    import os, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], {inherit})
    with open({pids!r}, "w") as fh:
        fh.write(f"{{os.getpid()}} {{child.pid}}")
"""


def _pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text(encoding="ascii").split()]


def test_endless_output_stops_at_the_bound(tmp_path: Path) -> None:
    prog = _script(tmp_path, "nvidia-smi", "import sys\nwhile True:\n    sys.stdout.write('y' * 65536)\n")
    r = run([str(prog)], 60)
    assert not r.timed_out and r.returncode is None and not r.ok
    assert r.error == "nvidia-smi printed more than 4 MiB on stdout; stopped reading and killed it"
    assert len(r.stdout) <= MAX_STDOUT


def test_endless_stderr_stops_at_its_bound(tmp_path: Path) -> None:
    prog = _script(tmp_path, "tool", "import sys\nwhile True:\n    sys.stderr.write('e' * 4096)\n")
    r = run([str(prog)], 60)
    assert not r.timed_out and not r.ok
    assert r.error is not None and "on stderr" in r.error
    assert len(r.stderr) <= MAX_STDERR


def test_a_hung_program_and_its_children_are_killed(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    body = _FAMILY.format(inherit="", pids=str(pids)) + "    time.sleep(300)\n"
    r = run([str(_script(tmp_path, "hang", body))], 2.0)
    assert r.timed_out and r.error == "hang timed out after 2 s"
    parent, child = _pids(pids)
    assert _gone(parent) and _gone(child)


def test_a_child_left_holding_the_pipes_neither_blocks_nor_survives(tmp_path: Path) -> None:
    # the program answers and exits; the child it leaves behind keeps stdout open for 300 s
    pids = tmp_path / "pids"
    body = _FAMILY.format(inherit="stdout=sys.stdout, stderr=sys.stderr", pids=str(pids))
    r = run([str(_script(tmp_path, "daemonizes", body + "    print('answer')\n"))], 60)
    assert r.ok and r.stdout.strip() == "answer" and not r.timed_out
    parent, child = _pids(pids)
    assert _gone(parent) and _gone(child)


def test_a_program_that_closes_its_output_and_hangs_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    body = f"""
        import os, time
        os.close(1)
        os.close(2)
        with open({str(pid_file)!r}, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(300)
    """
    r = run([str(_script(tmp_path, "quiet", body))], 2.0)
    assert r.timed_out
    assert _gone(int(pid_file.read_text(encoding="ascii")))


def test_binary_output_is_decoded_with_replacement(tmp_path: Path) -> None:
    prog = _script(tmp_path, "garbage", "import sys\nsys.stdout.buffer.write(bytes(range(256)) * 4)\n")
    r = run([str(prog)], 60)
    assert r.ok and "\ufffd" in r.stdout and len(r.stdout) == 4 * (128 + 128)


@pytest.mark.parametrize("timeout", [0.0, -1.0, math.nan, math.inf])
def test_a_timeout_that_is_no_duration_runs_nothing(tmp_path: Path, timeout: float) -> None:
    marker = tmp_path / "ran"
    prog = _script(tmp_path, "tool", f"open({str(marker)!r}, 'w').close()\n")
    r = run([str(prog)], timeout)
    assert not r.ok and r.error is not None and "not run" in r.error
    assert not marker.exists()
