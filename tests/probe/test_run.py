"""The process door: argv only, output captured, and nothing outlives its timeout."""

from __future__ import annotations

import sys
import time

from cudalign.probe.run import run


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
