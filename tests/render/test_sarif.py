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


def test_rule_help_is_the_docs_page_made_inside_the_package() -> None:
    """Each rule's help equals its committed ``docs/rules/<code>.md``, made from the docstring, not read."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "rules"
    rules = catalogue()
    assert {r.code for r in rules} == {p.stem for p in docs.glob("CA*.md")}
    for rule in rules:
        assert rule_help(rule) == (docs / f"{rule.code}.md").read_text(encoding="utf-8"), rule.code


def test_sarif_reads_no_file_of_the_checkout() -> None:
    """Neither the SARIF renderer nor the rule pages reach for files next to the package."""
    import ast

    import cudalign.render.rule_docs
    import cudalign.render.sarif

    for module in (cudalign.render.sarif, cudalign.render.rule_docs):
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert "__file__" not in names and "open" not in names, module.__name__
        assert not attrs & {"read_text", "read_bytes", "open", "files", "glob"}, module.__name__


def test_an_installed_copy_writes_the_same_sarif(tmp_path: Path, facts: Facts) -> None:
    """The package copied alone (as a wheel installs it: no docs/ beside it) renders identical SARIF."""
    import os
    import shutil
    import subprocess
    import sys

    import cudalign

    site = tmp_path / "site"
    shutil.copytree(
        Path(cudalign.__file__).parent, site / "cudalign", ignore=shutil.ignore_patterns("__pycache__")
    )
    report = scan(REPOS / "speech_llm", facts, fleet_driver="535.104.05").report()
    here = render_sarif(report)
    code = (
        "import sys; from cudalign.facts import load; from cudalign.scan import scan;"
        "from cudalign.render.sarif import render_sarif; import cudalign;"
        f"assert cudalign.__file__.startswith({str(site)!r}), cudalign.__file__;"
        f"sys.stdout.write(render_sarif(scan({str(REPOS / 'speech_llm')!r}, load(), "
        "fleet_driver='535.104.05').report()))"
    )
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    env.update({k: v for k, v in os.environ.items() if k.startswith(("CUDALIGN_", "XDG_"))})
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout == here
