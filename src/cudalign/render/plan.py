"""Renderings of a ``cudalign.plan/1`` report: matrices A, B, C … and rejected families.

The report carries a :class:`~cudalign.model.Plan` under ``data["plan"]``; every rendering reads its typed
fields. The JSON form lists the plan's fields after the report's (a matrix without its resolved stack).
"""

from __future__ import annotations

from typing import Any

from cudalign._dataclass import replace
from cudalign.errors import CudalignError
from cudalign.model import Matrix, Plan, Report, to_jsonable
from cudalign.render.check import describe_host

__all__ = ["json", "markdown", "plan_json", "plan_of", "text"]


def plan_of(report: Report) -> Plan:
    """The plan a ``cudalign.plan/1`` report carries."""
    plan = report.data.get("plan")
    if not isinstance(plan, Plan):
        raise CudalignError("plan report without a plan")
    return plan


def _matrix_json(m: Matrix) -> dict[str, Any]:
    out = to_jsonable(m)
    assert isinstance(out, dict)
    out.pop("stack")
    return out


def plan_json(plan: Plan) -> dict[str, Any]:
    """The plan's fields as ``plan --json`` writes them after the report's own."""
    return {
        "requirements": list(plan.requirements),
        "no_driver_change": plan.no_driver_change,
        "matrices": [_matrix_json(m) for m in plan.matrices],
        "rejected": to_jsonable(plan.rejected),
        "considered": plan.considered,
    }


def json(report: Report) -> str:
    from cudalign.render import render_json

    return render_json(replace(report, data=plan_json(plan_of(report))))


def _rows(m: Matrix) -> list[tuple[str, str]]:
    drv = m.driver or "?"
    if m.driver_assumed:
        since = f"from {drv} " if "." in drv else ""
        driver = f"{m.driver_branch} {since}(driver not given: any {m.driver_branch} driver "
        driver += "from this release)" if since else "will do)"
    elif m.driver_change:
        driver = f"upgrade to {drv} ({m.driver_branch}), reboot needed; runbook: {m.runbook}"
    else:
        driver = f"keep {drv} ({m.driver_branch}), no reboot"
    rows = [
        ("driver", driver),
        (
            "CUDA",
            f"{m.cuda or '-'} (torch runtime)" + (f", vLLM built with {m.vllm_cuda}" if m.vllm_cuda else ""),
        ),
        ("torch", f"{m.torch or '-'}" + (f"  index {m.torch_index}" if m.torch_index else "")),
    ]
    if m.vllm:
        rows.append(("vLLM", str(m.vllm)))
    rows += [
        ("Python", m.python or "any"),
        ("base image", m.image or "none found that passes on this driver"),
        *(("image rejected", f"{r.family}: {r.code} {r.name}: {r.reason}") for r in m.images_rejected),
        ("install (uv)", m.install_uv),
        ("install (pip)", m.install_pip),
        ("verdict", m.verdict.value),
    ]
    for c in m.caveats:
        rows.append(("caveat", c))
    return rows


def text(report: Report) -> str:
    plan = plan_of(report)
    out = []
    if report.host is not None:
        out.append(f"host: {describe_host(report.host)}")
    out.append(f"asked: {' '.join(plan.requirements)}")
    if not plan.matrices:
        out.append("\nno matrix runs on this host.")
    for m in plan.matrices:
        out.append(f"\nMatrix {m.label}")
        for k, v in _rows(m):
            out.append(f"  {k + ':':<15} {v}")
    if plan.rejected:
        out.append("\nrejected:")
        for r in plan.rejected:
            out.append(f"  {r.family}: {r.code} {r.name}: {r.reason}")
    out.append(f"\n({plan.considered} candidates checked)")
    return "\n".join(out) + "\n"


def markdown(report: Report) -> str:
    plan = plan_of(report)
    out = ["### cudalign plan", ""]
    if report.host is not None:
        out.append(f"**Host:** {describe_host(report.host)}")
        out.append("")
    for m in plan.matrices:
        out.append(f"#### Matrix {m.label}")
        out.append("| | |")
        out.append("|---|---|")
        for k, v in _rows(m):
            out.append(f"| {k} | {v.replace('|', chr(92) + '|')} |")
        out.append("")
    if plan.rejected:
        out.append("#### Rejected")
        for r in plan.rejected:
            out.append(f"- **{r.family}**: `{r.code}` {r.name}: {r.reason}")
    return "\n".join(out) + "\n"
