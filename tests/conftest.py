"""Shared test setup: every test gets its own empty cudalign cache directory."""

from __future__ import annotations

from pathlib import Path

import pytest

__all__ = ["isolated_cache"]


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``CUDALIGN_CACHE_DIR`` at a fresh directory so no test reads or writes the user's overlay."""
    path = tmp_path_factory.mktemp("cudalign-cache")
    monkeypatch.setenv("CUDALIGN_CACHE_DIR", str(path))
    return path
