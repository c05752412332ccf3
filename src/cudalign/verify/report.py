"""A verify run as one report: the checklist, the static reading of compiled code, benchmark ratios.

Pure: every figure is passed in (the payload's checks, the libraries read from disk, the datasheet
figures the knowledge base holds for each GPU). A failed check becomes a finding under the rule it
confirms, with the fix; a library without code for a GPU becomes one finding naming the library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cudalign.model import FactRef, Finding, Host, Report, Severity, Verdict
from cudalign.verify.checks import Check
from cudalign.verify.static import GpuTarget, LibraryCode
from cudalign.verify.static import Verdict as LibVerdict

__all__ = ["DEGRADED", "SCHEMA", "Datasheet", "bench_ratios", "build", "static_check"]

SCHEMA = "cudalign.verify/1"

DEGRADED = 0.7
"""A measured figure below this share of the datasheet's marks the card as worth a look (a healthy H200
gives about 0.9 of its copy bandwidth and 0.8 of its dense bf16 rate through PyTorch)."""

_FIXES: Mapping[str, str] = {
    "CA201": "Install a build of that package compiled for the GPU's architecture (or with PTX below it).",
    "CA202": "Install an older build of that package that still targets the GPU, or use a newer GPU.",
    "CA103": "Upgrade the driver to one whose CUDA version is at least the PTX's, or install a build with "
    "machine code for the GPU.",
}


@dataclass(frozen=True, slots=True)
class Datasheet:
    """A GPU's datasheet figures from the knowledge base, with the fact they come from."""

    memory_bandwidth_gbs: float | None
    bf16_dense_tflops: float | None
    fact: FactRef | None = None


def bench_ratios(check: Check, sheet: Datasheet | None) -> Check:
    """A benchmark check with each figure as a ratio to the datasheet's; ``warn`` when one is low."""
    if check.status != "pass" or sheet is None:
        return check
    data = dict(check.data)
    notes = []
    low = []
    for figure, ref, label in (
        ("copy_gbs", sheet.memory_bandwidth_gbs, "memory bandwidth"),
        ("bf16_tflops", sheet.bf16_dense_tflops, "dense bf16"),
    ):
        value = data.get(figure)
        if not isinstance(value, (int, float)) or not ref:
            continue
        ratio = value / ref
        data[f"{figure}_datasheet"] = ref
        data[f"{figure}_ratio"] = round(ratio, 3)
        notes.append(
            f"{ratio:.2f} of the datasheet's {ref:g} {'GB/s' if figure == 'copy_gbs' else 'TFLOP/s'}"
        )
        if ratio < DEGRADED:
            low.append(label)
    if sheet.fact is not None:
        data["datasheet_fact"] = sheet.fact.id
        data["datasheet_source"] = sheet.fact.source
    detail = check.detail + ("; " + ", ".join(notes) if notes else "")
    if low:
        detail += f"; below {DEGRADED:g} of the datasheet ({', '.join(low)}): a degraded or throttled card?"
        return replace(check, status="warn", detail=detail, data=data)
    return replace(check, detail=detail, data=data)


def static_check(
    libs: Sequence[LibraryCode], verdicts: Sequence[LibVerdict], gpus: Sequence[GpuTarget]
) -> Check:
    """One checklist line for the compiled code of every library."""
    unread = [lib for lib in libs if lib.error]
    bad = [v for v in verdicts if v.rule]
    jit = [v for v in verdicts if v.how == "jit"]
    parts = [f"{len(libs)} libraries carry GPU code"]
    for g in gpus:
        mine = [v for v in verdicts if v.gpu == g.index]
        n_sass = sum(v.how == "sass" for v in mine)
        n_jit = sum(v.how == "jit" for v in mine)
        n_bad = sum(v.rule is not None for v in mine)
        parts.append(
            f"GPU {g.index} sm_{g.cc[0]}{g.cc[1]}: {n_sass} machine code, {n_jit} served by JIT, "
            f"{n_bad} without"
        )
    status = "fail" if bad else ("warn" if unread else "pass")
    if not gpus:
        status = "skip" if not unread else "warn"
        parts.append("no GPU to judge against (give --gpu NAME)")
    data = {
        "libraries": len(libs),
        "unreadable": [lib.error for lib in unread],
        "jit": [f"{v.library} ({v.code}) on GPU {v.gpu}" for v in jit],
    }
    return Check("static", "compiled GPU code in site-packages", status, "; ".join(parts), None, data)


def _finding_from_check(c: Check, facts: Sequence[FactRef]) -> Finding:
    code, _, name = (c.rule or "").partition(" ")
    return Finding(
        code=code,
        name=name,
        severity=Severity.ERROR,
        message=f"{c.title}: {c.detail}",
        fix=c.fix or "",
        facts=tuple(facts),
    )


def _finding_from_verdict(v: LibVerdict) -> Finding:
    code, _, name = (v.rule or "").partition(" ")
    return Finding(code, name, Severity.ERROR, v.message or "", _FIXES.get(code, ""))


def build(
    host: Host | None,
    checks: Sequence[Check],
    *,
    libs: Sequence[LibraryCode] = (),
    verdicts: Sequence[LibVerdict] = (),
    gpus: Sequence[GpuTarget] = (),
    info: Mapping[str, Any] | None = None,
    endpoint: Mapping[str, Any] | None = None,
    complete: bool = True,
    facts: Sequence[FactRef] = (),
) -> Report:
    """The ``cudalign.verify/1`` report: checks in order, findings for every failure."""
    findings = [
        _finding_from_check(c, facts) for c in checks if c.status == "fail" and c.rule and c.id != "static"
    ]
    findings += [_finding_from_verdict(v) for v in verdicts if v.rule]
    failed = any(c.status == "fail" for c in checks) or not complete
    # every failed or warned check counts for --fail-on, the ones no rule explains too
    exit_on = tuple(f.severity for f in findings) + tuple(
        Severity.ERROR if c.status == "fail" else Severity.WARNING
        for c in checks
        if c.status in ("fail", "warn")
    )
    data: dict[str, Any] = {
        "info": dict(info or {}),
        "complete": complete,
        "checks": list(checks),
    }
    if libs or gpus:
        data["static"] = {
            "gpus": list(gpus),
            "libraries": list(libs),
            "verdicts": [v for v in verdicts if v.how != "sass"],
        }
    if endpoint is not None:
        data["endpoint"] = dict(endpoint)
    return Report(
        schema=SCHEMA,
        verdict=Verdict.FAILS if failed else Verdict.OK,
        host=host,
        findings=tuple(findings),
        data=data,
        exit_on=exit_on,
    )
