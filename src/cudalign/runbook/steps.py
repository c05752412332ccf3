"""Assessing a driver upgrade (blockers, flavour, whether anything changes) and laying out its phases."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from cudalign.errors import InvalidInput
from cudalign.facts.query import driver_text, supported_branches
from cudalign.model import FactRef, Finding, Severity, driver_version
from cudalign.runbook import PHASES, GpuProcess, Runbook, Section, Target
from cudalign.runbook.distros import GUIDE, Distro, detect
from cudalign.runbook.packages import (
    PackageChoice,
    branch_can_drive,
    choose,
    lowest_branch,
    newest_release,
)
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


def _assess(
    host: Host,
    facts: Facts,
    target: Target,
    gpus: list[tuple[str, Fact | None]],
    today: dt.date | None = None,
) -> list[Finding]:
    """Things to weigh: an unknown or end-of-life branch, GPUs the knowledge base does not know."""
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
        gpu_facts = [f for _, f in gpus if f is not None]
        better = [
            f
            for f in supported_branches(facts, today).facts
            if f["branch"] > target.branch
            and all(branch_can_drive(facts, f["branch"], g) is None for g in gpu_facts)
        ]
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


def _refuse_if_it_cannot_drive(
    facts: Facts, target: Target, gpus: list[tuple[str, Fact | None]], today: dt.date | None
) -> None:
    """A branch that cannot drive a GPU of the host gets no runbook: one line with the branches that can."""
    known = [f for _, f in gpus if f is not None]
    reasons = list(dict.fromkeys(r for g in known if (r := branch_can_drive(facts, target.branch, g))))
    if not reasons:
        return
    low = lowest_branch(facts, known)
    able = [
        f
        for f in supported_branches(facts, today).facts
        if all(branch_can_drive(facts, f["branch"], g) is None for g in known)
    ]
    parts = [f"R{target.branch} cannot drive this host's GPUs: {'; '.join(reasons)}"]
    if low is not None:
        parts.append(f"the lowest branch that can is R{low['branch']}")
    if able:
        shown = ", ".join(
            f"R{f['branch']} ({f['designation']}, EOL {f.get('eol', 'not stated')})" for f in able
        )
        parts.append(f"branches still supported that can: {shown}")
    else:
        parts.append("no branch still supported can drive them all")
    raise InvalidInput(
        "; ".join(parts),
        hint=f"cudalign runbook --driver {able[0]['branch']} …" if able else None,
    )


def _packages_for(
    facts: Facts, distro: Distro, target: Target, flavour: str, flavour_why: str, required_open: bool
) -> tuple[str, str, PackageChoice]:
    """The packages; a branch without open-module packages falls back to proprietary where the GPUs allow."""
    try:
        return flavour, flavour_why, choose(facts, distro, target.branch, flavour)
    except InvalidInput:
        if flavour != "open" or required_open:
            raise
    why = (
        f"R{target.branch} has no open kernel module packages in NVIDIA's repository, so the proprietary "
        "module it does have."
    )
    return "proprietary", why, choose(facts, distro, target.branch, "proprietary")


def build_runbook(
    host: Host,
    facts: Facts,
    target: Target,
    *,
    processes: tuple[GpuProcess, ...] | None = None,
    today: dt.date | None = None,
) -> Runbook:
    """Assess the upgrade and lay out every phase.

    Refuses (:class:`InvalidInput`) a target branch that cannot drive one of the host's GPUs, naming the
    lowest branch that can and the supported ones; ``today`` decides which branches are still supported.
    """
    distro = detect(host.os)
    gpus = _gpu_facts(host, facts)
    _refuse_if_it_cannot_drive(facts, target, gpus, today)
    findings = _assess(host, facts, target, gpus, today)
    flavour, flavour_why = _flavour(host, gpus)
    required_open = any(f is not None and f.get("open_module_required") for _, f in gpus) or any(
        f is not None and f["arch"] in ("Blackwell", "Rubin") for _, f in gpus
    )
    flavour, flavour_why, pkgs = _packages_for(facts, distro, target, flavour, flavour_why, required_open)
    newest = newest_release(facts, target.branch)
    current = host.driver.version if host.driver is not None else None
    fm: bool | None = host.nvswitch
    if fm is None and not any(f is not None and f["segment"] == "datacenter" for _, f in gpus) and gpus:
        fm = False  # PCIe workstation and consumer boards never sit on NVSwitch
    plan = Plan(
        host,
        distro,
        target,
        flavour,
        fm,
        current,
        processes,
        len(host.gpus),
        host.os.secure_boot,
        pkgs,
        driver_text(newest["version"]) if newest is not None else None,
    )

    bf = _branch_fact(facts, target.branch)
    refs = [bf.ref] if bf is not None else []
    refs.extend(f.ref for _, f in gpus if f is not None and f.ref not in refs)
    refs.extend(r for r in (*pkgs.refs, *([newest.ref] if newest is not None else [])) if r not in refs)
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
    if target.version is None:
        release = (
            f" The newest R{target.branch} release the knowledge base knows is "
            f"{driver_text(newest['version'])}; the package manager installs the newest "
            f"{target.branch}.* in NVIDIA's repository when the window "
            "runs, which may be newer."
            if newest is not None
            else f" The knowledge base records no release of R{target.branch}; the package manager installs "
            f"the newest {target.branch}.* in NVIDIA's repository."
        )
    else:
        release = ""
    summary = (
        f"Upgrade the NVIDIA driver on {host_label} {cur}to {_target_text(target)}{cuda}, "
        f"{flavour} kernel module, "
        f"from NVIDIA's CUDA repository ({GUIDE}). Preflight and staging change nothing that runs and can be "
        "done any time before the maintenance window; installation and the reboot happen together inside it. "
        "Nothing is installed earlier: new user-space libraries next to the old loaded kernel module break "
        "every "
        "GPU program until the reboot ('Failed to initialize NVML: Driver/library version mismatch', CA105). "
        f"Kernel module: {flavour_why}{release}"
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
        kernel=host.os.kernel,
        repo_packages=_packages_named(plan),
    )


def _packages_named(plan: Plan) -> tuple[str, ...]:
    fm = plan.packages.fabric_manager if plan.fabric_manager else None
    return (*plan.packages.driver, *((fm,) if fm else ()))


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
