"""SARIF 2.1.0: validated against the official OASIS schema, as GitHub code scanning takes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest

from cudalign.facts import Facts, load
from cudalign.model import Finding, Location, Report, Severity
from cudalign.render.sarif import catalogue, render_sarif, rule_help
from cudalign.scan import scan

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "sarif-schema-2.1.0.json"
REPOS = Path(__file__).resolve().parents[1] / "repos"


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


def _validate(log: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(log)


def test_scan_sarif_validates_against_the_schema(facts: Facts) -> None:
    log = json.loads(render_sarif(scan(REPOS / "speech_llm", facts, fleet_driver="535.104.05").report()))
    _validate(log)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {f"CA60{i}" for i in range(1, 10)}
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        loc = result["locations"][0]["physicalLocation"]
        assert not loc["artifactLocation"]["uri"].startswith("/")  # relative to the repository root
        assert loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert loc["region"]["startLine"] >= 1
    ca605 = next(r for r in run["results"] if r["ruleId"] == "CA605")
    assert ca605["level"] == "error"
    assert (
        ca605["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "services/worker/requirements.txt"
    )
    assert ca605["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file:///")


def test_a_report_without_locations_validates() -> None:
    report = Report(
        schema="cudalign.check/1",
        findings=(Finding("CA101", "driver-too-old", Severity.ERROR, "driver too old", "upgrade it"),),
    )
    log = json.loads(render_sarif(report))
    _validate(log)
    assert "locations" not in log["runs"][0]["results"][0]


def test_odd_file_names_are_uri_references() -> None:
    finding = Finding(
        "CA609", "unparseable-file", Severity.WARNING, "m", "f", location=Location("my dir/ä#.txt", 2)
    )
    log = json.loads(render_sarif(Report(schema="cudalign.scan/1", findings=(finding,))))
    _validate(log)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "my%20dir/%C3%A4%23.txt"


def test_rule_help_prefers_the_docs_page(tmp_path: Path) -> None:
    rule = next(r for r in catalogue() if r.code == "CA601")
    (tmp_path / "CA601.md").write_text("# CA601 torch-drift\n\nPage text.\n")
    assert rule_help(rule, tmp_path) == "# CA601 torch-drift\n\nPage text.\n"
    fallback = rule_help(rule, tmp_path / "absent")
    assert fallback.startswith("CA601 torch-drift:") and "Fix:" in fallback


def test_levels_follow_severity() -> None:
    findings = tuple(
        Finding("CA604", "unpinned-cuda-package", s, "m", "f", location=Location("r.txt", 1))
        for s in Severity
    )
    log = json.loads(render_sarif(Report(schema="cudalign.scan/1", findings=findings)))
    assert [r["level"] for r in log["runs"][0]["results"]] == ["note", "warning", "error"]


def test_a_file_two_services_share_is_reported_once() -> None:
    findings = tuple(
        Finding(
            "CA604",
            "unpinned-cuda-package",
            Severity.WARNING,
            "m",
            "f",
            location=Location("r.txt", 2),
            service=s,
        )
        for s in ("llm", "worker")
    )
    results = json.loads(render_sarif(Report(schema="cudalign.scan/1", findings=findings)))["runs"][0][
        "results"
    ]
    assert len(results) == 1 and results[0]["properties"]["services"] == ["llm", "worker"]
