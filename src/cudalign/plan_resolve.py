"""``plan --resolve``: each proposed matrix resolved by the real installer, its conflicts judged, re-ranked.

A matrix is the plan's pins (torch's build and index, vLLM and its index, the user's other requirements
as written). :func:`~cudalign.stack.uvresolve.closure` runs ``uv pip compile`` on them for the host's
Python and platform, with the matrix's torch backend; what it reports (no solution, a release whose
``Requires-Python`` excludes the host's Python) is added to the matrix's stack and the rules run again.
A matrix the installer cannot resolve falls to the rejected list with the resolver's reason; one that
gains only warnings stays, after those that gained none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from cudalign.model import Finding, Host, Matrix, Plan, Rejection, Severity, Verdict
from cudalign.plan import with_driver
from cudalign.rules import check, verdict

if TYPE_CHECKING:
    from cudalign.facts import Facts
    from cudalign.facts.pypi import PyPIClient
    from cudalign.stack.uvresolve import UvRunner

__all__ = ["matrix_requirements", "resolve_plan"]


def _name(text: str) -> str | None:
    try:
        return str(canonicalize_name(Requirement(text).name))
    except InvalidRequirement:
        return None


def matrix_requirements(plan: Plan, matrix: Matrix) -> list[str]:
    """What the installer is asked for a matrix: its pins, then the user's other requirements as written."""
    pins = [r for r in matrix.requirements if not r.startswith("-")]
    pinned = {_name(p) for p in pins}
    return pins + [r for r in plan.requirements if _name(r) not in pinned]


def _mirror(url: str | None, mirrors: Mapping[str, str]) -> str | None:
    if url is None:
        return None
    for prefix, there in mirrors.items():
        if url.startswith(prefix):
            return there + url[len(prefix) :]
    return url


def resolve_plan(
    plan: Plan,
    facts: Facts,
    host: Host,
    *,
    features: Sequence[str] = (),
    run: UvRunner | None = None,
    client: PyPIClient | None = None,
    index: str | None = None,
    mirrors: Mapping[str, str] | None = None,
) -> Plan:
    """The plan with every matrix resolved by uv (see the module); labels follow the new order.

    ``index`` replaces PyPI and ``mirrors`` maps an index URL prefix (vLLM's, PyPI's torch index) to where
    it is served instead (a mirror, or local indexes in tests)."""
    from cudalign.stack.uvresolve import closure

    mirrors = mirrors or {}
    kept: list[tuple[bool, bool, int, Matrix]] = []
    rejected: list[Rejection] = []
    for i, m in enumerate(plan.matrices):
        vllm, torch = m.stack.component("vllm"), m.stack.component("torch")
        vllm_index = vllm.index_url if vllm is not None and vllm.index_url else None
        # PyPI's torch wheel is the build of its default variant: PyPI serves it (as plain pip would)
        wanted = m.torch_index if torch is not None and torch.index_url else None
        torch_index = _mirror(wanted, mirrors)
        got = closure(
            matrix_requirements(plan, m),
            host,
            index_url=wanted,
            client=client,
            index=index,
            run=run,
            extra_index_urls=[u for u in (_mirror(vllm_index, mirrors),) if u],
            torch_index=torch_index if torch_index != wanted else None,
        )
        resolved = dict(got.pins)
        stack = dataclasses.replace(
            m.stack,
            conflicts=(*m.stack.conflicts, *got.conflicts),
            unknown={k: v for k, v in m.stack.unknown.items() if k not in resolved},
        )
        judged_on = host
        if m.driver and (host.driver is None or host.driver.version != m.driver):
            judged_on = with_driver(host, facts, m.driver)
        findings = check(judged_on, stack, facts, features=features)
        before = {(f.code, f.message) for f in m.findings}
        new = [f for f in findings if (f.code, f.message) not in before]
        blocking = [f for f in new if f.severity is Severity.ERROR or f.unknown]
        if blocking:
            rejected.append(_rejection(m, blocking[0]))
            continue
        warnings = [f for f in new if f.severity is Severity.WARNING]
        v = verdict(findings, stack)
        if m.verdict is Verdict.CAVEATS or warnings:
            v = Verdict.CAVEATS
        elif v not in (Verdict.OK, Verdict.CAVEATS):
            v = m.verdict  # a matrix the plan admitted on other grounds (its image): only new findings count
        caveats = (*m.caveats, *(f"{f.code} {f.name}: {f.message}" for f in warnings))
        matrix = dataclasses.replace(m, stack=stack, findings=findings, verdict=v, caveats=caveats)
        kept.append((m.driver_change, bool(warnings), i, matrix))
    kept.sort(key=lambda t: t[:3])
    labelled = tuple(dataclasses.replace(t[3], label=chr(ord("A") + n)) for n, t in enumerate(kept))
    return dataclasses.replace(plan, matrices=labelled, rejected=(*rejected, *plan.rejected))


def _rejection(m: Matrix, finding: Finding) -> Rejection:
    family = " + ".join(
        part for part in (f"vllm {m.vllm}" if m.vllm else "", f"torch {m.torch}" if m.torch else "") if part
    )
    reason = finding.message if not finding.unknown else f"unknown: {finding.unknown}"
    return Rejection(
        family or "stack",
        finding.code,
        finding.name,
        f"{reason.rstrip('.')} (the installer's resolution, uv)",
    )
