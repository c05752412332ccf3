"""``cudalign.verify/1`` as text and Markdown: the checklist with timings, then the findings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cudalign.model import Report

__all__ = ["markdown", "text"]

_MARKS = {"pass": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def _checks(report: Report) -> list[Any]:
    return list(report.data.get("checks", ()))


def _seconds(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.1f} s"


def _static_lines(report: Report) -> list[str]:
    static = report.data.get("static")
    if not static:
        return []
    lines = []
    for v in static.get("verdicts", ()):
        if v.how == "jit":
            lines.append(f"  served by JIT: {v.library} ({v.code}) on GPU {v.gpu}")
    return lines


def _endpoint_lines(data: Mapping[str, Any], md: bool) -> list[str]:
    load = data.get("load") or {}
    lines: list[str] = []
    metrics = load.get("metrics") or {}
    if metrics:
        head = (
            "| metric | p50 | p90 | p99 | mean |"
            if md
            else "metric                 p50       p90       p99      mean"
        )
        lines += ["", head] + (["|---|---:|---:|---:|---:|"] if md else [])
        for name, row in metrics.items():
            cells = [
                f"{row.get(k):.1f}" if isinstance(row.get(k), (int, float)) else "-"
                for k in ("p50", "p90", "p99", "mean")
            ]
            lines.append(
                f"| {name} | " + " | ".join(cells) + " |"
                if md
                else f"{name:<20}" + "".join(f"{c:>10}" for c in cells)
            )
    summary = load.get("summary") or {}
    if summary:
        lines.append("")
        lines += [f"{'- ' if md else ''}{k}: {v}" for k, v in summary.items()]
    errors = load.get("errors") or {}
    if errors:
        lines.append("")
        lines.append(
            ("**errors by kind:** " if md else "errors by kind: ")
            + ", ".join(f"{k} {n}" for k, n in errors.items())
        )
    compare = data.get("compare")
    if compare:
        lines += ["", "| metric | before | after | change |" if md else "before/after:"]
        if md:
            lines.append("|---|---:|---:|---:|")
        for row in compare:
            cells = [str(row["metric"]), _num(row["before"]), _num(row["after"]), str(row["change"])]
            lines.append(
                "| " + " | ".join(cells) + " |"
                if md
                else f"  {cells[0]:<26}{cells[1]:>10}{cells[2]:>10}{cells[3]:>10}"
            )
    return lines


def _num(v: Any) -> str:
    return f"{v:.1f}" if isinstance(v, (int, float)) else "-"


def _findings(report: Report, md: bool) -> list[str]:
    lines = []
    for f in report.findings:
        head = f"{f.code} {f.name}" if f.code else "failed"
        lines.append(f"{'- **' if md else ''}{head}{'**' if md else ''}: {f.message}")
        if f.fix:
            lines.append(f"  fix: {f.fix}")
    return lines


def _rows(checks: Sequence[Any]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for c in checks:
        rule = f" [{c.rule}]" if c.rule else ""
        rows.append(
            (_MARKS.get(c.status, c.status), c.title, c.detail + rule, _seconds(c.seconds), c.fix or "")
        )
    return rows


def text(report: Report) -> str:
    lines = []
    for mark, title, detail, secs, fix in _rows(_checks(report)):
        lines.append(f"{mark:<5} {title}  ({secs})")
        lines.append(f"      {detail}")
        if fix:
            lines.append(f"      fix: {fix}")
    lines += _static_lines(report)
    if "endpoint" in report.data:
        lines += _endpoint_lines(report.data["endpoint"], md=False)
    if report.findings:
        lines += ["", "Findings:", *_findings(report, md=False)]
    verdict = report.verdict.value if report.verdict else "unknown"
    if not report.data.get("complete", True):
        verdict += " (the payload did not finish)"
    lines += ["", f"verify: {verdict}"]
    return "\n".join(lines) + "\n"


def markdown(report: Report) -> str:
    lines = ["| | check | result | time |", "|---|---|---|---:|"]
    for mark, title, detail, secs, _fix in _rows(_checks(report)):
        lines.append(f"| {mark} | {title} | {detail.replace('|', '/')} | {secs} |")
    lines += _static_lines(report)
    if "endpoint" in report.data:
        lines += _endpoint_lines(report.data["endpoint"], md=True)
    if report.findings:
        lines += ["", "**Findings**", "", *_findings(report, md=True)]
    lines += ["", f"verify: **{report.verdict.value if report.verdict else 'unknown'}**"]
    return "\n".join(lines) + "\n"
