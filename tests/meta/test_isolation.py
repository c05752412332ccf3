"""The suite's own promise: no test reads or writes the user's cache, whatever the fixture scope."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tests_never_write_the_user_cache(tmp_path: Path) -> None:
    """Run tests with module-scoped facts fixtures under a fresh HOME: its cache must stay empty."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CUDALIGN_CACHE_DIR", "XDG_CACHE_HOME")}
    env["HOME"] = str(home)
    targets = ["tests/doctor/test_doctor.py", "tests/engine/test_query.py"]
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *targets],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert " passed" in out.stdout
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert written == [], f"tests wrote into the user's home: {written}"


def test_the_cache_the_code_sees_is_a_temporary_one() -> None:
    from cudalign.facts.snapshot import user_cache_dir

    cache = user_cache_dir()
    assert not str(cache).startswith(str(Path.home() / ".cache")), cache
    assert os.environ["XDG_CACHE_HOME"] != str(Path.home() / ".cache")
