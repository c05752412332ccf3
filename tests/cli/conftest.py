"""Fixtures for the CLI tests: run ``main`` in-process and judge a usage error the way users see it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cudalign.cli import main

__all__ = ["Result", "cli", "file_digests", "isolated_cache", "usage_error"]


@pytest.fixture(scope="session")
def _cli_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cudalign-cli-cache")


@pytest.fixture(autouse=True)
def isolated_cache(_cli_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One temporary cache for all CLI tests (none of them updates the facts), so the knowledge base is
    decoded once and read from its pickle after; still never the user's cache."""
    monkeypatch.setenv("CUDALIGN_CACHE_DIR", str(_cli_cache))
    return _cli_cache


@dataclass(frozen=True)
class Result:
    """What one in-process run of ``cudalign`` left: exit status and the two streams."""

    rc: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``cli("check", "--gpu", "H100")`` runs ``cudalign.cli.main`` and returns its :class:`Result`."""

    def run(*argv: str) -> Result:
        capsys.readouterr()
        rc = main(list(argv))
        captured = capsys.readouterr()
        return Result(rc, captured.out, captured.err)

    return run


@pytest.fixture
def usage_error() -> Callable[..., None]:
    """Assert exit 2 with one ``cudalign: error:`` line (and at most one ``hint:``) naming each needle."""

    def check(result: Result, *needles: str) -> None:
        assert "Traceback" not in result.err, result.err
        assert result.rc == 2, (result.rc, result.err)
        lines = result.err.splitlines()
        assert 1 <= len(lines) <= 2, result.err
        assert lines[0].startswith("cudalign: error: "), result.err
        if len(lines) == 2:
            assert lines[1].startswith("hint: "), result.err
        for needle in needles:
            assert needle in lines[0], (needle, lines[0])

    return check


def file_digests(root: Path) -> dict[str, str]:
    """SHA-256 of every regular file under ``root`` (links not followed), by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def digests() -> Callable[[Path], dict[str, str]]:
    """:func:`file_digests` as a fixture, to compare a directory before and after a run."""
    return file_digests
