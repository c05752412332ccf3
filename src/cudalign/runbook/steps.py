"""Assessing a driver upgrade (blockers, flavour, whether anything changes) and laying out its phases."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cudalign.model import FactRef, Finding, Severity, driver_version
from cudalign.runbook import PHASES, GpuProcess, Runbook, Section, Target
from cudalign.runbook.distros import GUIDE, Distro, detect
from cudalign.runbook.phases import (
    OPEN_LICENSE,
    PROPRIETARY_LICENSE,
    STATE,
    Plan,
    preflight,
    rollback,
    stage,
    verify,
    window,
)

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts
    from cudalign.model import Host

__all__ = ["STATE", "build_runbook"]

_NO_OPEN = {"Kepler", "Maxwell", "Pascal", "Volta"}


def _gpu_facts(host: Host, facts: Facts) -> list[tuple[str, Fact | None]]:
    from cudalign.facts.query import gpu_fact

    return [(g.name, gpu_fact(facts, g)) for g in host.gpus]


def _branch_fact(facts: Facts, branch: int) -> Fact | None:
    return next((f for f in facts.of_kind("driver_branch") if f["branch"] == branch), None)


def _finding(
    code: str, name: str, sev: Severity, msg: str, fix: str, refs: tuple[FactRef, ...] = ()
) -> Finding:
    return Finding(code=code, name=name, severity=sev, message=msg, fix=fix, facts=refs)


def _assess(host: Host, facts: Facts, target: Target, gpus: list[tuple[str, Fact | None]]) -> list[Finding]:
    """Blockers and things to weigh: unknown or end-of-life branch, GPUs the branch does not support."""
    out: list[Finding] = []
    bf = _branch_fact(facts, target.branch)
    if bf is None:
        out.append(
            _finding(
                "CA101",
                "driver-too-old",
                Severity.WARNING,
                f"R{target.branch} is not a branch the knowledge base knows.",
                f"check the branch exists in NVIDIA's repository before the window ({GUIDE}).",
            )
        )
    elif str(bf["designation"]).upper() == "EOL":
        better = sorted(
            (
                f
                for f in facts.of_kind("driver_branch")
                if f["branch"] > target.branch and str(f["designation"]).upper() in ("LTSB", "PB")
            ),
            key=lambda f: f["branch"],
        )
        alt = (
            f"; R{better[0]['branch']} ({better[0]['designation']}) is the nearest supported branch"
            if better
            else ""
        )
        out.append(
            _finding(
                "CA101",
                "driver-too-old",
                Severity.WARNING,
                f"R{target.branch} is end-of-life: it receives no more fixes{alt}.",
                "prefer a supported branch (LTSB or production) unless the stack needs exactly this one.",
                (bf.ref, *(f.ref for f in better[:1])),
            )
        )
    for name, fact in gpus:
        if fact is None:
            continue
        low = fact.get("min_driver")
        if low is not None and low.major > target.branch:
            out.append(
                _finding(
                    "CA101",
                    "driver-too-old",
                    Severity.ERROR,
                    f"{name} needs driver >= {low}; R{target.branch} does not support it.",
                    f"choose R{low.major} or newer.",
                    (fact.ref,),
                )
            )
        for f in facts.of_kind("driver_branch"):
            if fact["arch"] in f.get("last_for", ()) and f["branch"] < target.branch:
                out.append(
                    _finding(
                        "CA202",
                        "gpu-arch-dropped",
                        Severity.ERROR,
                        f"R{f['branch']} is the last branch for {fact['arch']} ({name}); "
                        f"R{target.branch} drops it.",
                        f"stay on R{f['branch']}.",
                        (f.ref, fact.ref),
                    )
                )
    if not gpus:
        out.append(
            _finding(
                "CA104",
                "no-driver",
                Severity.WARNING,
                "No GPU is recorded for this host: the kernel module flavour and the fabric manager "
                "could not be decided from the GPUs.",
                "describe the GPUs with --gpu, or check flavour and NVSwitch in preflight by hand.",
            )
        )
    return out


def _flavour(host: Host, gpus: list[tuple[str, Fact | None]]) -> tuple[str, str]:
    """(flavour, why): open for Blackwell and newer, proprietary for Volta and older, else keep what runs."""
    archs = {str(f["arch"]) for _, f in gpus if f is not None}
    if any(f is not None and f.get("open_module_required") for _, f in gpus) or archs & {
        "Blackwell",
        "Rubin",
    }:
        return "open", "Blackwell and newer GPUs work only with NVIDIA's open kernel modules."
    if archs & _NO_OPEN:
        old = ", ".join(sorted(archs & _NO_OPEN))
        return (
            "proprietary",
            f"{old} GPUs are not supported by the open kernel modules (Turing and newer only).",
        )
    current = host.driver.kernel_module if host.driver is not None else None
    if current in ("open", "proprietary"):
        return current, (
            f"the host runs the {current} module now; the upgrade keeps it, so only one thing changes "
            "in the window."
        )
    return "open", "NVIDIA recommends the open kernel modules for Turing and newer GPUs from R560."


def build_runbook(
    host: Host, facts: Facts, target: Target, *, processes: tuple[GpuProcess, ...] | None = None
) -> Runbook:
    """Assess the upgrade and lay out every phase."""
    distro = detect(host.os)
    gpus = _gpu_facts(host, facts)
    findings = _assess(host, facts, target, gpus)
    flavour, flavour_why = _flavour(host, gpus)
    current = host.driver.version if host.driver is not None else None
    fm: bool | None = host.nvswitch
    if fm is None and not any(f is not None and f["segment"] == "datacenter" for _, f in gpus) and gpus:
        fm = False  # PCIe workstation and consumer boards never sit on NVSwitch
    plan = Plan(host, distro, target, flavour, fm, current, processes, len(host.gpus), host.os.secure_boot)

    bf = _branch_fact(facts, target.branch)
    refs = [bf.ref] if bf is not None else []
    refs.extend(f.ref for _, f in gpus if f is not None and f.ref not in refs)
    max_cuda = str(bf["max_cuda"]) if bf is not None and bf.get("max_cuda") is not None else None
    gpu_names = tuple(name for name, _ in gpus)
    expected = {
        "driver_branch": str(target.branch),
        "driver_version": target.version or f"{target.branch}.*",
        "gpu_count": str(len(gpu_names)),
        "kernel_module": OPEN_LICENSE if flavour == "open" else PROPRIETARY_LICENSE,
    }
    if max_cuda:
        expected["max_cuda"] = max_cuda

    change, reason = _change_needed(current, target)
    host_label = _host_label(host, distro, gpu_names)
    if not change:
        summary = (
            f"No driver change: {host_label} {reason}. The verification below confirms it; whether a stack "
            "fits this driver is `cudalign check REQ…`'s question."
        )
        sections = (Section("verify", "Verify", "any time", verify(plan, max_cuda, expected)),)
        return Runbook(
            target,
            distro,
            flavour,
            current,
            False,
            summary,
            host_label,
            gpu_names,
            sections,
            tuple(findings),
            tuple(refs),
            processes,
            expected,
        )

    blockers = [f for f in findings if f.severity is Severity.ERROR]
    cur = f"from {current} " if current else ""
    cuda = f" (CUDA up to {max_cuda})" if max_cuda else ""
    summary = (
        f"Upgrade the NVIDIA driver on {host_label} {cur}to {_target_text(target)}{cuda}, "
        f"{flavour} kernel module, "
        f"from NVIDIA's CUDA repository ({GUIDE}). Preflight and staging change nothing that runs and can be "
        "done any time before the maintenance window; installation and the reboot happen together inside it. "
        "Nothing is installed earlier: new user-space libraries next to the old loaded kernel module break "
        "every "
        "GPU program until the reboot ('Failed to initialize NVML: Driver/library version mismatch', CA105). "
        f"Kernel module: {flavour_why}"
    )
    if blockers:
        summary = (
            "Blocked: "
            + " ".join(f.message for f in blockers)
            + " Choose another branch; the steps below are "
            "shown for reference and the script refuses to stage or install. " + summary
        )
    builders = {
        "preflight": lambda: preflight(plan, flavour_why),
        "stage": lambda: stage(plan),
        "window": lambda: window(plan),
        "verify": lambda: verify(plan, max_cuda, expected),
        "rollback": lambda: rollback(plan),
    }
    phases: tuple[Section, ...] = tuple(
        Section(key, title, when, builders[key]()) for key, title, when in PHASES
    )
    return Runbook(
        target,
        distro,
        flavour,
        current,
        True,
        summary,
        host_label,
        gpu_names,
        phases,
        tuple(findings),
        tuple(refs),
        processes,
        expected,
    )


def _target_text(target: Target) -> str:
    if target.version is None:
        return str(target)
    return f"{target.version} or newer on R{target.branch}"


def _change_needed(current: str | None, target: Target) -> tuple[bool, str]:
    if current is None:
        return True, ""
    try:
        have = driver_version(current)
    except ValueError:
        return True, ""
    if target.version is not None:
        want = driver_version(target.version)
        if have >= want:
            return False, f"already runs {current}, which is {target.version} or newer"
        return True, ""
    if have.major > target.branch:
        return False, f"runs {current}, a newer branch than R{target.branch}; this runbook does not downgrade"
    if have.major == target.branch:
        return False, f"already runs {current} on the R{target.branch} branch"
    return True, ""


def _host_label(host: Host, distro: Distro, gpus: tuple[str, ...]) -> str:
    name = host.hostname if host.hostname and not host.hostname.startswith("<") else "this host"
    if gpus:
        counts: dict[str, int] = {}
        for g in gpus:
            counts[g] = counts.get(g, 0) + 1
        shown = ", ".join(f"{n}x {g}" for g, n in counts.items())
    else:
        shown = "no GPU recorded"
    return f"{name} ({distro.label}, {shown})"
