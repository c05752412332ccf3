"""Round trip: ``scan`` of the files ``--emit`` writes, judged on the plan's host, reports no repo finding
(CA6xx) and no engine finding the plan did not already state for that stack on that host."""

from __future__ import annotations

from pathlib import Path

import pytest

from cudalign.emit import KINDS
from cudalign.rules import check
from cudalign.scan import scan
from cudalign.stack import resolve
from emit.scenarios import SCENARIOS, emitted, facts, scenario_host, scenario_source

IMAGE_KINDS = ("dockerfile", "compose", "k8s")
"""Kinds whose files carry the matrix's base image: judged against the matrix's own findings."""


def write(root: Path, scenario: str, kind: str) -> Path:
    out = root / kind
    out.mkdir()
    for f in emitted(scenario, kind):
        (out / f.path).write_text(f.text, encoding="utf-8")
    return out


def stated(scenario: str, kind: str) -> set[str]:
    """What the plan said about this stack on this host: the matrix's findings, or for files without the
    image, what ``check`` says of the pins installed on the host."""
    source = scenario_source(scenario)
    if kind in IMAGE_KINDS:
        return set(source.finding_codes)
    pins = [p.text for p in source.pins]
    index = source.torch_index
    host = scenario_host(scenario)
    return {f.code for f in check(host, resolve(pins, facts(), host, index_url=index), facts())}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scan_of_emitted_files_reports_nothing_new(tmp_path: Path, scenario: str, kind: str) -> None:
    root = write(tmp_path, scenario, kind)
    result = scan(root, facts(), scenario_host(scenario))
    assert result.views, "scan found no service in the emitted files"
    assert any(v.stack is not None and v.stack.component("torch") for v in result.views)
    repo = [f"{f.code} {f.message}" for f in result.findings if f.code.startswith("CA6")]
    assert repo == []
    new = [f"{f.code} {f.message}" for f in result.findings if f.code not in stated(scenario, kind)]
    assert new == []
    assert all(f.severity.value != "error" for f in result.findings)


def test_the_round_trip_can_fail(tmp_path: Path) -> None:
    """The same check catches the emitted pins put on an image of another CUDA (a hand edit)."""
    root = write(tmp_path, "a-rtx6000ada-550", "requirements")
    req = root / "requirements.txt"
    req.write_text("\n".join(ln for ln in req.read_text().splitlines() if "ignore=" not in ln) + "\n")
    (root / "Dockerfile").write_text(
        "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nCOPY requirements.txt .\n"
        "RUN pip install --no-cache-dir -r requirements.txt\n"
    )
    result = scan(root, facts(), scenario_host("a-rtx6000ada-550"))
    assert "CA603" in {f.code for f in result.findings}
