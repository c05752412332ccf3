"""The repo rules (CA6xx) that ``scan`` runs: drift between services and misalignments inside one service.

Each rule is a stable code, a name, a severity, a title and one check over a :class:`RepoContext`; the
check's docstring is the rule's documentation (docs page and SARIF help text), as for the engine rules.
The rules themselves live in ``repo_drift``, ``repo_images`` and ``repo_pins``; the one catalogue,
:data:`cudalign.rules.RULES`, lists them. This module imports none of them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from packaging.version import Version

from cudalign._dataclass import dataclass, field
from cudalign.model import FactRef, Finding, Location, Severity

if TYPE_CHECKING:
    from cudalign.facts import Facts
    from cudalign.scan.analysis import ServiceView
    from cudalign.scan.model import Problem

__all__ = ["RepoContext", "RepoHit", "RepoRule", "driver_text", "unparseable_file"]


@dataclass(frozen=True, slots=True)
class RepoHit:
    """What a repo check yields; the rule adds code, name and severity."""

    message: str
    """One sentence: what is wrong, with the versions and files involved."""
    fix: str
    """One sentence: what to do."""
    location: Location | None
    """The line that decides it (a pin, a ``FROM``, a compose service)."""
    service: str | None = None
    facts: tuple[FactRef, ...] = ()
    """Knowledge-base facts the finding rests on (minimum drivers, image requirements)."""
    severity: Severity | None = None
    """Overrides the rule's severity where the same rule can be a caveat or a failure."""


@dataclass(frozen=True, slots=True)
class RepoContext:
    """Everything the repo rules look at."""

    views: Sequence[ServiceView]
    """Every service with its resolved stack and image facts."""
    facts: Facts
    fleet_driver: Version | None = None
    """The lowest driver of the target fleet (``--fleet-driver``, ``--driver`` or ``[tool.cudalign]``)."""
    problems: Sequence[Problem] = ()
    """What did not parse (CA609)."""
    engine_codes: dict[str, frozenset[str]] = field(default_factory=dict)
    """Service -> engine rule codes already reported for it (to avoid saying one thing twice)."""


@dataclass(frozen=True, slots=True)
class RepoRule:
    """One repo rule of the catalogue."""

    code: str
    """Stable code, ``CA601`` … ``CA609``."""
    name: str
    """Stable name, ``torch-drift`` …"""
    severity: Severity
    """Default severity (``[tool.cudalign.severity]`` overrides it)."""
    title: str
    """One line for tables and SARIF's short description."""
    function: Callable[[RepoContext], Iterable[RepoHit]] = field(repr=False)
    """The check; its docstring is the rule's documentation."""

    @property
    def doc(self) -> str:
        """The docstring of the check: what it checks, why, and how to fix it."""
        return inspect.cleandoc(self.function.__doc__ or "")

    def run(self, ctx: RepoContext) -> list[Finding]:
        return [
            Finding(
                code=self.code,
                name=self.name,
                severity=h.severity or self.severity,
                message=h.message,
                fix=h.fix,
                facts=h.facts,
                location=h.location,
                service=h.service,
            )
            for h in self.function(ctx)
        ]


def unparseable_file(ctx: RepoContext) -> Iterable[RepoHit]:
    """A file scan reads does not parse: TOML or YAML syntax, a requirement that is not PEP 508, an
    option without its value.

    The tools that read it (pip, uv, Docker, Compose, kubectl) reject the same file, and scan cannot
    check what it declares. The finding names the line the parser stopped at.

    Fix: correct the syntax at that line (an include that is missing or loops: fix or remove the
    include).
    """
    for p in ctx.problems:
        yield RepoHit(p.message, p.fix or "correct the syntax at that line", p.location)


def driver_text(version: Version) -> str:
    """A driver version as NVIDIA writes it: the third part has two digits (``580.65.06``)."""
    parts = [str(p) for p in version.release]
    if len(parts) >= 3:
        parts[2] = parts[2].zfill(2)
    return ".".join(parts)
