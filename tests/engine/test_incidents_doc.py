"""docs/incidents.md shows what check gives today on every incident (accuracy per family)."""

from __future__ import annotations

from engine.incidents_doc import BEGIN, DOC, END, family, generated


def test_the_committed_page_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text and END in text
    committed = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert committed == generated().strip(), "run: python -m tests.engine.incidents_doc"


def test_families_follow_the_rule_codes() -> None:
    assert family({"verdict": "fails", "rules": ["driver-too-old"]}).startswith("driver")
    assert family({"verdict": "fails", "rules": ["forward-compat-unsupported"]}).startswith("images")
    assert family({"verdict": "caveats", "rules": ["minor-version-compat"]}) == "stacks that work"
