"""File discovery: which files of a repository scan reads, and which it skips and why.

Never follows a link out of the repository, skips files over the size bound and binary files (each
with a note), and leaves out version-control, virtual-environment and cache folders and the user's
``exclude`` globs.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MAX_BYTES", "SKIP_DIRS", "RepoFile", "Walk", "classify", "read_text", "walk"]

MAX_BYTES = 2_000_000
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "site-packages",
        ".eggs",
        ".idea",
        ".vscode",
    }
)
_COMPOSE = re.compile(r"^(docker-)?compose([.\-_][\w.\-]+)?\.ya?ml$", re.IGNORECASE)
_REQUIREMENTS = re.compile(
    r"(requirements|constraints)[\w.\-]*\.(txt|in)$|[\w.\-]*requirements\.(txt|in)$", re.I
)
_DOCKERFILE = re.compile(r"^(Dockerfile|Containerfile)([.\-_][\w.\-]+)?$|\.(dockerfile|Dockerfile)$")


@dataclass(frozen=True, slots=True)
class RepoFile:
    """A file scan reads: its repo-relative posix path, its kind and its text."""

    path: str
    kind: str
    """``requirements``, ``pyproject``, ``uv-lock``, ``pylock``, ``dockerfile``, ``compose``, ``yaml``."""
    text: str


@dataclass(frozen=True, slots=True)
class Walk:
    """What a walk found and what it left out, with reasons."""

    files: tuple[RepoFile, ...]
    notes: tuple[str, ...]


def classify(rel: str) -> str | None:
    """The kind of a repo-relative path, or None when scan does not read it."""
    parts = rel.split("/")
    name = parts[-1]
    if name == "pyproject.toml":
        return "pyproject"
    if name == "uv.lock":
        return "uv-lock"
    if name == "poetry.lock":
        return "poetry-lock"
    if name == "pylock.toml" or re.fullmatch(r"pylock\.[\w\-]+\.toml", name):
        return "pylock"
    if _DOCKERFILE.search(name):
        return "dockerfile"
    if _COMPOSE.match(name):
        return "compose"
    if _REQUIREMENTS.search(name) or (
        len(parts) > 1 and parts[-2] in ("requirements", "reqs") and name.endswith((".txt", ".in"))
    ):
        return "requirements"
    if name.endswith((".yaml", ".yml")) and ".github" not in parts[:-1]:
        return "yaml"
    return None


def read_text(path: Path, rel: str, max_bytes: int = MAX_BYTES) -> tuple[str | None, str | None]:
    """The text of a file, or ``(None, note)`` saying why it was skipped."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, f"{rel}: skipped, {size} bytes is over the {max_bytes}-byte bound"
        data = path.read_bytes()
    except OSError as exc:
        return None, f"{rel}: skipped, cannot read: {exc.strerror}"
    if b"\x00" in data[:8192]:
        return None, f"{rel}: skipped, binary file"
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return data.decode("latin-1"), None


def _excluded(rel: str, exclude: Sequence[str]) -> bool:
    return any(
        fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(rel + "/", g) or rel.startswith(g.rstrip("/") + "/")
        for g in exclude
    )


def _inside(root: Path, target: Path) -> bool:
    try:
        target.relative_to(root)
    except ValueError:
        return False
    return True


def walk(root: Path, *, exclude: Sequence[str] = (), max_bytes: int = MAX_BYTES) -> Walk:
    """Every file scan reads under ``root``, in a stable order."""
    root = root.resolve()
    files: list[RepoFile] = []
    notes: list[str] = []
    for current, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(current)
        rel_dir = here.relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        keep = []
        for d in sorted(dirnames):
            rel = rel_dir + d
            full = here / d
            if d in SKIP_DIRS or _excluded(rel, exclude):
                continue
            if full.is_symlink():
                target = full.resolve()
                if not _inside(root, target):
                    notes.append(f"{rel}: skipped, link leaves the repository ({target})")
                continue  # a link to a folder inside the repo is walked where it really is
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            rel = rel_dir + name
            kind = classify(rel)
            if kind is None or _excluded(rel, exclude):
                continue
            full = here / name
            if full.is_symlink() and not _inside(root, full.resolve()):
                notes.append(f"{rel}: skipped, link leaves the repository ({full.resolve()})")
                continue
            text, note = read_text(full, rel, max_bytes)
            if note:
                notes.append(note)
            if text is not None:
                files.append(RepoFile(rel, kind, text))
    return Walk(tuple(files), tuple(notes))
