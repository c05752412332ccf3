"""Report renderers: one dispatch from a format name to ``render_<fmt>``.

JSON and SARIF are generic over every report; text, Markdown and HTML come from the module named for
the command (``cudalign.render.<command>``, the part of the schema between ``cudalign.`` and ``/``), which
defines ``text(report)``, and where supported ``markdown(report)`` and ``html(report)``.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from cudalign.model import Report, to_jsonable

__all__ = ["FORMATS", "command_of", "render", "render_json"]

FORMATS = ("text", "json", "markdown", "sarif", "html")


def command_of(report: Report) -> str:
    return report.schema.split(".", 1)[1].split("/", 1)[0]


def render_json(report: Report) -> str:
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
    if fmt == "json":
        return render_json(report)
    if fmt == "sarif":
        sarif = importlib.import_module("cudalign.render.sarif")
        return str(sarif.render_sarif(report))
    module = importlib.import_module(f"cudalign.render.{command_of(report)}")
    fn = getattr(module, fmt.replace("-", "_"), None)
    if fn is None:
        raise ValueError(f"{command_of(report)} has no {fmt} output")
    result = fn(report)
    assert isinstance(result, str)
    return result
