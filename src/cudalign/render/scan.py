"""Text and Markdown renderings of a scan report (schema ``cudalign.scan/1``), grouped by service."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from cudalign.model import Finding, Report

__all__ = ["markdown", "text"]

_REPO = "(repository)"


def _groups(report: Report) -> list[tuple[str, Mapping[str, Any] | None, list[Finding]]]:
    services = {s["name"]: s for s in report.data.get("services", [])}
    by: dict[str, list[Finding]] = {}
    for f in report.findings:
        by.setdefault(f.service or _REPO, []).append(f)
    order = [n for n in services if n in by] + [n for n in by if n not in services]
    quiet = [n for n in services if n not in by]
    return [(n, services.get(n), by[n]) for n in order] + [(n, services[n], []) for n in quiet]


def _where(f: Finding) -> str:
    if f.location is None:
        return ""
    return f"{f.location.file}:{f.location.line}" if f.location.line else f.location.file


def _summary(s: Mapping[str, Any] | None) -> str:
    if not s:
        return ""
    parts = []
    if s.get("image"):
        parts.append(f"image {s['image']}")
    if s.get("torch"):
        parts.append(f"torch {s['torch']}")
    if s.get("cuda"):
        parts.append(f"CUDA {s['cuda']}")
    if s.get("gpu"):
        parts.append("GPU")
    return " · ".join(parts)


def _counts(report: Report) -> str:
    c = Counter(f.severity.value for f in report.findings)
    inner = ", ".join(
        f"{c[k]} {k}{'s' if c[k] != 1 and k != 'info' else ''}" for k in ("error", "warning", "info") if c[k]
    )
    n = len(report.findings)
    return f"{n} finding{'s' if n != 1 else ''}" + (f" ({inner})" if inner else "")


def text(report: Report) -> str:
    """Findings grouped by service, then notes."""
    data = report.data
    services = data.get("services", [])
    lines = [
        f"cudalign scan {data.get('root', '')}: {len(services)} service{'s' if len(services) != 1 else ''}, "
        f"{len(data.get('files', []))} files, {_counts(report)}"
        + (f", {data['suppressed']} suppressed" if data.get("suppressed") else "")
    ]
    if data.get("fleet_driver"):
        lines.append(f"fleet driver: {data['fleet_driver']}")
    quiet: list[str] = []
    for name, svc, findings in _groups(report):
        if not findings and not (svc and svc.get("gpu")):
            quiet.append(name)  # services with no known GPU stack and nothing to say: one line for all
            continue
        lines.append("")
        head = name + (f"  [{svc['context']}]" if svc and svc.get("context") not in (None, ".") else "")
        summary = _summary(svc)
        lines.append(head + (f"  {summary}" if summary else ""))
        if not findings:
            lines.append("  no findings")
        for f in findings:
            lines.append(f"  {f.severity.value:<7} {f.code} {f.name}  {_where(f)}")
            lines.append(f"          {f.message}")
            lines.append(f"          fix: {f.fix}")
    if quiet:
        lines.append("")
        lines.append(f"no findings: {', '.join(quiet)}")
    notes = data.get("notes", [])
    if notes:
        lines.append("")
        lines.append("notes:")
        lines.extend(f"  - {n}" for n in notes)
    return "\n".join(lines) + "\n"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def markdown(report: Report) -> str:
    """A Markdown report: a services table, then each service's findings as a table."""
    data = report.data
    out = [f"# cudalign scan: {_counts(report)}", ""]
    services = data.get("services", [])
    if services:
        out += ["| service | files | image | torch | CUDA |", "|---|---|---|---|---|"]
        for s in services:
            out.append(
                f"| {_cell(s['name'])} | {len(s.get('files', []))} | {_cell(s.get('image') or '')} | "
                f"{_cell(s.get('torch') or '')} | {s.get('cuda') or ''} |"
            )
        out.append("")
    for name, _svc, findings in _groups(report):
        if not findings:
            continue
        out += [
            f"## {_cell(name)}",
            "",
            "| severity | rule | where | message | fix |",
            "|---|---|---|---|---|",
        ]
        for f in findings:
            out.append(
                f"| {f.severity.value} | {f.code} {f.name} | `{_cell(_where(f))}` | "
                f"{_cell(f.message)} | {_cell(f.fix)} |"
            )
        out.append("")
    notes = data.get("notes", [])
    if notes:
        out += ["## Notes", ""] + [f"- {_cell(n)}" for n in notes] + [""]
    return "\n".join(out)
