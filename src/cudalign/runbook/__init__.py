"""Driver upgrade runbooks: what a careful operator does, as data that renders to Markdown or a shell script.

:func:`build` takes a :class:`~cudalign.model.Host` (probed, recorded or described), the knowledge base and
a :class:`Target` branch, and returns a :class:`Runbook`: phases of steps (preflight, staging before the
maintenance window, the window itself, verification, rollback), each with the commands for the host's
distribution. cudalign never runs them; the ``sh`` rendering puts every destructive step behind an
explicit confirmation. Pure: GPU processes seen at generation time are passed in, not read here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cudalign._dataclass import dataclass, field
from cudalign.errors import InvalidInput
from cudalign.model import FactRef, Finding, GpuProcess, Report

if TYPE_CHECKING:
    import datetime

    from cudalign.facts import Facts
    from cudalign.model import Host
    from cudalign.runbook.distros import Distro

__all__ = [
    "PHASES",
    "SCHEMA",
    "GpuProcess",
    "Runbook",
    "Section",
    "Step",
    "Target",
    "build",
    "parse_target",
    "report",
]

SCHEMA = "cudalign.runbook/1"

PHASES: tuple[tuple[str, str, str], ...] = (
    ("preflight", "Preflight", "now, read-only: nothing changes on the host"),
    (
        "stage",
        "Stage",
        "before the maintenance window: repositories and downloads, the running driver untouched",
    ),
    ("window", "Maintenance window", "workloads stopped: install, then reboot"),
    ("verify", "Verify", "after the reboot"),
    ("rollback", "Rollback", "only if verification fails: back to the recorded driver"),
)


@dataclass(frozen=True, slots=True)
class Target:
    """The driver the runbook goes to: a branch (``575``), optionally an exact version (``575.57.08``)."""

    branch: int
    version: str | None = None

    def __str__(self) -> str:
        return self.version or f"R{self.branch}"


def parse_target(text: str) -> Target:
    """Accept what ``plan`` prints and what people type: ``575``, ``R575``, ``r575``, ``575.57.08``."""
    t = text.strip()
    m = re.fullmatch(r"[Rr]?(\d{3})", t)
    if m:
        return Target(int(m.group(1)))
    m = re.fullmatch(r"(\d{3})\.(\d{1,3})(?:\.(\d{1,3}))?", t)
    if m:
        return Target(int(m.group(1)), t)
    raise InvalidInput(
        f"--driver {text!r}: not a driver branch or version",
        hint="use a branch (575, R575) or a full version (575.57.08)",
    )


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the operator does."""

    title: str
    why: str
    """One or two sentences: why a careful operator does this."""
    commands: tuple[str, ...] = ()
    """Shell commands (bash), in order; comments start with ``#``."""
    destructive: bool = False
    """Changes packages, kernel modules or reboots: the script asks before running it."""
    gate: str | None = None
    """A question the operator must answer yes to before going on (console access, workloads stopped)."""
    expect: str | None = None
    """What the output should show."""
    root: bool = False
    """Needs root."""


@dataclass(frozen=True, slots=True)
class Section:
    """One phase of the runbook."""

    key: str
    title: str
    when: str
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Runbook:
    """Everything the renderers need."""

    target: Target
    distro: Distro
    flavour: str
    """Kernel module flavour to install: ``open`` or ``proprietary``."""
    current: str | None
    """The driver on the host now, when known."""
    change_needed: bool
    summary: str
    host_label: str
    gpus: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()
    findings: tuple[Finding, ...] = ()
    """Blockers (error) and things to weigh (warning, info) about this upgrade."""
    facts: tuple[FactRef, ...] = ()
    processes: tuple[GpuProcess, ...] | None = None
    """GPU processes seen at generation time; ``None`` when they could not be read here."""
    expected: dict[str, str] = field(default_factory=dict)
    """Values verification expects (``driver_branch``, ``gpu_count``, ``kernel_module``, ``max_cuda``)."""
    command: str | None = None
    """The cudalign command line that writes this runbook as a script, when the CLI made it."""
    kernel: str | None = None
    """The running kernel the runbook was written for, when known: the script refuses another one."""
    repo_packages: tuple[str, ...] = ()
    """What the runbook installs from NVIDIA's repository (the script's simulation names them)."""


def build(
    host: Host,
    facts: Facts,
    target: Target,
    *,
    processes: tuple[GpuProcess, ...] | None = None,
    today: datetime.date | None = None,
) -> Runbook:
    """The runbook that takes ``host`` to ``target``.

    Raises :class:`~cudalign.errors.InvalidInput` when the target branch cannot drive one of the host's
    GPUs (the message names the branches that can); ``today`` decides which branches are still supported.
    """
    from cudalign.runbook.steps import build_runbook

    return build_runbook(host, facts, target, processes=processes, today=today)


def report(runbook: Runbook, host: Host | None = None) -> Report:
    """The runbook as a report (``cudalign.runbook/1``); renderers find it under ``data['runbook']``."""
    return Report(schema=SCHEMA, host=host, findings=runbook.findings, data={"runbook": runbook})
