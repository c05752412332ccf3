"""Report renderers behind one registry: (report schema, format) -> the function that renders it.

:data:`RENDERERS` names every pair explicitly, as ``module:function``; a module is imported only when one of
its renderings is asked for, so the CLI starts fast. JSON is canonical (:func:`render_json`, shared by the
reports whose data is already JSON-shaped); text, Markdown, SARIF and the rest are renderings of the same
report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cudalign.model import Report, to_jsonable

__all__ = ["FORMATS", "RENDERERS", "formats", "render", "render_json", "renderer"]

FORMATS = ("text", "json", "markdown", "sarif", "html")
"""The report formats of DESIGN.md that something renders (command-specific ones aside: ``sh``; the files
``--emit`` writes are :mod:`cudalign.emit`'s)."""

_JSON = "cudalign.render:render_json"
_SARIF = "cudalign.render.sarif:render_sarif"

RENDERERS: dict[tuple[str, str], str] = {
    ("cudalign.check/1", "text"): "cudalign.render.check:text",
    ("cudalign.check/1", "json"): _JSON,
    ("cudalign.check/1", "markdown"): "cudalign.render.check:markdown",
    ("cudalign.check/1", "sarif"): _SARIF,
    ("cudalign.check/1", "html"): "cudalign.render.html_reports:check",
    ("cudalign.doctor/1", "text"): "cudalign.render.doctor:text",
    ("cudalign.doctor/1", "json"): _JSON,
    ("cudalign.doctor/1", "markdown"): "cudalign.render.doctor:markdown",
    ("cudalign.doctor/1", "html"): "cudalign.render.html_reports:doctor",
    ("cudalign.plan/1", "text"): "cudalign.render.plan:text",
    ("cudalign.plan/1", "json"): "cudalign.render.plan:json",
    ("cudalign.plan/1", "markdown"): "cudalign.render.plan:markdown",
    ("cudalign.plan/1", "html"): "cudalign.render.html_reports:plan",
    ("cudalign.scan/1", "text"): "cudalign.render.scan:text",
    ("cudalign.scan/1", "json"): _JSON,
    ("cudalign.scan/1", "markdown"): "cudalign.render.scan:markdown",
    ("cudalign.scan/1", "sarif"): _SARIF,
    ("cudalign.scan/1", "html"): "cudalign.render.html_reports:scan",
    ("cudalign.explain/1", "text"): "cudalign.render.explain:text",
    ("cudalign.explain/1", "json"): _JSON,
    ("cudalign.explain/1", "markdown"): "cudalign.render.explain:markdown",
    ("cudalign.diff/1", "text"): "cudalign.render.diff:text",
    ("cudalign.diff/1", "json"): "cudalign.render.diff:json",
    ("cudalign.diff/1", "markdown"): "cudalign.render.diff:markdown",
    ("cudalign.diff/1", "html"): "cudalign.render.html_diff:html",
    ("cudalign.runbook/1", "text"): "cudalign.render.runbook:text",
    ("cudalign.runbook/1", "json"): _JSON,
    ("cudalign.runbook/1", "markdown"): "cudalign.render.runbook:markdown",
    ("cudalign.runbook/1", "md"): "cudalign.render.runbook:markdown",
    ("cudalign.runbook/1", "sh"): "cudalign.render.runbook:sh",
    ("cudalign.matrix/1", "text"): "cudalign.render.matrix:text",
    ("cudalign.matrix/1", "json"): _JSON,
    ("cudalign.matrix/1", "markdown"): "cudalign.render.matrix:markdown",
    ("cudalign.matrix/1", "html"): "cudalign.render.html_matrix:html",
    ("cudalign.fleet/1", "text"): "cudalign.render.fleet:text",
    ("cudalign.fleet/1", "json"): "cudalign.render.fleet:json",
    ("cudalign.fleet/1", "markdown"): "cudalign.render.fleet:markdown",
    ("cudalign.gpus/1", "text"): "cudalign.render.gpus:text",
    ("cudalign.gpus/1", "json"): "cudalign.render.gpus:json",
    ("cudalign.gpus/1", "markdown"): "cudalign.render.gpus:markdown",
    ("cudalign.verify/1", "text"): "cudalign.render.verify:text",
    ("cudalign.verify/1", "json"): _JSON,
    ("cudalign.verify/1", "markdown"): "cudalign.render.verify:markdown",
}
"""Every rendering there is: (report schema, format) -> ``module:function``."""


def formats(schema: str) -> tuple[str, ...]:
    """The formats a report of this schema renders to."""
    return tuple(fmt for s, fmt in RENDERERS if s == schema)


def renderer(schema: str, fmt: str) -> Callable[[Report], str]:
    """The function that renders a report of ``schema`` as ``fmt``; ``ValueError`` when none does."""
    import importlib

    target = RENDERERS.get((schema, fmt))
    if target is None:
        raise ValueError(f"{schema} has no {fmt} output (it has: {', '.join(formats(schema)) or 'none'})")
    module, _, name = target.partition(":")
    fn: Callable[[Report], str] = getattr(importlib.import_module(module), name)
    return fn


def render_json(report: Report) -> str:
    """The canonical JSON: the report's fields, then its data."""
    body: dict[str, Any] = {"schema": report.schema}
    if report.verdict is not None:
        body["verdict"] = report.verdict.value
    if report.host is not None:
        body["host"] = report.host.to_json()
    if report.stack is not None:
        body["stack"] = to_jsonable(report.stack)
    body["findings"] = to_jsonable(report.findings)
    body.update(to_jsonable(report.data))
    return json.dumps(body, indent=2, sort_keys=False)


def render(report: Report, fmt: str) -> str:
    """The report in the given format."""
    result = renderer(report.schema, fmt)(report)
    return result if isinstance(result, str) else str(result)
