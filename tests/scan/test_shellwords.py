"""The linear-time word splitter agrees with ``shlex.split`` (its speed: test_bad_input.py)."""

from __future__ import annotations

import shlex

from hypothesis import given, settings
from hypothesis import strategies as st

from cudalign.scan.shellwords import split

_TEXT = st.text(alphabet=st.sampled_from(list(" \t\n\r\\'\"#ab=$-[]{}\x0b")), max_size=40)


def _shlex(text: str, comments: bool) -> list[str] | str:
    try:
        return shlex.split(text, comments=comments)
    except ValueError:
        return "ValueError"


def _ours(text: str, comments: bool) -> list[str] | str:
    try:
        return split(text, comments=comments)
    except ValueError:
        return "ValueError"


@settings(max_examples=1500, deadline=None)
@given(_TEXT, st.booleans())
def test_same_words_as_shlex(text: str, comments: bool) -> None:
    """Quotes, escapes, comments and errors as ``shlex.split(text, comments=...)``."""
    assert _ours(text, comments) == _shlex(text, comments)


def test_examples() -> None:
    assert split('pip install \'torch==2.9\' "a\\"b" c\\ d') == ["pip", "install", "torch==2.9", 'a"b', "c d"]
    assert split("a # b\nc", comments=True) == ["a", "c"]
    assert split('""') == [""]
