"""Text and Markdown renderings of an explain report (``cudalign.explain/1``)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from cudalign.model import Host, Report

__all__ = ["markdown", "text"]

_WIDTH = 100


def _host_line(host: Host | None, note: str | None) -> str:
    if host is None:
        return note or "host: unknown"
    gpus = ", ".join(g.name for g in host.gpus) or "no GPU"
    has_driver = host.driver is not None and host.driver.version
    if host.driver is not None and has_driver:
        driver = f"driver {host.driver.version}"
    else:  # a described or recorded host without a driver has one nobody stated
        driver = "no NVIDIA driver" if host.origin == "probe" else "driver not given"
    where = {"probe": "this machine", "file": "recorded host", "described": "described host"}.get(
        host.origin, host.origin
    )
    return f"host ({where}): {gpus}; {driver}"


def _matches(report: Report) -> list[Mapping[str, Any]]:
    raw = report.data.get("matches", [])
    return [m for m in raw if isinstance(m, Mapping)]


def _summary(report: Report) -> str:
    info = report.data.get("input", {})
    origin = info.get("origin", "<text>") if isinstance(info, Mapping) else "<text>"
    lines = info.get("lines", 0) if isinstance(info, Mapping) else 0
    n = len(_matches(report))
    what = "message" if origin in ("<text>", "<stdin>") and lines <= 3 else f"{origin} ({lines} lines)"
    if n == 0:
        return f"cudalign explain: no known error signature in {what}"
    return f"cudalign explain: {n} cause{'s' if n != 1 else ''} in {what}"


def _wrap(label: str, body: str) -> list[str]:
    return textwrap.wrap(body, _WIDTH, initial_indent=f"  {label}", subsequent_indent="    ")


def _quote(line: str, at: int, width: int = _WIDTH - 4) -> str:
    """The part of a log line that holds the message: from a little before it, shortened to the width."""
    begin = 0 if at < width // 3 else line.rfind(" ", 0, at - 12) + 1
    part = ("…" if begin else "") + line[begin:]
    return part if len(part) <= width else part[: width - 1] + "…"


def text(report: Report) -> str:
    """The human report: one block per cause, with the line it was first seen on."""
    out = [_summary(report), _host_line(report.host, _note(report)), ""]
    for m in _matches(report):
        count = f", {m['count']}x" if int(m.get("count", 1)) > 1 else ""
        sev = f" [{m['severity']}]" if m.get("severity") and m["severity"] != "error" else ""
        out.append(f"{m['code']} {m['rule']}{sev}  (line {m['line']}{count})  {m['title']}")
        out.append(f"  > {_quote(str(m['text']), int(m.get('at', 0)))}")
        for c in m.get("consequences", []):
            times = f", {c['count']}x" if int(c.get("count", 1)) > 1 else ""
            out.append(f"  then (line {c['line']}{times}): {c['title']}, a consequence of this cause")
        out.extend(_wrap("meaning: ", str(m["meaning"])))
        if m.get("host_context"):
            label = "on this host: " if report.host is not None else "from the message: "
            out.extend(_wrap(label, " ".join(m["host_context"])))
        out.extend(_wrap("fix: ", str(m["fix"])))
        for r in m.get("related_rules", []):
            out.append(f"  see also: {r['code']} {r['name']}")
        out.append(f"  source: {m['source']}")
        out.append("")
    if not _matches(report):
        out.append("Nothing recognised. Paste the first error line of the traceback, or scan the whole log:")
        out.append("  cudalign explain --log FILE")
    return "\n".join(out).rstrip() + "\n"


def _note(report: Report) -> str | None:
    note = report.data.get("host_note")
    return str(note) if note else None


def markdown(report: Report) -> str:
    """The same report as Markdown, for an issue comment or a runbook."""
    out = [f"## {_summary(report)}", "", f"_{_host_line(report.host, _note(report))}_", ""]
    for m in _matches(report):
        count = f" ({m['count']} lines)" if int(m.get("count", 1)) > 1 else ""
        out.append(f"### {m['code']} `{m['rule']}`: {m['title']}")
        out.append("")
        out.append(f"Line {m['line']}{count}:")
        out.append("")
        out.append("```")
        out.append(str(m["text"]))
        out.append("```")
        out.append("")
        for c in m.get("consequences", []):
            out.append(f"Then, line {c['line']}: {c['title']} (a consequence of this cause).")
            out.append("")
        out.append(f"**Meaning.** {m['meaning']}")
        if m.get("host_context"):
            out.append("")
            label = "On this host" if report.host is not None else "From the message"
            out.append(f"**{label}.** {' '.join(m['host_context'])}")
        out.append("")
        out.append(f"**Fix.** {m['fix']}")
        out.append("")
        out.append(f"Source: <{m['source']}>")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
