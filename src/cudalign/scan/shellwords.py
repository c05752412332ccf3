"""Shell-like word splitting in linear time: what ``shlex.split`` returns, without its cost.

``shlex`` grows each word one character at a time (``self.token += char`` on an attribute), which is
quadratic in the length of a word: a requirements or Dockerfile line of a megabyte took minutes.
This splitter takes runs of plain characters at once and joins each word's pieces once.
"""

from __future__ import annotations

import re

__all__ = ["split"]

_WHITESPACE = " \t\r\n"  # shlex's whitespace, not str.isspace()
_PLAIN = r"[^ \t\r\n\\'\"]+"
_PLAIN_OR_COMMENT = r"[^ \t\r\n\\'\"#]+"


def split(text: str, *, comments: bool = False) -> list[str]:
    """The words of ``text`` as ``shlex.split(text, comments=comments)`` gives them (POSIX rules:
    single quotes literal, backslash escapes outside quotes and only ``\\`` and ``"`` inside double
    quotes; with ``comments``, ``#`` outside quotes ends the line). Raises ``ValueError`` for an
    unclosed quote or a trailing backslash, as shlex does."""
    plain = re.compile(_PLAIN_OR_COMMENT if comments else _PLAIN)
    words: list[str] = []
    pieces: list[str] = []
    in_word = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _WHITESPACE:
            if in_word:
                words.append("".join(pieces))
                pieces, in_word = [], False
            i += 1
        elif c == "#" and comments:
            if in_word:
                words.append("".join(pieces))
                pieces, in_word = [], False
            end = text.find("\n", i)
            i = n if end == -1 else end + 1
        elif c == "\\":
            if i + 1 >= n:
                raise ValueError("No escaped character")
            pieces.append(text[i + 1])
            in_word = True
            i += 2
        elif c == "'":
            end = text.find("'", i + 1)
            if end == -1:
                raise ValueError("No closing quotation")
            pieces.append(text[i + 1 : end])
            in_word = True
            i = end + 1
        elif c == '"':
            i = _double_quoted(text, i + 1, pieces)
            in_word = True
        else:
            m = plain.match(text, i)
            assert m is not None  # c is none of the characters the pattern excludes
            pieces.append(m.group())
            in_word = True
            i = m.end()
    if in_word:
        words.append("".join(pieces))
    return words


def _double_quoted(text: str, i: int, pieces: list[str]) -> int:
    """Append the inside of a double-quoted string starting at ``i``; return the index after it.
    Each character is looked at a bounded number of times: the closing quote is searched for again
    only after an escaped quote, and backslashes only up to it."""
    n = len(text)
    quote = text.find('"', i)
    while True:
        if quote == -1:
            raise ValueError("No closing quotation")
        slash = text.find("\\", i, quote)
        if slash == -1:
            pieces.append(text[i:quote])
            return quote + 1
        pieces.append(text[i:slash])
        if slash + 1 >= n:
            raise ValueError("No escaped character")
        after = text[slash + 1]
        pieces.append(after if after in '"\\' else "\\" + after)
        i = slash + 2
        if after == '"':  # the quote found was this escaped one
            quote = text.find('"', i)
