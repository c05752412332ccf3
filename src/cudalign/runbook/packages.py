"""Which packages a runbook installs, which release it names, and which branches it may recommend.

Package names come from ``[[driver_package]]`` facts (NVIDIA's driver installation guide), releases from
``[[driver_release]]`` facts: nothing here invents a name. Which branches are still supported is
:func:`cudalign.facts.query.supported_branches`, the one definition check, plan and explain share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cudalign._dataclass import dataclass
from cudalign.errors import InvalidInput
from cudalign.facts.query import driver_text

if TYPE_CHECKING:
    from packaging.version import Version

    from cudalign.facts import Fact, Facts
    from cudalign.model import FactRef
    from cudalign.runbook.distros import Distro

__all__ = [
    "PackageChoice",
    "branch_can_drive",
    "choose",
    "gpu_min_driver",
    "lowest_branch",
    "newest_release",
]


@dataclass(frozen=True, slots=True)
class PackageChoice:
    """The names a runbook uses for one distribution, branch and flavour."""

    driver: tuple[str, ...]
    """What to install, the pinning package first where there is one."""
    fabric_manager: str | None
    stream: str | None
    """RHEL: the module stream (``nvidia-driver:580-open``)."""
    inferred: tuple[str, ...]
    """Names the guide shows only as a pattern: the runbook says so next to the command."""
    refs: tuple[FactRef, ...]

    @property
    def pinning(self) -> str | None:
        return next((n for n in self.driver if "pinning" in n), None)


def _matches(fact: Fact, family: str, role: str, flavour: str, branch: int) -> bool:
    from packaging.version import Version

    return (
        fact["family"] == family
        and fact["role"] == role
        and fact["flavour"] in (flavour, "any")
        and fact["branches"].contains(Version(str(branch)))
    )


def _pick(facts: Facts, family: str, role: str, flavour: str, branch: int) -> Fact | None:
    return next(
        (f for f in facts.of_kind("driver_package") if _matches(f, family, role, flavour, branch)), None
    )


def choose(facts: Facts, distro: Distro, branch: int, flavour: str) -> PackageChoice:
    """The packages for ``branch`` on ``distro``; :class:`InvalidInput` when the guide names none."""
    family = distro.id if distro.id in ("ubuntu", "debian") else "rhel"
    chosen: list[Fact] = []
    driver: list[str] = []
    for role in ("pinning", "driver"):
        fact = _pick(facts, family, role, flavour, branch)
        if fact is not None:
            chosen.append(fact)
            driver.append(str(fact["name"]).format(branch=branch))
    stream_fact = _pick(facts, family, "stream", flavour, branch) if family == "rhel" else None
    if stream_fact is not None:
        chosen.append(stream_fact)
    if not any(f["role"] in ("driver", "stream") for f in chosen):
        raise InvalidInput(
            f"--driver R{branch}: NVIDIA's repository for {distro.label} has no {flavour} kernel module "
            f"package for R{branch} that the knowledge base knows",
            hint="choose a newer branch (cudalign plan lists the ones that fit)",
        )
    fm = _pick(facts, family, "fabricmanager", flavour, branch)
    if fm is not None:
        chosen.append(fm)
    names = {f.id: str(f["name"]).format(branch=branch) for f in chosen}
    return PackageChoice(
        driver=tuple(driver),
        fabric_manager=names[fm.id] if fm is not None else None,
        stream=names[stream_fact.id] if stream_fact is not None else None,
        inferred=tuple(names[f.id] for f in chosen if f.get("inference")),
        refs=tuple(f.ref for f in chosen),
    )


def newest_release(facts: Facts, branch: int) -> Fact | None:
    """The newest release of ``branch`` the knowledge base records."""
    releases = [f for f in facts.of_kind("driver_release") if f["branch"] == branch]
    return max(releases, key=lambda f: f["version"], default=None)


def gpu_min_driver(facts: Facts, gpu: Fact) -> tuple[Version, str] | None:
    """The oldest driver that can drive ``gpu``, and where that comes from.

    The GPU's own ``min_driver`` where the knowledge base has one; otherwise the minimum driver of the
    first CUDA toolkit that can target its architecture (a driver older than that toolkit predates the GPU).
    """
    low = gpu.get("min_driver")
    if low is not None:
        return low, f"{gpu['name']} needs driver >= {driver_text(low)}"
    arch = next((f for f in facts.of_kind("arch_support") if f["cc"] == gpu["cc"]), None)
    if arch is None:
        return None
    first = arch["first_cuda"]
    toolkits = [
        f
        for f in facts.of_kind("toolkit")
        if f.get("driver_linux") is not None and f["version"].release[:2] == first.release[:2]
    ]
    if not toolkits:
        return None
    oldest = min(toolkits, key=lambda f: f["version"])
    return oldest["driver_linux"], (
        f"{gpu['name']} (compute capability {gpu['cc']}) needs driver >= "
        f"{driver_text(oldest['driver_linux'])}, the minimum of CUDA {first}, the first toolkit that "
        "targets it"
    )


def branch_can_drive(facts: Facts, branch: int, gpu: Fact) -> str | None:
    """Why ``branch`` cannot drive ``gpu`` (its minimum driver, a branch that dropped it); None if it can."""
    low = gpu_min_driver(facts, gpu)
    if low is not None and low[0].major > branch:
        return low[1]
    for f in facts.of_kind("driver_branch"):
        if gpu["arch"] in f.get("last_for", ()) and f["branch"] < branch:
            return f"R{f['branch']} is the last branch for {gpu['arch']} GPUs ({gpu['name']})"
    return None


def lowest_branch(facts: Facts, gpus: list[Fact]) -> Fact | None:
    """The lowest known branch that drives every GPU in ``gpus``."""
    for f in sorted(facts.of_kind("driver_branch"), key=lambda f: f["branch"]):
        if all(branch_can_drive(facts, f["branch"], g) is None for g in gpus):
            return f
    return None
