"""Golden runbooks per distribution family, Markdown and shell; regenerate with CUDALIGN_UPDATE_GOLDEN=1.

The goldens are rendered from a frozen copy of the knowledge base (``golden/runbook/kb``, copied from
``facts/data`` on 2026-11-22) so that a corrected fact changes the live runbooks, and the tests in
``test_runbook.py`` that derive their expectations from the live facts, but not these files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cudalign.facts import Facts, load
from cudalign.render.runbook_md import render_markdown
from cudalign.render.runbook_sh import render_shell
from cudalign.runbook import build, parse_target

from .conftest import CASES, make_host

GOLDEN = Path(__file__).parents[1] / "golden" / "runbook"


@pytest.fixture(scope="module")
def frozen() -> Facts:
    return load(GOLDEN / "kb")


def _check(path: Path, text: str) -> None:
    if os.environ.get("CUDALIGN_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with CUDALIGN_UPDATE_GOLDEN=1 and review the diff"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("fmt", ["md", "sh"])
def test_golden(name: str, fmt: str, frozen: Facts) -> None:
    rb = build(make_host(frozen, name), frozen, parse_target(CASES[name][3]))
    text = render_markdown(rb) if fmt == "md" else render_shell(rb)
    _check(GOLDEN / f"{name}.{fmt}", text)


def test_goldens_cover_every_family() -> None:
    families = {CASES[n][2].rstrip("0123456789.") for n in CASES}
    assert families >= {"ubuntu", "debian", "rocky", "rhel"}
    versions = {CASES[n][2] for n in CASES}
    assert {"ubuntu20.04", "ubuntu22.04", "ubuntu24.04", "debian12"} <= versions
