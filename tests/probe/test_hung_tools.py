"""Tools that hang or print garbage: ``doctor`` still answers, in bounded time and memory, and leaves
no process of theirs behind.

The fake ``nvidia-smi`` programs are real executables on ``PATH``; a file that is not a library stands
in for ``libnvidia-ml.so.1`` on ``LD_LIBRARY_PATH`` so that, on any machine, NVML fails and the probe
falls back to ``nvidia-smi``. Each subprocess has a timeout: a broken bound fails the test, not the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cudalign.probe import probe, target_python
from cudalign.probe.run import Result, run

from .fakes import FakeNvml
from .test_run import _gone

SRC = Path(__file__).resolve().parents[2] / "src"


def _program(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!{sys.executable}\n{textwrap.dedent(body)}", encoding="utf-8")
    path.chmod(0o755)
    return path


def _family(pids: Path) -> str:
    """Start a grandchild that sleeps in the same session; write both process ids to ``pids``."""
    return textwrap.dedent(f"""
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        with open({str(pids)!r}, "w") as fh:
            fh.write(f"{{os.getpid()}} {{child.pid}}")
    """)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _doctor(tmp_path: Path, smi_body: str, *extra: str) -> subprocess.CompletedProcess[str]:
    bin_dir, lib_dir = tmp_path / "bin", tmp_path / "lib"
    _program(bin_dir, "nvidia-smi", smi_body)
    lib_dir.mkdir()
    for lib in ("libnvidia-ml.so.1", "libcuda.so.1"):
        (lib_dir / lib).write_bytes(b"not a shared library\n")
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "LD_LIBRARY_PATH": str(lib_dir),
        "PYTHONPATH": str(SRC),
    }
    return subprocess.run(
        [sys.executable, "-m", "cudalign", "doctor", "--format", "json", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_doctor_stops_reading_an_endless_nvidia_smi_and_kills_it(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    body = _family(pids) + "while True:\n    sys.stdout.write('NVIDIA H100, 0, 0\\n' * 4096)\n"
    out = _doctor(tmp_path, body)
    assert out.returncode in (0, 1) and "Traceback" not in out.stderr, out.stderr
    said = list(_strings(json.loads(out.stdout)))
    assert any("nvidia-smi printed more than 4 MiB on stdout" in s for s in said)
    parent, child = (int(p) for p in pids.read_text(encoding="ascii").split())
    assert _gone(parent) and _gone(child)


def test_doctor_kills_a_hung_nvidia_smi_and_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    out = _doctor(tmp_path, _family(pids) + "time.sleep(300)\n", "--timeout", "1")
    assert out.returncode in (0, 1) and "Traceback" not in out.stderr, out.stderr
    said = list(_strings(json.loads(out.stdout)))
    assert any("nvidia-smi timed out after 1 s" in s for s in said)
    parent, child = (int(p) for p in pids.read_text(encoding="ascii").split())
    assert _gone(parent) and _gone(child)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e300"])
def test_doctor_refuses_a_timeout_that_is_no_duration(tmp_path: Path, value: str) -> None:
    marker = tmp_path / "ran"
    out = _doctor(tmp_path, f"open({str(marker)!r}, 'w').close()\n", f"--timeout={value}")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "--timeout" in out.stderr and "Traceback" not in out.stderr
    assert not marker.exists()


_GARBAGE = {
    "binary": "import sys\nsys.stdout.buffer.write(bytes(range(256)) * 64)\n",
    "one huge line": "import sys\nsys.stdout.write('x' * 3_000_000)\n",
    "an unclosed quote": (
        "print('\"NVIDIA H100' + ', x' * 100_000)\nprint('580.1, H100, 0x233010DE, 9.0, 1, Disabled, u, 0')\n"
    ),
    "a huge index": "print('580.1, NVIDIA H100, 0x233010DE, 9.0, 81559, Disabled, GPU-1, ' + '9' * 5000)\n",
    "NUL bytes": "import sys\nsys.stdout.write('\\x00' * 10000)\n",
}


@pytest.mark.parametrize("body", _GARBAGE.values(), ids=list(_GARBAGE))
def test_probe_survives_garbage_from_nvidia_smi(tmp_path: Path, body: str) -> None:
    smi = _program(tmp_path, "nvidia-smi", body)
    host = probe(
        root=tmp_path / "root",
        nvml=FakeNvml({"init": {"error": 9, "text": "Driver Not Loaded"}}),
        run=run,
        smi=str(smi),
        environ={},
        site_dirs=[],
        libcuda_loader=lambda name: (_ for _ in ()).throw(OSError(name)),
    )
    assert all(g.name and len(g.name) < 200 for g in host.gpus)
    assert host.driver is None or len(host.driver.version or "") < 50


_ANSWERS = ["[" * 100_000, '["3.11", ' + "[" * 100_000, '["3.11", "abc"]', "[1, 2]", '{"a": 1}', "", "\x00"]


@pytest.mark.parametrize("answer", _ANSWERS)
def test_target_python_with_a_garbage_answer(answer: str) -> None:
    def fake(argv: Any, timeout: float) -> Result:
        return Result(tuple(argv), 0, answer)

    assert target_python("python9", fake, 1.0) == (None, [], "python9: unexpected answer")


def test_target_python_with_a_good_answer() -> None:
    def fake(argv: Any, timeout: float) -> Result:
        return Result(tuple(argv), 0, 'noise\n["3.12.3", ["", "/usr/lib/python3.12"]]\n')

    assert target_python("python3.12", fake, 1.0) == ("3.12.3", ["/usr/lib/python3.12"], None)
