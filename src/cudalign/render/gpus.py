"""Text, Markdown and JSON renderings of a ``cudalign.gpus/1`` report: offers ranked by price."""

from __future__ import annotations

import json as _json
from collections.abc import Sequence
from typing import Any

from cudalign.fleet.clouds import Outcome
from cudalign.model import Report, to_jsonable

__all__ = ["json", "markdown", "text"]

_LABEL = {
    "runs": "runs",
    "forward-compat": "runs (forward compat)",
    "needs-host-filter": "runs with host filter",
    "fails": "fails",
    "unknown": "unknown",
}


def _price(o: Outcome) -> str:
    return f"${o.price:.3f}/h" if o.price is not None else "price ?"


def _rows(report: Report) -> Sequence[Outcome]:
    rows: Sequence[Outcome] = report.data["outcomes"]
    return rows


def text(report: Report) -> str:
    rows = _rows(report)
    image = report.data["image"]
    asked = [*report.data["requirements"]] + (
        [f"in {image}" if report.data["requirements"] else image] if image else []
    )
    head = f"asked: {' '.join(asked)}"
    lines = [head, f"prices: {report.data['prices']}", ""]
    runs = [o for o in rows if o.result != "fails" and o.result != "unknown"]
    if runs:
        best = next((o for o in runs if o.price is not None), None)
        if best is not None:
            tied = [o for o in runs if o.price == best.price]
            names = ", ".join(f"{o.offer.gpu} on {o.offer.provider}" for o in tied)
            lines.append(f"cheapest that runs: {_price(best)}: {names}")
            lines.append("")
    for o in rows:
        mem = f"{o.offer.memory_gb:g} GB" if o.offer.memory_gb else "? GB"
        count = f"{o.offer.count}x " if o.offer.count > 1 else ""
        lines.append(f"{_LABEL[o.result]:22} {o.offer.provider:7} {count}{o.offer.gpu} ({mem})  {_price(o)}")
        lines.append(f"{'':22} {o.detail}")
    if not rows:
        lines.append("no offer matches")
    return "\n".join(lines) + "\n"


def markdown(report: Report) -> str:
    rows = ["| result | provider | GPU | memory | price | why |", "|---|---|---|---|---|---|"]
    for o in _rows(report):
        mem = f"{o.offer.memory_gb:g} GB" if o.offer.memory_gb else "?"
        rows.append(
            f"| {_LABEL[o.result]} | {o.offer.provider} | {o.offer.gpu} | {mem} | {_price(o)} | {o.detail} |"
        )
    return f"**{' '.join(report.data['requirements'])}**\n\n" + "\n".join(rows) + "\n"


def json(report: Report) -> str:
    body: dict[str, Any] = {
        "schema": report.schema,
        "requirements": report.data["requirements"],
        "image": report.data["image"],
        "prices": report.data["prices"],
        "offers": [
            {
                "result": o.result,
                "provider": o.offer.provider,
                "gpu": o.offer.gpu,
                "gpu_fact": o.offer.gpu_fact,
                "count": o.offer.count,
                "memory_gb": o.offer.memory_gb,
                "price_per_hour": o.price,
                "offer": o.offer.offer,
                "driver": o.offer.driver,
                "host_cuda_levels": list(o.offer.cuda_levels),
                "runs_from_host_cuda": o.runs_from,
                "image": o.offer.image,
                "detail": o.detail,
                "verdict": o.verdict.value if o.verdict else None,
                "findings": to_jsonable(o.findings),
                "facts": to_jsonable(o.offer.facts),
            }
            for o in _rows(report)
        ],
    }
    return _json.dumps(body, indent=2)
