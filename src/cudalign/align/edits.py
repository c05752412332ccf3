"""Format-preserving edits of a user's files: one line changed in place, every other byte kept.

A file is held as its lines with their own endings (``\\r\\n`` stays ``\\r\\n``); an edit replaces one span of
one line, or inserts a line written with the file's ending. Nothing here parses a whole file again, so
comments, order, quoting and blank lines survive, and a file with no edit is written back byte for byte.
"""

from __future__ import annotations

import difflib

from cudalign._dataclass import dataclass, field

__all__ = ["EditedFile", "line_ending"]


def line_ending(text: str) -> str:
    """The ending the file's first line uses (``\\n`` for a one-line file without one)."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


@dataclass(slots=True)
class EditedFile:
    """A file and the edits made to it, in memory."""

    path: str
    """Repo-relative posix path."""
    original: bytes
    lines: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, path: str, data: bytes) -> EditedFile:
        text = data.decode("utf-8")
        return cls(path, data, text.splitlines(keepends=True))

    @property
    def text(self) -> str:
        return "".join(self.lines)

    @property
    def changed(self) -> bool:
        return self.text.encode("utf-8") != self.original

    def replace(self, line: int, old: str, new: str, why: str) -> bool:
        """Replace the first ``old`` on 1-based ``line`` with ``new``; False when the line lacks it."""
        i = line - 1
        if not 0 <= i < len(self.lines) or old not in self.lines[i] or old == new:
            return False
        self.lines[i] = self.lines[i].replace(old, new, 1)
        self.reasons.append(why)
        return True

    def insert_after_header(self, text: str, why: str) -> None:
        """Insert a line after the file's leading comment lines, with the file's line ending."""
        ending = line_ending(self.text)
        at = 0
        while at < len(self.lines) and self.lines[at].lstrip().startswith("#"):
            at += 1
        if at and not self.lines[at - 1].endswith(("\n", "\r")):
            self.lines[at - 1] += ending
        self.lines.insert(at, text + ending)
        self.reasons.append(why)

    def diff(self) -> str:
        """The unified diff of the edits (``a/PATH`` -> ``b/PATH``), empty when there are none."""
        before = self.original.decode("utf-8").splitlines(keepends=True)
        out = difflib.unified_diff(before, self.lines, f"a/{self.path}", f"b/{self.path}")
        return "".join(
            line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in out
        )
