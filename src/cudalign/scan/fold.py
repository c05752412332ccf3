"""One cause, one finding: fold the findings a single cause produces into the finding of that cause.

A service's driver findings (CA101 for torch, CA102 for torchvision and xformers, CA401/CA402 for its
image, CA608 for the fleet) all say one thing, that the driver is too old for what the service runs, and
one upgrade fixes them all: they become one finding, the most severe, at the line of its cause, naming
what it folded. An unpinned package whose resolution today is what fails is one cause (the missing
pin), with the failure as its consequence. Unpinned packages of one install line are one finding. A
service off the repository's torch version is off its CUDA too: CA602 folds under CA601. A finding
that many services share (one requirements file, one line) is reported once, naming the services.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from cudalign.model import Finding

__all__ = ["fold"]

_DRIVER = ("CA101", "CA102", "CA401", "CA402", "CA608")
_PREFERENCE = {"CA401": 0, "CA101": 1, "CA402": 2, "CA608": 3, "CA102": 4}


def _at(f: Finding) -> tuple[str | None, str, int]:
    loc = f.location
    return (f.service, loc.file if loc else "", (loc.line or 0) if loc else 0)


def _where(f: Finding) -> str:
    return f"{f.location.file}:{f.location.line}" if f.location else "?"


def _rank(f: Finding) -> tuple[int, int]:
    return (-f.severity.rank, _PREFERENCE.get(f.code, 9))


def _folded(primary: Finding, others: Sequence[Finding]) -> Finding:
    if not others:
        return primary
    same = [o for o in others if _where(o) == _where(primary)]
    elsewhere = [o for o in others if _where(o) != _where(primary)]
    parts = [o.code for o in same] + [f"{o.code} at {_where(o)}" for o in elsewhere]
    severity = max((primary, *others), key=lambda f: f.severity.rank).severity
    facts = tuple(dict.fromkeys((*primary.facts, *(r for o in others for r in o.facts))))
    return replace(
        primary,
        severity=severity,
        message=f"{primary.message.rstrip('.')}. Same cause, folded here: {', '.join(dict.fromkeys(parts))}.",
        facts=facts,
    )


def _packages(f: Finding) -> list[str]:
    """The requirements a CA604 message names, each as quoted (``'torch>=2.8.0,<2.9.0', 'torchvision'
    are not pinned …``): a range's own commas stay inside its quotes."""
    import re

    head = f.message.split(" is not pinned", 1)[0].split(" are not pinned", 1)[0]
    return re.findall(r"'([^']*)'", head)


def _unpinned_together(findings: list[Finding]) -> list[Finding]:
    """A service's CA604s (one package on many lines, many packages on one): one finding, at the first
    line, naming every package and the other lines."""
    groups: dict[str | None, list[Finding]] = {}
    for f in findings:
        if f.code == "CA604":
            groups.setdefault(f.service, []).append(f)
    out: list[Finding] = []
    for f in findings:
        if f.code != "CA604":
            out.append(f)
            continue
        group = groups[f.service]
        if group[0] is not f:
            continue
        if len(group) == 1:
            out.append(f)
            continue
        names = list(dict.fromkeys(p for g in group for p in _packages(g)))
        quoted = ", ".join(f"'{n}'" for n in names)
        lines = list(dict.fromkeys(_where(g) for g in group[1:] if _where(g) != _where(f)))
        also = f" (also unpinned at {', '.join(lines)})" if lines else ""
        verb = "is" if len(names) == 1 else "are"
        out.append(
            replace(
                f,
                message=f"{quoted} {verb} not pinned{also}: each build may resolve other releases, with "
                "another CUDA runtime and driver requirement",
                fix="pin them exactly (name==<version>) or install from a lock file"
                if len(names) > 1
                else f.fix,
            )
        )
    return out


_CONSEQUENCES = (*("CA101", "CA102", "CA401", "CA402", "CA608"), "CA303", "CA304", "CA306", "CA501")


def _consequences_of_unpinned(findings: list[Finding]) -> list[Finding]:
    """What an unpinned package resolves to today (a driver, CUDA-major or library finding about that
    package) is the consequence of the missing pin: folded under it."""
    causes: dict[tuple[str | None, str], Finding] = {}
    for f in findings:
        if f.code == "CA604":
            for name in _packages(f):
                causes.setdefault((f.service, name), f)
    by_line = {_at(f): f for f in findings if f.code == "CA604"}
    out: list[Finding] = []
    under: dict[int, list[Finding]] = {}
    for f in findings:
        subject = f.message.split(" ", 1)[0]
        cause = None
        if f.code in _CONSEQUENCES:  # about the unpinned package, or about what it pulls in at its line
            cause = causes.get((f.service, subject)) or by_line.get(_at(f))
        if cause is not None:
            under.setdefault(id(cause), []).append(f)
        else:
            out.append(f)
    result = []
    for f in out:
        consequences = under.get(id(f))
        if consequences:
            worst = min(consequences, key=_rank)
            more = len(consequences) - 1
            f = replace(
                f,
                severity=max((f, *consequences), key=lambda g: g.severity.rank).severity,
                message=f"{f.message}; what it resolves to today fails: {worst.message.rstrip('.')}"
                + (f" (and {more} more finding{'s' if more > 1 else ''} of the same cause)" if more else ""),
                fix=f"{f.fix}, choosing a release the target supports ({worst.fix.rstrip('.')})",
                facts=tuple(dict.fromkeys((*f.facts, *(r for c in consequences for r in c.facts)))),
            )
        result.append(f)
    return result


def _driver_causes(findings: list[Finding]) -> list[Finding]:
    by_service: dict[str | None, list[Finding]] = {}
    for f in findings:
        if f.code in _DRIVER and f.unknown is None:
            by_service.setdefault(f.service, []).append(f)
    primary: dict[int, list[Finding]] = {}
    dropped: set[int] = set()
    for group in by_service.values():
        if len(group) < 2:
            continue
        head = min(group, key=_rank)
        primary[id(head)] = [g for g in group if g is not head]
        dropped.update(id(g) for g in group if g is not head)
    return [_folded(f, primary.get(id(f), ())) for f in findings if id(f) not in dropped]


def _drift_together(findings: list[Finding]) -> list[Finding]:
    torch_drift = {_at(f): f for f in findings if f.code == "CA601"}
    out = []
    for f in findings:
        if f.code == "CA602" and _at(f) in torch_drift:
            continue
        out.append(f)
    return out


def _shared(findings: list[Finding]) -> list[Finding]:
    """The same finding (rule, words) at several lines or for several services: once, at its first
    line, naming the other lines and services."""
    seen: dict[tuple[object, ...], int] = {}
    also: dict[int, list[Finding]] = {}
    out: list[Finding] = []
    for f in findings:
        key = (f.code, f.message, f.fix)
        if key in seen:
            also[seen[key]].append(f)
            continue
        seen[key] = len(out)
        also[len(out)] = []
        out.append(f)
    result = []
    for i, f in enumerate(out):
        others = also[i]
        services = [o.service for o in others if o.service and o.service != f.service]
        lines = [_where(o) for o in others if _where(o) != _where(f)]
        extra = []
        if lines:
            extra.append(f"also at {', '.join(dict.fromkeys(lines))}")
        if services:
            extra.append(f"also in {', '.join(dict.fromkeys(services))}")
        result.append(replace(f, message=f"{f.message} ({'; '.join(extra)})") if extra else f)
    return result


def fold(findings: Sequence[Finding]) -> list[Finding]:
    """Group findings by their root cause and report each cause once, at its line."""
    out = _unpinned_together(list(findings))
    out = _consequences_of_unpinned(out)
    out = _driver_causes(out)
    out = _drift_together(out)
    return _shared(out)
