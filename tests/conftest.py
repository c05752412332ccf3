"""Shared test setup: no test reads or writes the user's cudalign cache.

Isolation starts in ``pytest_configure``, before any fixture of any scope runs: module- and
session-scoped fixtures that load the facts would otherwise write their pickle into the real cache
before a function-scoped fixture could redirect it. Each test then gets its own empty directory.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

__all__ = ["isolated_cache", "make_repo"]

# Speed lives in benchmarks/, not in unit tests: no per-example deadline, which fails on a busy machine.
settings.register_profile("cudalign", deadline=None)
settings.load_profile("cudalign")

_SESSION_DIRS: list[tempfile.TemporaryDirectory[str]] = []


def pytest_configure(config: pytest.Config) -> None:
    """Point every cache location cudalign could use at a temporary directory for the whole session."""
    tmp = tempfile.TemporaryDirectory(prefix="cudalign-test-cache-")
    _SESSION_DIRS.append(tmp)
    os.environ["CUDALIGN_CACHE_DIR"] = str(Path(tmp.name) / "cudalign")
    os.environ["XDG_CACHE_HOME"] = str(Path(tmp.name) / "xdg")


def pytest_unconfigure(config: pytest.Config) -> None:
    for tmp in _SESSION_DIRS:
        tmp.cleanup()
    _SESSION_DIRS.clear()


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``CUDALIGN_CACHE_DIR`` at a fresh directory so no test reads or writes the user's overlay."""
    path = tmp_path_factory.mktemp("cudalign-cache")
    monkeypatch.setenv("CUDALIGN_CACHE_DIR", str(path))
    # the developer's terminal width and colour choice must not change what tests compare
    monkeypatch.delenv("COLUMNS", raising=False)
    return path


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Write ``{relative path: text}`` under a fresh directory and return it (scan and repo-rule tests)."""

    def make(files: dict[str, str]) -> Path:
        root = tmp_path / "repo"
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        root.mkdir(exist_ok=True)
        return root

    return make
