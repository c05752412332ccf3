"""Shared fixtures of the scan tests: the shipped knowledge base, loaded once, and a repo writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from cudalign.facts import Facts, load

__all__ = ["facts"]

REPOS = Path(__file__).resolve().parents[1] / "repos"


@pytest.fixture(scope="session")
def facts() -> Facts:
    """The shipped knowledge base and its embedded PyPI snapshot."""
    kb = load()
    _ = kb.snapshot
    return kb
