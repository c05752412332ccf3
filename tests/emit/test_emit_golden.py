"""Golden files per kind on the README's plan scenarios (``tests/golden/emit/<scenario>/<kind>/``).

``CUDALIGN_UPDATE_GOLDEN=1 pytest tests/emit/test_golden.py`` rewrites them after a deliberate change; the
diff then shows what changed for a user."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from cudalign.emit import KINDS
from emit.scenarios import SCENARIOS, emitted

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "emit"


def normal(text: str) -> str:
    """The plan digest hashes every word of the plan (each rejection's reason too); the golden files hold
    it as ``sha256:…`` so that rewording a rule does not change them (test_cli checks the digest)."""
    return re.sub(r"plan-[0-9a-f]{12}-", "plan-…-", re.sub(r"sha256:[0-9a-f]{12}", "sha256:…", text))


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_emitted_files_match_the_golden_ones(scenario: str, kind: str) -> None:
    folder = GOLDEN / scenario / kind
    files = emitted(scenario, kind)
    if os.environ.get("CUDALIGN_UPDATE_GOLDEN"):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for f in files:
            (folder / f.path).write_text(normal(f.text), encoding="utf-8")
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.path for f in files)
    for f in files:
        want = (folder / f.path).read_text(encoding="utf-8")
        assert normal(f.text) == want, f"{scenario}/{kind}/{f.path}"


def test_every_file_is_stamped_with_plan_and_knowledge_base() -> None:
    for scenario in SCENARIOS:
        for kind in KINDS:
            for f in emitted(scenario, kind):
                head = "\n".join(f.text.splitlines()[:3])
                assert "made by cudalign from plan sha256:" in head and "knowledge base snapshot" in head


def test_the_golden_files_differ_between_scenarios() -> None:
    """Each scenario's files are its own: the plan digest, base image and pins differ."""
    texts = {emitted(s, "dockerfile")[0].text for s in SCENARIOS}
    assert len(texts) == len(SCENARIOS)
