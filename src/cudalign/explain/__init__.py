"""Error messages -> causes: match the knowledge base's signatures in text or a log, explain them for a host.

A signature (``[[signature]]`` in ``facts/data/signatures.toml``) is a regular expression with named
groups, the rule it corresponds to, and a generic meaning and fix. :func:`scan` finds each distinct cause
once, with the first line it appeared on and how often; :func:`explain` turns the matches into findings
whose sentences are specialised with what is known about the host (driver, GPUs, installed packages)
through :mod:`cudalign.facts.query`. Pure functions: the host is passed in, nothing is probed here.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    "fold",
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


_RANK = {"error": 0, "warning": 1, "info": 2}


def fold(matches: Sequence[Match]) -> tuple[list[Match], dict[str, list[Match]]]:
    """The causes in the order they matter, and the consequences folded under them.

    A message whose signature names families it is a consequence of (onnxruntime's 'Failed to create
    CUDAExecutionProvider' after the provider library failed to load) is folded under the first cause of
    such a family in the same input. The causes are then ordered errors first, each group by first line.
    """
    folded: dict[str, list[Match]] = {}
    roots: list[Match] = []
    for m in matches:
        parents = m.signature.consequence_of
        causes = (r for r in matches if r is not m and r.signature.family in parents)
        root = next((r for r in causes if not _explained(r, matches)), None)
        if root is None:
            roots.append(m)
        else:
            folded.setdefault(root.signature.id + "\0" + root.groups.get("library", ""), []).append(m)
    roots.sort(key=lambda m: (_RANK.get(m.signature.severity or "error", 0), m.line))
    return roots, folded


def _explained(m: Match, matches: Sequence[Match]) -> bool:
    """Whether ``m`` is itself folded under another cause (a consequence is never a root for another)."""
    parents = m.signature.consequence_of
    return any(r is not m and r.signature.family in parents for r in matches)


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
    roots, folded = fold(scan(lines, signatures(facts), text=text))
    view = _View(host, facts)
    findings: list[Finding] = []
    entries: list[dict[str, object]] = []
    for m in roots:
        sig = m.signature
        d = _Detail()
        special = _SPECIALISERS.get(sig.rule)
        if special is not None:
            fix = _fmt(sig.fix, m.groups)
            context = {"_family": sig.family, "_feature": sig.feature, "_fix": fix, "_id": sig.id}
            special(view, {**m.groups, **context}, d)
        d.context = [c[:1].upper() + c[1:] for c in d.context]
        meaning = _fmt(sig.meaning, m.groups)
        fix = d.fix or _fmt(sig.fix, m.groups)
        refs = _dedupe([FactRef(sig.id, sig.source), *d.facts])
        message = f"{sig.title}: {meaning}"
        if d.context:
            label = "On this host:" if host is not None else "From the message:"
            message += f" {label} " + " ".join(d.context)
        severity = _severity(sig.rule, sig.severity)
        findings.append(
            Finding(
                code=sig.code,
                name=sig.rule,
                severity=severity,
                message=message,
                fix=fix,
                facts=refs,
                location=Location(file=origin, line=m.line),
            )
        )
        entries.append(
            {
                "signature": sig.id,
                "family": sig.family,
                "severity": severity.value,
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
                "consequences": [
                    {
                        "signature": c.signature.id,
                        "title": c.signature.title,
                        "line": c.line,
                        "count": c.count,
                        "text": c.text,
                    }
                    for c in folded.get(sig.id + "\0" + m.groups.get("library", ""), ())
                ],
            }
        )
    data: dict[str, object] = {
        "input": {"origin": origin, "lines": len(lines)},
        "recognised": bool(roots),
        "matches": entries,
    }
    if host_note:
        data["host_note"] = host_note
    return Report(schema=SCHEMA, host=host, findings=tuple(findings), data=data)
