"""Shared fixtures of the scan tests: the shipped knowledge base, loaded once, and a repo writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cudalign.facts import Facts, load

__all__ = ["facts", "make_repo"]

REPOS = Path(__file__).resolve().parents[1] / "repos"


@pytest.fixture(scope="session")
def facts() -> Facts:
    """The shipped knowledge base and its embedded PyPI snapshot."""
    kb = load()
    _ = kb.snapshot
    return kb


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Write ``{relative path: text}`` under a fresh directory and return it."""

    def make(files: dict[str, str]) -> Path:
        root = tmp_path / "repo"
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        root.mkdir(exist_ok=True)
        return root

    return make
