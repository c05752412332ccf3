"""Text and Markdown renderings of a scan, grouped by service."""

from __future__ import annotations

from pathlib import Path

from cudalign.facts import load
from cudalign.render import render
from cudalign.scan import scan

REPOS = Path(__file__).resolve().parents[1] / "repos"


def test_text_groups_findings_under_their_service() -> None:
    out = render(scan(REPOS / "speech_llm", load()).report(), "text")
    lines = out.splitlines()
    assert lines[0].startswith("cudalign scan ") and "6 services" in lines[0] and "1 suppressed" in lines[0]
    worker = lines.index(next(line for line in lines if line.startswith("worker")))
    block = lines[worker : worker + 8]
    assert any("error   CA605 variant-without-index  services/worker/requirements.txt:3" in b for b in block)
    assert any("CA607 gpu-service-without-reservation  docker-compose.yml:38" in b for b in block)
    assert "\nno findings: api, redis\n" in out


def test_markdown_has_a_services_table_and_a_section_per_service() -> None:
    out = render(scan(REPOS / "speech_llm", load()).report(), "markdown")
    assert "| service | files | image | torch | CUDA |" in out
    assert "## worker" in out
    assert "| error | CA605 variant-without-index | `services/worker/requirements.txt:3` |" in out


def test_notes_are_listed(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r https://example.com/r.txt\ntorch==2.9.0\n")
    out = render(scan(tmp_path, load()).report(), "text")
    assert "notes:\n  - requirements.txt:1: -r https://example.com/r.txt not fetched (scan reads" in out
