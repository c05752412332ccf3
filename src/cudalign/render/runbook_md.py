"""A runbook as Markdown: the document an operator reads, annotates and follows in the window."""

from __future__ import annotations

from cudalign.runbook import Runbook, Step
from cudalign.runbook.distros import GUIDE

__all__ = ["render_markdown"]


def _step(n: str, step: Step) -> list[str]:
    tags = []
    if step.root:
        tags.append("root")
    if step.destructive:
        tags.append("**changes the system**")
    head = f"{n}. **{step.title}**" + (f" ({', '.join(tags)})" if tags else "")
    out = [head, "", f"   {step.why}", ""]
    if step.commands:
        out += ["   ```bash", *(f"   {c}" for c in step.commands), "   ```", ""]
    if step.expect:
        out += [f"   Expect: {step.expect}", ""]
    if step.gate:
        out += [f"   - [ ] {step.gate}", ""]
    return out


def _counted(names: tuple[str, ...]) -> str:
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    return ", ".join(f"{c}x {n}" for n, c in counts.items())


def render_markdown(rb: Runbook) -> str:
    """The whole runbook; findings (blockers, warnings) come before the first step."""
    out = [f"# NVIDIA driver runbook: {rb.host_label} to {rb.target}", "", rb.summary, ""]
    facts = [
        (
            "Distribution",
            rb.distro.label + (f" ({rb.distro.name})" if rb.distro.name.split()[0] != rb.distro.id else ""),
        ),
        ("Current driver", rb.current or "unknown"),
        ("Target", f"{rb.target}, {rb.flavour} kernel module"),
        ("GPUs", _counted(rb.gpus) or "none recorded"),
    ]
    if "max_cuda" in rb.expected:
        facts.append(("CUDA after the upgrade", f"up to {rb.expected['max_cuda']}"))
    out += ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in facts), ""]
    if rb.change_needed:
        keys = [s.key for s in rb.sections]
        out += [
            "Timeline: **"
            + " and ".join(k for k in keys[:2])
            + "** any time before the maintenance window (no "
            "workload stopped, no reboot); **window** inside it (stop, install, reboot); "
            "**verify** right after; "
            "**rollback** only if verification fails.",
            "",
        ]
    if rb.findings:
        out += ["## Before you start", ""]
        for f in rb.findings:
            fix = f.fix[:1].upper() + f.fix[1:]
            out.append(f"- **{f.severity.value}** {f.code} {f.name}: {f.message} {fix}")
        out.append("")
    if rb.processes is not None:
        if rb.processes:
            out += [
                "GPU processes when this runbook was generated:",
                "",
                "| pid | process | GPU | MiB |",
                "|---|---|---|---|",
            ]
            out += [f"| {p.pid} | {p.name} | {p.gpu} | {p.used_mib or ''} |" for p in rb.processes]
        else:
            out += ["No process was using a GPU when this runbook was generated."]
        out.append("")
    out += [
        "Commands run as root where marked; `$STATE` is set in the first preflight step "
        "(set it again in every new shell). The same steps as a script: "
        f"`{rb.command or f'cudalign runbook --driver {rb.target} --format sh'}`.",
        "",
    ]
    for i, section in enumerate(rb.sections, 1):
        out += [f"## {i}. {section.title}: {section.when}", ""]
        for j, step in enumerate(section.steps, 1):
            out += _step(f"{i}.{j}", step)
    out += ["## Sources", "", f"- NVIDIA driver installation guide: {GUIDE}"]
    out += [f"- `{r.id}`: {r.source}" for r in rb.facts]
    return "\n".join(out).rstrip() + "\n"
