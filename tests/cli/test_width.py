"""Human output fits the terminal: ``COLUMNS`` is honoured, lines wrap at spaces under their indent,
nothing but an unbreakable token overflows, and no escape code reaches the terminal (``NO_COLOR``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cudalign.render.terminal import MIN_WIDTH, clean, fit, output_width

from .conftest import Result

HOSTS = Path(__file__).resolve().parents[1] / "hosts"
REPOS = Path(__file__).resolve().parents[1] / "repos"
Cli = Callable[..., Result]

TEXT_RUNS = {
    "check": ["check", "vllm==0.13.0", "--gpu", "V100", "--driver", "535.54.03"],
    "plan": ["plan", "vllm==0.13.0", "--gpu", "RTX 6000 Ada", "--driver", "550.107.02"],
    "scan": ["scan", str(REPOS / "speech_llm")],
    "explain": ["explain", "--host", str(HOSTS / "driver470.json"), "CUDA driver version is insufficient"],
    "doctor": ["doctor", "--fail-on", "never"],
}


def _overflow(line: str, width: int) -> bool:
    """Longer than the width, and not just an indent and one unbreakable token."""
    return len(line) > width and " " in line.strip()


@pytest.mark.parametrize("command", sorted(TEXT_RUNS))
def test_text_output_fits_columns_and_has_no_escape_codes(
    command: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.setenv("NO_COLOR", "1")
    result = cli(*TEXT_RUNS[command])
    assert result.rc in (0, 1), result.err
    assert "\x1b" not in result.out
    assert result.out.count("\n") > 3
    long = [line for line in result.out.splitlines() if _overflow(line, 60)]
    assert long == []


def test_without_columns_a_pipe_gets_whole_lines(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    result = cli(*TEXT_RUNS["check"])
    assert max(len(line) for line in result.out.splitlines()) > 80  # not wrapped for grep


def test_a_file_written_with_o_is_not_wrapped(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    out = tmp_path / "report.txt"
    assert cli(*TEXT_RUNS["check"], "-o", str(out)).rc in (0, 1)
    assert max(len(line) for line in out.read_text().splitlines()) > 80


def test_escape_codes_quoted_from_a_log_are_removed(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    log = tmp_path / "run.log"
    log.write_text(
        "\x1b[31mRuntimeError: CUDA driver version is insufficient for CUDA runtime version\x1b[0m\x07\n"
        "\x1b]0;title\x07done\n"
    )
    for fmt in ("text", "markdown"):
        result = cli("explain", "--no-probe", "--log", str(log), "--format", fmt)
        assert result.rc == 1, result.err
        assert "CUDA driver version is insufficient" in result.out
        assert "\x1b" not in result.out and "\x07" not in result.out


@pytest.mark.parametrize(
    ("value", "expected"),
    [("60", 60), (" 100 ", 100), ("5", MIN_WIDTH), ("0", None), ("wide", None), ("", None)],
)
def test_columns_sets_the_width_when_it_is_a_number(
    value: str, expected: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", value)
    assert output_width(None) == expected


_words = st.text(alphabet=st.sampled_from("abcdefghij:/.-"), min_size=1, max_size=30)
_lines = st.builds(
    lambda indent, words: " " * indent + " ".join(words),
    st.integers(0, 12),
    st.lists(_words, max_size=25),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_lines, max_size=6), st.integers(MIN_WIDTH, 120))
def test_fit_keeps_every_word_in_order_and_overflows_only_with_one_token(
    lines: list[str], width: int
) -> None:
    """Wrapping never drops, splits or reorders a word; a line over the width holds one word alone."""
    text = "\n".join(lines)
    fitted = fit(text, width)
    assert fitted.split() == text.split()
    assert not [line for line in fitted.splitlines() if _overflow(line, width)]
    assert fit(text, None) == text


def test_fit_continues_a_wrapped_line_under_its_indent() -> None:
    line = "    fix: " + " ".join(["word"] * 30)
    fitted = fit(line, 40).splitlines()
    assert fitted[0].startswith("    fix: word")
    assert all(cont.startswith("      word") for cont in fitted[1:])


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(["\x1b", "[", "]", "0", ";", "3", "1", "m", "\x07", "\\", "a", " ", "\n"])
    )
)
def test_clean_leaves_no_control_character_but_newline(text: str) -> None:
    cleaned = clean(text)
    assert not [c for c in cleaned if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0]


def test_clean_keeps_the_words_of_a_coloured_line() -> None:
    assert (
        clean("\x1b[1;31merror\x1b[0m: \x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\ ok\tdone")
        == "error: link ok\tdone"
    )


def test_clean_is_linear_on_an_unterminated_escape() -> None:
    import time

    text = ("\x1b[" + "0;" * 50_000) * 20
    start = time.perf_counter()
    clean(text)
    assert time.perf_counter() - start < 2.0
