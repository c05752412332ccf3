"""Text and Markdown renderings of a ``cudalign.check/1`` report: verdict, host, stack, findings."""

from __future__ import annotations

from collections import Counter

from cudalign.model import Finding, Host, Report, Stack

__all__ = ["describe_host", "describe_stack", "markdown", "text"]


def describe_host(host: Host) -> str:
    """One line: GPUs, driver and its CUDA, platform, Python."""
    names = Counter(f"{g.name} ({g.cc})" if g.cc else g.name for g in host.gpus)
    none = "no GPU given" if host.origin == "described" else "no GPU found"
    gpus = ", ".join(f"{n}x {name}" if n > 1 else name for name, n in names.items()) or none
    if host.driver is not None and host.driver.version and host.driver.given:
        branch = host.driver.version.split(".")[0]
        drv = f"driver R{branch} (given as {host.driver.given!r}: judged on its first release "
        drv += host.driver.version + (f", CUDA {host.driver.cuda})" if host.driver.cuda else ")")
    elif host.driver is not None and host.driver.version:
        drv = f"driver {host.driver.version}" + (f" (CUDA {host.driver.cuda})" if host.driver.cuda else "")
    else:
        drv = "no driver" if host.origin != "described" else "driver not given"
    parts = [gpus, drv, f"{host.os.system or 'Linux'} {host.os.arch or ''}".strip()]
    if host.python:
        parts.append(f"Python {host.python}")
    if host.container.kind:
        parts.append(f"in {host.container.kind}")
    return f"{'; '.join(parts)} [{host.origin}]"


def describe_stack(stack: Stack) -> list[str]:
    """Lines: each component, then CUDA runtime, cuDNN, NCCL, architectures, image."""
    lines = []
    for c in stack.components:
        label = f"{c.name} {c.version}" + (
            f"+{c.variant}" if c.variant and c.name == "torch" and "+" not in c.version else ""
        )
        extra = []
        if c.cuda and c.name != "torch":
            extra.append(f"built with CUDA {c.cuda}")
        if c.index_url:
            extra.append(f"index {c.index_url}")
        if c.requirement and c.requirement.startswith("pinned by"):
            extra.append(c.requirement)
        lines.append(label + (f" ({'; '.join(extra)})" if extra else ""))
    cuda = [f"CUDA runtime {stack.cuda_runtime or '?'}"]
    if stack.cudnn:
        cuda.append(f"cuDNN {stack.cudnn}")
    if stack.nccl:
        cuda.append(f"NCCL {stack.nccl}")
    if stack.archs:
        cuda.append("archs " + " ".join(a.sm for a in stack.archs))
    if stack.ptx:
        cuda.append("PTX " + " ".join(p.sm.replace("sm_", "compute_") for p in stack.ptx))
    if stack.python:
        cuda.append(f"Python {stack.python}")
    lines.append(", ".join(cuda))
    if stack.image:
        img = f"image {stack.image}: CUDA {stack.image_cuda or '?'}"
        if stack.image_require:
            img += f", NVIDIA_REQUIRE_CUDA={stack.image_require.split()[0]}…"
        if stack.image_compat:
            img += ", cuda-compat libraries"
        lines.append(img)
    for key, why in stack.unknown.items():
        lines.append(f"unknown {key}: {why}")
    return lines


def _finding_lines(f: Finding) -> list[str]:
    head = (
        f"{f.code} {f.name} ({'unknown' if f.unknown else 'condition' if f.condition else f.severity.value})"
    )
    lines = [head, f"    {f.message}", f"    fix: {f.fix}"]
    if f.unknown:
        lines.append(f"    missing: {f.unknown}")
    if f.condition:
        lines.append(f"    must hold: {f.condition.text}")
    for ref in f.facts:
        lines.append(f"    fact: {ref.id}  {ref.source}")
    return lines


def text(report: Report) -> str:
    verdict = report.verdict.value if report.verdict else "?"
    out = [f"verdict: {verdict}"]
    if report.host is not None:
        out.append(f"host:    {describe_host(report.host)}")
    if report.stack is not None:
        lines = describe_stack(report.stack)
        out.append(f"stack:   {lines[0]}")
        out.extend(f"         {line}" for line in lines[1:])
    conditions = _conditions(report)
    if conditions:
        out.append("")
        out.append("conditions (not stated, must hold):")
        out.extend(f"  - {c}" for c in conditions)
    if report.findings:
        out.append("")
        for f in report.findings:
            out.extend(_finding_lines(f))
    else:
        out.append("no findings")
    return "\n".join(out) + "\n"


def _conditions(report: Report) -> list[str]:
    """The ``conditions`` of the report's JSON, in words."""
    out = []
    for c in report.data.get("conditions", ()):
        text = str(c.get("text", "")) if isinstance(c, dict) else str(c)
        if (
            isinstance(c, dict)
            and c.get("branches")
            and c.get("subject") == "driver"
            and "first release" not in text
        ):
            text += f" (supported branches: {', '.join(c['branches'])})"
        out.append(text)
    return out


def markdown(report: Report) -> str:
    verdict = report.verdict.value if report.verdict else "?"
    icon = {"ok": "✅", "caveats": "⚠️", "fails": "❌", "unknown": "❔"}.get(verdict, "")
    out = [f"### cudalign check: {icon} **{verdict}**", ""]
    if report.host is not None:
        out.append(f"**Host:** {describe_host(report.host)}  ")
    if report.stack is not None:
        out.append("**Stack:** " + "; ".join(describe_stack(report.stack)))
    out.append("")
    conditions = _conditions(report)
    if conditions:
        out.append("**Conditions** (not stated, must hold):")
        out.extend(f"- {c}" for c in conditions)
        out.append("")
    if report.findings:
        out.append("| rule | severity | what | fix | facts |")
        out.append("|---|---|---|---|---|")
        for f in report.findings:
            sev = "unknown" if f.unknown else "condition" if f.condition else f.severity.value
            facts = "<br>".join(f"[{r.id}]({r.source})" for r in f.facts)
            cells = [f"`{f.code}` {f.name}", sev, f.message, f.fix, facts]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    else:
        out.append("No findings.")
    return "\n".join(out) + "\n"
