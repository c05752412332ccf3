"""Text and Markdown renderings of a ``cudalign.plan/1`` report: matrices A, B, C … and rejected families."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cudalign.model import Report
from cudalign.render.check import describe_host

__all__ = ["markdown", "requirements", "text"]


def _rows(m: Mapping[str, Any]) -> list[tuple[str, str]]:
    drv = m.get("driver") or "?"
    if m.get("driver_change"):
        driver = f"upgrade to {drv} ({m.get('driver_branch')}), reboot needed; runbook: {m.get('runbook')}"
    else:
        driver = f"keep {drv} ({m.get('driver_branch')}), no reboot"
    rows = [
        ("driver", driver),
        (
            "CUDA",
            f"{m.get('cuda') or '-'} (torch runtime)"
            + (f", vLLM built with {m['vllm_cuda']}" if m.get("vllm_cuda") else ""),
        ),
        (
            "torch",
            f"{m.get('torch') or '-'}" + (f"  index {m['torch_index']}" if m.get("torch_index") else ""),
        ),
    ]
    if m.get("vllm"):
        rows.append(("vLLM", str(m["vllm"])))
    rows += [
        ("Python", m.get("python") or "any"),
        ("base image", m.get("image") or "none found that passes on this driver"),
        *(
            ("image rejected", f"{r['family']}: {r['code']} {r['name']}: {r['reason']}")
            for r in m.get("images_rejected", ())
        ),
        ("install (uv)", m["install_uv"]),
        ("install (pip)", m["install_pip"]),
        ("verdict", str(m["verdict"])),
    ]
    for c in m.get("caveats", ()):
        rows.append(("caveat", c))
    return rows


def text(report: Report) -> str:
    data = report.data
    out = []
    if report.host is not None:
        out.append(f"host: {describe_host(report.host)}")
    out.append(f"asked: {' '.join(data.get('requirements', ()))}")
    matrices = data.get("matrices", [])
    if not matrices:
        out.append("\nno matrix runs on this host.")
    for m in matrices:
        out.append(f"\nMatrix {m['label']}")
        for k, v in _rows(m):
            out.append(f"  {k + ':':<15} {v}")
    rejected = data.get("rejected", [])
    if rejected:
        out.append("\nrejected:")
        for r in rejected:
            out.append(f"  {r['family']}: {r['code']} {r['name']}: {r['reason']}")
    out.append(f"\n({data.get('considered', 0)} candidates checked)")
    return "\n".join(out) + "\n"


def markdown(report: Report) -> str:
    data = report.data
    out = ["### cudalign plan", ""]
    if report.host is not None:
        out.append(f"**Host:** {describe_host(report.host)}")
        out.append("")
    for m in data.get("matrices", []):
        out.append(f"#### Matrix {m['label']}")
        out.append("| | |")
        out.append("|---|---|")
        for k, v in _rows(m):
            out.append(f"| {k} | {v.replace('|', chr(92) + '|')} |")
        out.append("")
    if data.get("rejected"):
        out.append("#### Rejected")
        for r in data["rejected"]:
            out.append(f"- **{r['family']}**: `{r['code']}` {r['name']}: {r['reason']}")
    return "\n".join(out) + "\n"


def requirements(report: Report) -> str:
    matrices = report.data.get("matrices", [])
    if not matrices:
        return "# cudalign plan: no matrix runs on this host\n"
    m = matrices[0]
    head = (
        f"# cudalign plan matrix {m['label']}: driver {m.get('driver')}, CUDA {m.get('cuda')}, "
        f"verdict {m['verdict']}"
    )
    return "\n".join([head, *m["requirements"]]) + "\n"
