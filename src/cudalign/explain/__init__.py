"""Error messages -> causes: match the knowledge base's signatures in text or a log, explain them for a host.

A signature (``[[signature]]`` in ``facts/data/signatures.toml``) is a regular expression with named
groups, the rule it corresponds to, and a generic meaning and fix. :func:`scan` finds each distinct cause
once, with the first line it appeared on and how often; :func:`explain` turns the matches into findings
whose sentences are specialised with what is known about the host (driver, GPUs, installed packages)
through :mod:`cudalign.facts.query`. Pure functions: the host is passed in, nothing is probed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cudalign.explain.context import _SPECIALISERS, _dedupe, _Detail, _fmt, _severity, _View, driver_text
from cudalign.explain.signatures import Match, Signature, match_line, rule_code, scan, signatures
from cudalign.model import FactRef, Finding, Host, Location, Report

if TYPE_CHECKING:
    from cudalign.facts import Facts

__all__ = [
    "RULE_CODES",
    "SCHEMA",
    "Match",
    "Signature",
    "driver_text",
    "explain",
    "match_line",
    "rule_code",
    "scan",
    "signatures",
]

SCHEMA = "cudalign.explain/1"


def __getattr__(name: str) -> dict[str, str]:
    """``RULE_CODES``: rule name -> code, from the catalogue (built on first use)."""
    if name == "RULE_CODES":
        from cudalign.rules import RULES

        return {r.name: r.code for r in RULES}
    raise AttributeError(name)


def explain(
    text: str,
    facts: Facts,
    host: Host | None = None,
    *,
    origin: str = "<text>",
    host_note: str | None = None,
) -> Report:
    """Find the causes in ``text`` (one message or a whole log) and explain each for ``host``."""
    lines = text.splitlines() or [text]
    matches = scan(lines, signatures(facts))
    view = _View(host, facts)
    findings: list[Finding] = []
    entries: list[dict[str, object]] = []
    for m in matches:
        sig = m.signature
        d = _Detail()
        special = _SPECIALISERS.get(sig.rule)
        if special is not None:
            special(view, m.groups, d)
        d.context = [c[:1].upper() + c[1:] for c in d.context]
        meaning = _fmt(sig.meaning, m.groups)
        fix = d.fix or _fmt(sig.fix, m.groups)
        refs = _dedupe([FactRef(sig.id, sig.source), *d.facts])
        message = f"{sig.title}: {meaning}"
        if d.context:
            label = "On this host:" if host is not None else "From the message:"
            message += f" {label} " + " ".join(d.context)
        findings.append(
            Finding(
                code=sig.code,
                name=sig.rule,
                severity=_severity(sig.rule),
                message=message,
                fix=fix,
                facts=refs,
                location=Location(file=origin, line=m.line),
            )
        )
        entries.append(
            {
                "signature": sig.id,
                "code": sig.code,
                "rule": sig.rule,
                "title": sig.title,
                "line": m.line,
                "count": m.count,
                "at": m.at,
                "text": m.text,
                "groups": dict(m.groups),
                "meaning": meaning,
                "host_context": list(d.context),
                "fix": fix,
                "related_rules": [{"code": rule_code(r), "name": r} for r in d.related],
                "source": sig.source,
            }
        )
    data: dict[str, object] = {
        "input": {"origin": origin, "lines": len(lines)},
        "recognised": bool(matches),
        "matches": entries,
    }
    if host_note:
        data["host_note"] = host_note
    return Report(schema=SCHEMA, host=host, findings=tuple(findings), data=data)
