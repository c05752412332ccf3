"""Renderings of a ``cudalign.diff/1`` report: the before/after table in text and Markdown, and JSON.

The report carries a :class:`~cudalign.diff.Diff` under ``data["diff"]``."""

from __future__ import annotations

import json as _json

from cudalign.diff import Diff
from cudalign.errors import CudalignError
from cudalign.model import Report

__all__ = ["diff_of", "json", "markdown", "text"]


def diff_of(report: Report) -> Diff:
    d = report.data.get("diff")
    if not isinstance(d, Diff):
        raise CudalignError("diff report without a diff")
    return d


def _v(value: str | None) -> str:
    return value if value is not None else "-"


def json(report: Report) -> str:
    return _json.dumps(diff_of(report).to_json(), indent=2)


def text(report: Report) -> str:
    d = diff_of(report)
    rows = [("", "before", "after", "needs")]
    rows += [(c.label, _v(c.before), _v(c.after), ", ".join(c.needs)) for c in d.changes]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out = [f"before: {d.before.name}", f"after:  {d.after.name}", ""]
    if not d.changes:
        out.append("no changes")
    for r in rows if d.changes else ():
        out.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    if d.unchanged:
        out += ["", "unchanged: " + ", ".join(d.unchanged)]
    if d.needs:
        out += ["", "needs: " + ", ".join(d.needs)]
    steps = [c.rollback for c in d.changes if c.rollback]
    if steps:
        out += ["", "rollback (back to before):"] + [f"  {i}. {s}" for i, s in enumerate(steps, 1)]
    return "\n".join(out) + "\n"


def markdown(report: Report) -> str:
    d = diff_of(report)
    out = ["### cudalign diff", "", f"**Before:** {d.before.name}  ", f"**After:** {d.after.name}", ""]
    if d.changes:
        out += ["| | before | after | needs |", "|---|---|---|---|"]
        out += [
            f"| {c.label} | `{_v(c.before)}` | `{_v(c.after)}` | {', '.join(c.needs)} |" for c in d.changes
        ]
    else:
        out.append("No changes.")
    if d.unchanged:
        out += ["", "Unchanged: " + ", ".join(d.unchanged)]
    steps = [c.rollback for c in d.changes if c.rollback]
    if steps:
        out += ["", "#### Rollback", ""] + [f"{i}. `{s}`" for i, s in enumerate(steps, 1)]
    return "\n".join(out) + "\n"
