"""The human views of a doctor report: the host as probed, what is wrong now, and the verdict for a stack."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cudalign.model import Finding, Gpu, Host, Report, Severity

__all__ = ["host_lines", "markdown", "text"]

_MARK = {Severity.ERROR: "✗", Severity.WARNING: "!", Severity.INFO: "i"}
_MAIN_FIRST = ("torch", "torchvision", "torchaudio", "triton", "vllm", "xformers", "flash-attn")


def _gpu_line(gpu: Gpu) -> str:
    parts = [f"{gpu.index}: {gpu.name}"]
    parts.append(f"cc {gpu.cc}" if gpu.cc else "cc ?")
    if gpu.memory_mib:
        parts.append(f"{gpu.memory_mib} MiB")
    if gpu.pci_device_id:
        parts.append(f"PCI {gpu.pci_device_id}")
    if gpu.mig_mode is not None:
        parts.append("MIG on" if gpu.mig_mode else "MIG off")
    if gpu.uuid:
        parts.append(gpu.uuid)
    parts.append(f"-> {gpu.fact_id}" if gpu.fact_id else "-> not in the knowledge base")
    return "  ".join(parts)


def _driver_line(host: Host) -> str:
    d = host.driver
    if d is None:
        why = host.unknown.get("driver", "no NVIDIA driver found")
        head, _, reasons = why.partition(": ")
        return head + "".join(f"\n              - {r}" for r in reasons.split("; ") if r)
    flavour = f"{d.kernel_module} kernel module" if d.kernel_module else "kernel module flavour unknown"
    line = f"{d.version} ({flavour}, read from {d.source})"
    line += f", supports CUDA up to {d.cuda}" if d.cuda else ", highest CUDA unknown (see 'Not read')"
    if d.nvml_mismatch:
        lib = f" user-space libraries {d.library_version}," if d.library_version else ""
        line += f"; NVML: driver/library version mismatch (kernel module {d.version},{lib} reboot pending)"
    return line


def _os_line(host: Host) -> str:
    o = host.os
    distro = " ".join(x for x in (o.distro_id, o.distro_version) if x) or "distribution unknown"
    sb = {True: "on", False: "off", None: "unknown"}[o.secure_boot]
    return (
        f"{distro} · kernel {o.kernel or '?'} · glibc {o.glibc or '?'} · {o.arch or '?'} · "
        f"Python {host.python or '?'} · Secure Boot {sb}"
    )


def _container_line(host: Host) -> str:
    c = host.container
    if c.kind is None:
        head = "none detected"
    else:
        head = f"{c.kind}; NVIDIA_VISIBLE_DEVICES={c.nvidia_visible_devices or '(unset)'}"
        if c.nvidia_driver_capabilities:
            head += f"; NVIDIA_DRIVER_CAPABILITIES={c.nvidia_driver_capabilities}"
    if c.compat_libs:
        head += f"; forward-compat libcuda on the loader path: {', '.join(c.compat_libs)}"
        head += f" (CUDA {c.compat_cuda})" if c.compat_cuda else ""
    return head


def _libs(versions: Mapping[str, str]) -> str:
    torch = versions.get("torch")
    system = versions.get("system")
    return f"torch loads {torch or '(none found)'} · system {system or '(none)'}"


def _package_rows(host: Host) -> list[tuple[str, str, str]]:
    main = [p for p in host.packages if not p.name.startswith("nvidia-") or p.name == "nvidia-ml-py"]
    main.sort(
        key=lambda p: (
            p.name not in _MAIN_FIRST,
            _MAIN_FIRST.index(p.name) if p.name in _MAIN_FIRST else 0,
            p.name,
        )
    )
    return [(p.name, p.version, f"CUDA {p.cuda}" if p.cuda else "") for p in main]


def _wheels(host: Host) -> str:
    wheels = [p for p in host.packages if p.name.startswith("nvidia-") and p.name != "nvidia-ml-py"]
    return ", ".join(f"{p.name.removeprefix('nvidia-')} {p.version}" for p in wheels)


def host_lines(host: Host) -> list[str]:
    """The host section, one ``label  value`` line each (GPUs and packages indented below)."""
    lines = [f"Driver      {_driver_line(host)}"]
    if host.gpus:
        lines.append(f"GPUs        {len(host.gpus)}")
        lines += [f"  {_gpu_line(g)}" for g in host.gpus]
    else:
        lines.append(f"GPUs        none: {host.unknown.get('gpus', 'none found')}")
    if host.gpus:
        yn = {True: "yes", False: "no", None: "unknown"}
        lines.append(
            f"NVLink      {yn[host.nvlink]} · NVSwitch {yn[host.nvswitch]} · "
            f"fabric manager {host.fabric_manager or 'n/a'}"
        )
    lines.append(f"OS          {_os_line(host)}")
    lines.append(f"Container   {_container_line(host)}")
    rows = _package_rows(host)
    if rows:
        width = max(len(r[0]) for r in rows)
        vwidth = max(len(r[1]) for r in rows)
        lines.append("Packages")
        lines += [f"  {n:<{width}}  {v:<{vwidth}}  {c}".rstrip() for n, v, c in rows]
    else:
        lines.append("Packages    none of the GPU stack installed in this Python")
    wheels = _wheels(host)
    if wheels:
        lines.append(f"  nvidia-* wheels: {wheels}")
    lines.append(f"cuDNN       {_libs(host.cudnn)}")
    lines.append(f"NCCL        {_libs(host.nccl)}")
    lines.append(f"CUDA toolkits  {', '.join(host.cuda_toolkits) or 'none under /usr/local/cuda*'}")
    if host.env:
        lines.append("Environment")
        lines += [f"  {k}={_short(v)}" for k, v in host.env.items()]
    notes = _notes(host)
    if notes:
        lines.append("Not read")
        lines += [f"  {v}" if v.startswith(k) else f"  {k}: {v}" for k, v in notes]
    return lines


def _notes(host: Host) -> list[tuple[str, str]]:
    """Values the probe could not read, and why (the driver and GPU reasons are shown above)."""
    notes = [(k, v) for k, v in host.unknown.items() if k not in ("driver", "gpus")]
    if host.driver is not None:
        notes += [(f"driver.{k}", v) for k, v in host.driver.unknown.items()]
    for g in host.gpus:
        notes += [(f"gpu {g.index} {k}", v) for k, v in g.unknown.items()]
    return notes


def _short(value: str, width: int = 90) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def _finding_lines(findings: Sequence[Finding]) -> list[str]:
    if not findings:
        return ["  nothing wrong found"]
    lines = []
    for f in sorted(findings, key=lambda f: -f.severity.rank):
        lines.append(f"  {_MARK[f.severity]} {f.code} {f.name} ({f.severity.value}): {f.message}")
        if f.fix:
            lines.append(f"      fix: {f.fix}")
    return lines


def _target_findings(target: Mapping[str, Any]) -> list[Finding]:
    return [
        Finding(f["code"], f["name"], Severity(f["severity"]), f["message"], f.get("fix", ""))
        for f in target.get("findings", ())
    ]


def text(report: Report) -> str:
    host = report.host
    assert host is not None
    name = host.hostname if host.hostname and host.hostname != "<hidden>" else "this host"
    lines = [f"cudalign doctor · {name}", ""]
    lines += host_lines(host)
    lines += ["", "What is wrong now"]
    lines += _finding_lines(report.findings)
    target = report.data.get("target")
    if target:
        what = " ".join(target.get("requirements") or [])
        if target.get("image"):
            what = f"{what} in {target['image']}".strip()
        lines += ["", f"Verdict for {what}: {target['verdict']}"]
        lines += _finding_lines(_target_findings(target))
    elif report.verdict is not None:
        lines += ["", f"Verdict for the installed stack: {report.verdict.value}"]
    return "\n".join(lines) + "\n"


def markdown(report: Report) -> str:
    host = report.host
    assert host is not None
    lines = ["## cudalign doctor", "", "```", *host_lines(host), "```", "", "### What is wrong now", ""]
    if not report.findings:
        lines.append("Nothing wrong found.")
    for f in report.findings:
        lines.append(f"- **{f.code} {f.name}** ({f.severity.value}): {f.message} *Fix:* {f.fix}")
    target = report.data.get("target")
    if target:
        lines += ["", f"### Verdict: {target['verdict']}", ""]
        for f in _target_findings(target):
            lines.append(f"- **{f.code} {f.name}** ({f.severity.value}): {f.message} *Fix:* {f.fix}")
    return "\n".join(lines) + "\n"
