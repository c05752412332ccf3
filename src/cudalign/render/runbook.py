"""Renderings of a runbook report (``cudalign.runbook/1``): Markdown (also as text) and a bash script."""

from __future__ import annotations

from cudalign.errors import CudalignError
from cudalign.model import Report
from cudalign.runbook import Runbook

__all__ = ["markdown", "md", "sh", "text"]


def _runbook(report: Report) -> Runbook:
    rb = report.data.get("runbook")
    if not isinstance(rb, Runbook):
        raise CudalignError("runbook report without a runbook")
    return rb


def markdown(report: Report) -> str:
    from cudalign.render.runbook_md import render_markdown

    return render_markdown(_runbook(report))


def md(report: Report) -> str:
    return markdown(report)


def text(report: Report) -> str:
    """The Markdown document is the human rendering."""
    return markdown(report)


def sh(report: Report) -> str:
    from cudalign.render.runbook_sh import render_shell

    return render_shell(_runbook(report))
