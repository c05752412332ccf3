"""File discovery: which files of a repository scan reads, and which it skips and why.

Never follows a link out of the repository, skips files over the size bound and binary files (each
with a note), and leaves out version-control, virtual-environment and cache folders and the user's
``exclude`` globs.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
from collections.abc import Sequence
from pathlib import Path

from cudalign._dataclass import dataclass

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
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xef\xbb\xbf", "utf-8"),
)
_TEXT_CONTROLS = frozenset(b"\t\n\r\x0b\x0c\x1a")
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
    if name.endswith(".dockerignore"):  # Dockerfile.dockerignore: an ignore file, not a Dockerfile
        return None
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


def _decode(data: bytes) -> tuple[str | None, str | None]:
    """Text from bytes by their byte-order mark (UTF-32, UTF-16 as PowerShell's ``>`` writes it, UTF-8),
    else UTF-8, else Latin-1; ``(None, why)`` for what is not text."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec), None
            except UnicodeDecodeError:
                return None, f"not valid {codec.upper()} after its byte-order mark"
    head = data[:512]
    if len(head) >= 8 and head[1::2].count(0) == len(head[1::2]) and 0 not in head[0::2]:
        try:  # UTF-16 without a mark: every other byte of ASCII text is NUL
            return data.decode("utf-16-le"), None
        except UnicodeDecodeError:
            pass
    if b"\x00" in data[:8192]:
        return None, "binary file"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    sample = data[:8192]
    control = sum(1 for b in sample if (b < 32 and b not in _TEXT_CONTROLS) or 127 <= b < 160)
    if control * 20 > len(sample):  # more than 5 %: not a Latin-1 text file either
        return None, "binary file (not UTF-8 or UTF-16 text)"
    return data.decode("latin-1"), None


def read_text(path: Path, rel: str, max_bytes: int = MAX_BYTES) -> tuple[str | None, str | None]:
    """The text of a file, or ``(None, note)`` saying why it was skipped."""
    import stat

    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read forever
            return None, f"{rel}: skipped, not a regular file"
        if info.st_size > max_bytes:
            return None, f"{rel}: skipped, {info.st_size} bytes is over the {max_bytes}-byte bound"
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, f"{rel}: skipped, link loop"
        return None, f"{rel}: skipped, cannot read: {exc.strerror or exc}"
    if len(data) > max_bytes:  # it grew after stat
        return None, f"{rel}: skipped, over the {max_bytes}-byte bound"
    text, why = _decode(data)
    return (text, None) if text is not None else (None, f"{rel}: skipped, {why}")


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


def _link(full: Path, root: Path) -> tuple[Path | None, str | None]:
    """Where a link leads, and what is wrong with it, if anything: a loop (to itself, in a chain, or
    to a folder that holds it), a broken link, or one that leaves the repository."""
    try:
        target = Path(os.path.realpath(full, strict=True))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "link loop"
        return None, f"broken link ({exc.strerror or exc})"
    except (RuntimeError, ValueError):
        return None, "link loop"
    if not _inside(root, target):
        return target, f"link leaves the repository ({target})"
    if target.is_dir() and _inside(target, full.parent):  # the walk never follows links: parent is real
        up = target.relative_to(root).as_posix()
        where = "the repository root" if up == "." else f"{up}/"
        return target, f"link loop (to {where}, a folder that holds it)"
    return target, None


def walk(root: Path, *, exclude: Sequence[str] = (), max_bytes: int = MAX_BYTES) -> Walk:
    """Every file scan reads under ``root``, in a stable order (each folder's files, then its folders).

    Never follows a link to a folder (one inside the repository is walked where it really is), so a
    link loop cannot make it recurse; each loop is named in a note.
    """
    root = root.resolve()
    files: list[RepoFile] = []
    notes: list[str] = []
    todo: list[tuple[Path, str]] = [(root, "")]
    while todo:
        here, rel_dir = todo.pop()
        try:
            with os.scandir(here) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            notes.append(f"{rel_dir or './'}: skipped, cannot list: {exc.strerror or exc}")
            continue
        folders: list[tuple[Path, str]] = []
        for entry in entries:
            rel = rel_dir + entry.name
            if entry.name in SKIP_DIRS or _excluded(rel, exclude):
                continue
            full = Path(entry.path)
            kind = classify(rel)
            if entry.is_symlink():
                target, problem = _link(full, root)
                is_dir = target is not None and target.is_dir()
                if problem and (kind or is_dir or problem == "link loop"):
                    notes.append(f"{rel}: skipped, {problem}")
                if problem or is_dir or kind is None:
                    continue  # a link to a folder inside the repository is walked where it really is
            elif entry.is_dir(follow_symlinks=False):
                folders.append((full, rel + "/"))
                continue
            if kind is None:
                continue
            text, note = read_text(full, rel, max_bytes)
            if note:
                notes.append(note)
            if text is not None:
                files.append(RepoFile(rel, kind, text))
        todo.extend(reversed(folders))
    return Walk(tuple(files), tuple(notes))
