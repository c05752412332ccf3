"""SARIF 2.1.0 for any report with findings, as GitHub code scanning takes it: every rule of the
catalogue with its help text, and one result per finding with its file and line relative to the
repository root.

The help text is the rule's documentation page made from its docstring inside the package
(:mod:`cudalign.render.rule_docs`, the same text as ``docs/rules/<code>.md``): nothing is read from
files, so an installed wheel writes the same SARIF as a checkout."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cudalign.model import Finding, Report, Severity

if TYPE_CHECKING:
    from cudalign.rules import AnyRule

__all__ = ["SARIF_SCHEMA", "catalogue", "render_sarif", "rule_help"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def catalogue() -> list[AnyRule]:
    """Every rule of the one catalogue (:data:`cudalign.rules.RULES`): engine and repo rules."""
    from cudalign.rules import RULES

    return list(RULES)


def rule_help(rule: AnyRule) -> str:
    """The rule's help text: its documentation page, made from its docstring."""
    from cudalign.render.rule_docs import page

    return page(rule)


@cache
def _project_url() -> str | None:
    from importlib import metadata

    try:
        urls = metadata.metadata("cudalign").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("source", "repository", "homepage") and "github.com" in url:
            return str(url).strip().rstrip("/")
    return None


def _rule_json(rule: AnyRule) -> dict[str, Any]:
    text = rule_help(rule)
    first = rule.doc.split("\n\n", 1)[0].replace("\n", " ") if rule.doc else rule.title
    out: dict[str, Any] = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": first},
        "help": {"text": text, "markdown": text},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"tags": ["cuda", "gpu", rule.name]},
    }
    base = _project_url()
    if base:
        out["helpUri"] = f"{base}/blob/main/docs/rules/{rule.code}.md"
    return out


def _fingerprint(f: Finding) -> str:
    loc = f.location
    key = "|".join([f.code, f.service or "", loc.file if loc else "", f.message])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _result(f: Finding, index: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": f.code,
        "level": _LEVEL[f.severity],
        "message": {"text": f"{f.message}. Fix: {f.fix}" if f.fix else f.message},
        "partialFingerprints": {"cudalignFinding/v1": _fingerprint(f)},
    }
    if f.code in index:
        out["ruleIndex"] = index[f.code]
    if f.location is not None and f.location.file:
        region: dict[str, Any] = {"startLine": max(1, f.location.line or 1)}
        if f.location.column:
            region["startColumn"] = f.location.column
        out["locations"] = [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": quote(f.location.file), "uriBaseId": "%SRCROOT%"},
                    "region": region,
                }
            }
        ]
    props: dict[str, Any] = {}
    if f.facts:
        props["facts"] = [{"id": r.id, "source": r.source} for r in f.facts]
    if props:
        out["properties"] = props
    return out


def _results(findings: Iterable[Finding], index: dict[str, int]) -> list[dict[str, Any]]:
    """One result per rule, message and place: a file two services share is reported once, naming
    both services (code scanning would otherwise show the same alert twice)."""
    out: list[dict[str, Any]] = []
    seen: dict[tuple[object, ...], dict[str, Any]] = {}
    for f in findings:
        key = (f.code, f.severity, f.message, f.location)
        if f.location is not None and key in seen:
            props = seen[key].setdefault("properties", {})
            if f.service and f.service not in props.setdefault("services", []):
                props["services"].append(f.service)
            continue
        result = _result(f, index)
        if f.service:
            result.setdefault("properties", {})["services"] = [f.service]
        seen[key] = result
        out.append(result)
    return out


def render_sarif(report: Report, *, rules: Iterable[AnyRule] | None = None) -> str:
    """The report as a SARIF 2.1.0 log (one run)."""
    from cudalign import __version__

    catalog = list(rules) if rules is not None else catalogue()
    index = {r.code: i for i, r in enumerate(catalog)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "cudalign",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule_json(r) for r in catalog],
            }
        },
        "results": _results(report.findings, index),
        "columnKind": "unicodeCodePoints",
        "properties": {"schema": report.schema},
    }
    info = _project_url()
    if info:
        run["tool"]["driver"]["informationUri"] = info
    root = report.data.get("root") if report.data else None
    if isinstance(root, str) and root:
        run["originalUriBaseIds"] = {"%SRCROOT%": {"uri": Path(root).resolve().as_uri() + "/"}}
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2)
