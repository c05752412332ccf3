"""Human text fitted to where it goes: wrapped to ``COLUMNS`` or the terminal, free of escape codes.

cudalign never colours its output, so ``NO_COLOR`` (https://no-color.org) holds by construction; what
could still reach a terminal are escape sequences inside the inputs a report quotes (a log line with
colours, a file name with control characters). :func:`clean` removes them from every human rendering.
:func:`fit` wraps lines longer than the width at spaces with a hanging indent; a token longer than the
width (a URL, a path) stays whole on its own line rather than being cut.
"""

from __future__ import annotations

import os
import re
from functools import cache
from typing import TextIO

__all__ = ["MIN_WIDTH", "clean", "fit", "output_width"]

MIN_WIDTH = 20
"""Narrower ``COLUMNS`` values are raised to this; below it nothing readable fits anyway."""


@cache
def _escapes() -> re.Pattern[str]:
    # CSI (colours, cursor moves), OSC (titles, hyperlinks) and two-byte escapes. Each branch is a run of
    # one character class followed by a terminator outside it, so matching is linear in the input.
    return re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_]?)")


@cache
def _controls() -> dict[int, str]:
    """C0 and C1 control characters other than tab and newline -> U+FFFD."""
    codes = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
    return {c: "\ufffd" for c in codes if chr(c) not in "\t\n"}


def clean(text: str) -> str:
    """``text`` without terminal escape sequences; other control characters shown as U+FFFD."""
    if "\x1b" in text:
        text = _escapes().sub("", text)
    return text.translate(_controls())


def output_width(stream: TextIO | None) -> int | None:
    """Columns to wrap to: ``COLUMNS`` when set to a number, else the terminal's, else ``None`` (no wrap).

    ``None`` for a pipe or file without ``COLUMNS``: lines stay whole for ``grep`` and friends.
    """
    value = os.environ.get("COLUMNS", "").strip()
    if value:
        try:
            columns = int(value)
        except ValueError:
            columns = 0
        if columns > 0:
            return max(columns, MIN_WIDTH)
    if stream is None:
        return None
    try:
        if not stream.isatty():
            return None
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None
    return max(columns, MIN_WIDTH) if columns > 0 else None


def fit(text: str, width: int | None) -> str:
    """Wrap each line of ``text`` longer than ``width`` at spaces, continuing under its indent plus two."""
    if width is None:
        return text
    import textwrap

    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        body = line.lstrip(" ")
        indent = " " * min(len(line) - len(body), width // 3)
        hanging = " " * min(len(indent) + 2, width // 3)
        out.extend(
            textwrap.wrap(
                body,
                width,
                initial_indent=indent,
                subsequent_indent=hanging,
                break_long_words=False,
                break_on_hyphens=False,
            )
            or [""]
        )
    return "\n".join(out)
