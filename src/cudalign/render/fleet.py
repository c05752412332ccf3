"""Text, Markdown and JSON renderings of a ``cudalign.fleet/1`` report: per-node verdicts, one plan."""

from __future__ import annotations

import json as _json
from collections.abc import Sequence
from typing import Any

from cudalign.fleet import Node
from cudalign.fleet.answer import FleetCheck, FleetPlan, Group
from cudalign.model import Matrix, Report, to_jsonable

__all__ = ["json", "markdown", "text"]

_SHOWN = 4
"""Node names shown per group in text; JSON lists every one."""


def _names(nodes: Sequence[str]) -> str:
    more = len(nodes) - _SHOWN
    return ", ".join(nodes[:_SHOWN]) + (f" and {more} more" if more > 0 else "")


def _gpus(g: Group) -> str:
    from cudalign.render.check import describe_host

    return describe_host(g.host).removesuffix(" [described]")


def _why(g: Group) -> str:
    worst = next((f for f in g.findings if f.severity.value == "error"), None) or next(
        (f for f in g.findings if f.unknown), None
    )
    if worst is None:
        warn = [f"{f.code} {f.name}" for f in g.findings if f.severity.value == "warning"]
        return "; ".join(dict.fromkeys(warn)) or "no findings"
    return f"{worst.code} {worst.name}: {worst.message}"


def _other_lines(other: Sequence[Node], non_gpu: int) -> list[str]:
    lines = [f"  {n.name}: {n.status}: {n.reason}" for n in other]
    if non_gpu:
        lines.append(f"  {non_gpu} node(s) without GPUs (not judged)")
    return lines


def _check_text(fc: FleetCheck) -> list[str]:
    nodes = sum(len(g.nodes) for g in fc.groups)
    runs = sum(len(g.nodes) for g in fc.groups if g.verdict and g.verdict.value in ("ok", "caveats"))
    lines = [
        f"verdict: {fc.verdict.value} ({runs} of {nodes} GPU nodes run it)",
        f"asked:   {' '.join(fc.requirements)}" + (f" in {fc.image}" if fc.image else ""),
        f"lowest driver: {fc.lowest_driver or 'not labelled'}",
        "",
    ]
    for g in fc.groups:
        v = g.verdict.value if g.verdict else "?"
        lines.append(f"{v:8} {len(g.nodes)} node(s): {_names(g.nodes)}")
        lines.append(f"         {_gpus(g)}")
        lines.append(f"         {_why(g)}")
        lines.extend(f"         condition: {c}" for c in g.conditions)
    extra = _other_lines(fc.other, fc.non_gpu)
    if extra:
        lines += ["", "not judged:", *extra]
    if fc.affinity is not None:
        import yaml

        lines += ["", "node affinity for the nodes that run it:"]
        lines += ["  " + ln for ln in yaml.safe_dump({"affinity": fc.affinity}, sort_keys=False).splitlines()]
    return lines


def _plan_text(fp: FleetPlan) -> list[str]:
    lines = [
        f"asked: {' '.join(fp.requirements)}",
        f"lowest driver: {fp.lowest_driver or 'not labelled'}",
        "",
    ]
    m = fp.matrix
    if m is None:
        lines.append("no single matrix runs on every GPU node, even with driver upgrades")
        lines += [f"  {r.family}: {r.code} {r.name}: {r.reason}" for r in fp.rejected]
    else:
        lines += [
            "one matrix for every GPU node:",
            f"  CUDA:    {m.cuda or '?'}" + (f", vLLM built with {m.vllm_cuda}" if m.vllm_cuda else ""),
            f"  torch:   {m.torch or '-'}" + (f"  index {m.torch_index}" if m.torch_index else ""),
            f"  vLLM:    {m.vllm or '-'}",
            f"  image:   {m.image or '-'}",
            f"  install: {m.install_uv}",
            "",
        ]
        if not fp.upgrades:
            lines.append("driver upgrades: none (every GPU node runs it on its current driver)")
        else:
            total = sum(len(u.nodes) for u in fp.upgrades)
            lines.append(f"driver upgrades: {total} node(s)")
            for u in fp.upgrades:
                was = u.current or "driver not given"
                lines.append(f"  {len(u.nodes)} node(s) ({u.gpus}): {was} -> {u.target}: {_names(u.nodes)}")
                lines.append(f"    runbook: {u.runbook}")
        lines.append("")
        for g in fp.groups:
            v = g.verdict.value if g.verdict else "?"
            lines.append(f"{v:8} {len(g.nodes)} node(s): {_names(g.nodes)}")
    extra = _other_lines(fp.other, fp.non_gpu)
    if extra:
        lines += ["", "not judged:", *extra]
    return lines


def text(report: Report) -> str:
    value = report.data["fleet"]
    lines = _check_text(value) if isinstance(value, FleetCheck) else _plan_text(value)
    return "\n".join(lines) + "\n"


def markdown(report: Report) -> str:
    value = report.data["fleet"]
    if isinstance(value, FleetCheck):
        rows = ["| verdict | nodes | GPUs and driver | why |", "|---|---|---|---|"]
        for g in value.groups:
            rows.append(
                f"| {g.verdict.value if g.verdict else '?'} | {_names(g.nodes)} | {_gpus(g)} | {_why(g)} |"
            )
        head = f"**{' '.join(value.requirements)}** on the fleet: **{value.verdict.value}**"
        return "\n".join([head, "", *rows]) + "\n"
    return "```\n" + text(report) + "```\n"


def _matrix_json(m: Matrix) -> dict[str, Any]:
    out = to_jsonable(m)
    assert isinstance(out, dict)
    out.pop("stack")
    return out


def _group_json(g: Group) -> dict[str, Any]:
    out: dict[str, Any] = {
        "nodes": list(g.nodes),
        "verdict": g.verdict.value if g.verdict else None,
        "host": g.host.to_json(),
        "conditions": list(g.conditions),
        "findings": to_jsonable(g.findings),
    }
    return out


def _other_json(other: Sequence[Node], non_gpu: int) -> dict[str, Any]:
    return {
        "not_judged": [{"node": n.name, "status": n.status, "reason": n.reason} for n in other],
        "non_gpu_nodes": non_gpu,
    }


def json(report: Report) -> str:
    value = report.data["fleet"]
    body: dict[str, Any] = {"schema": report.schema, "source": report.data.get("source")}
    if isinstance(value, FleetCheck):
        body.update(
            kind="check",
            verdict=value.verdict.value,
            requirements=list(value.requirements),
            image=value.image,
            lowest_driver=value.lowest_driver,
            groups=[_group_json(g) for g in value.groups],
            affinity=value.affinity,
            **_other_json(value.other, value.non_gpu),
        )
    else:
        body.update(
            kind="plan",
            requirements=list(value.requirements),
            lowest_driver=value.lowest_driver,
            matrix=_matrix_json(value.matrix) if value.matrix else None,
            upgrades=to_jsonable(value.upgrades),
            groups=[_group_json(g) for g in value.groups],
            rejected=to_jsonable(value.rejected),
            **_other_json(value.other, value.non_gpu),
        )
    return _json.dumps(body, indent=2)
