"""Every console example in the README is re-run and compared with what it shows.

A block is a ```console fence; each ``$ cudalign …`` line in it is a command and the lines up to the
next ``$`` are its output. In the shown output, a line that is only ``…`` stands for any number of
lines (none included), and a ``…`` inside a line stands for any text. An HTML comment right before the
fence, ``<!-- example: host=tests/hosts/NAME.json -->``, says which recorded host "this machine" was
when the output was taken (``doctor`` and ``check`` without a described host probe the machine).
"""

from __future__ import annotations

import io
import re
import shlex
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


@dataclass(frozen=True)
class Example:
    line: int
    argv: tuple[str, ...]
    shown: tuple[str, ...]
    host: str | None

    @property
    def id(self) -> str:
        return f"README.md:{self.line}"


def examples(path: Path = README) -> list[Example]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Example] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        directive = re.match(r"<!-- example: host=(\S+) -->", lines[i - 1].strip()) if i else None
        host = directive.group(1) if directive else None
        i += 1
        command: tuple[int, str] | None = None
        shown: list[str] = []
        while i < len(lines) and lines[i].strip() != "```":
            if lines[i].startswith("$ "):
                if command:
                    found.append(Example(command[0], tuple(shlex.split(command[1])[1:]), tuple(shown), host))
                command, shown = (i + 1, lines[i][2:]), []
            else:
                shown.append(lines[i])
            i += 1
        if command:
            found.append(Example(command[0], tuple(shlex.split(command[1])[1:]), tuple(shown), host))
        i += 1
    return found


def _line_matches(shown: str, actual: str) -> bool:
    if "…" not in shown:
        return shown.rstrip() == actual.rstrip()
    pattern = ".*".join(re.escape(part) for part in shown.rstrip().split("…"))
    return re.fullmatch(pattern, actual.rstrip(), flags=re.DOTALL) is not None


def matches(shown: tuple[str, ...], actual: list[str]) -> str | None:
    """None when ``actual`` is what ``shown`` shows, else the first shown line that does not match."""

    def walk(s: int, a: int) -> bool:
        while s < len(shown):
            if shown[s].strip() == "…":
                return any(walk(s + 1, k) for k in range(a, len(actual) + 1))
            if a >= len(actual) or not _line_matches(shown[s], actual[a]):
                return False
            s, a = s + 1, a + 1
        return a == len(actual)

    if walk(0, 0):
        return None
    # name the first line that could not be matched in order, for a readable failure
    a = 0
    for line in shown:
        if line.strip() == "…":
            continue
        while a < len(actual) and not _line_matches(line, actual[a]):
            a += 1
        if a == len(actual):
            return line
        a += 1
    return "(the output has lines the README does not show)"


def run_example(example: Example, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from cudalign.cli import main

    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(ROOT)
    if example.host:
        import json

        import cudalign.probe
        from cudalign.model import host_from_json

        recorded = host_from_json(json.loads((ROOT / example.host).read_text(encoding="utf-8")))
        monkeypatch.setattr(cudalign.probe, "probe", lambda **_: recorded)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        main(list(example.argv))
    return out.getvalue().splitlines() + err.getvalue().splitlines()  # a console shows both


EXAMPLES = examples()


def test_the_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 8
    assert all(e.argv for e in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_readme_example_output_is_true(example: Example, monkeypatch: pytest.MonkeyPatch) -> None:
    actual = run_example(example, monkeypatch)
    wrong = matches(example.shown, actual)
    assert wrong is None, f"{example.id}: shown line not produced: {wrong!r}\nactual output:\n" + "\n".join(
        actual
    )


def test_the_matcher_catches_drift() -> None:
    shown = ("verdict: caveats", "…", "fact: a … b")
    assert matches(shown, ["verdict: caveats", "x", "y", "fact: a 1 2 b"]) is None
    assert matches(shown, ["verdict: caveats", "fact: a  b"]) is None
    assert matches(shown, ["verdict: fails", "fact: a 1 b"]) == "verdict: caveats"
    assert matches(("a", "b"), ["a", "b", "c"]) is not None
    assert matches(("a", "…"), ["a", "b", "c"]) is None
