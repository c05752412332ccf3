"""The repo rules of ``scan`` (CA6xx): drift between services and misalignments inside one service.

Each rule is a stable code, a name, a severity, a title and one check over a :class:`RepoContext`;
the check's docstring is the rule's documentation (docs page and SARIF help text), as for the
engine's catalogue in :mod:`cudalign.rules`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.version import Version

from cudalign.model import FactRef, Finding, Location, Severity
from cudalign.scan.analysis import ServiceView
from cudalign.scan.model import Problem

if TYPE_CHECKING:
    from cudalign.facts import Facts

__all__ = ["SCAN_RULES", "RepoContext", "ScanHit", "ScanRule", "driver_text", "run_repo_rules", "scan_rule"]


@dataclass(frozen=True, slots=True)
class ScanHit:
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
class ScanRule:
    """One repo rule of the catalogue."""

    code: str
    """Stable code, ``CA601`` … ``CA609``."""
    name: str
    """Stable name, ``torch-drift`` …"""
    severity: Severity
    """Default severity (``[tool.cudalign.severity]`` overrides it)."""
    title: str
    """One line for tables and SARIF's short description."""
    function: Callable[[RepoContext], Iterable[ScanHit]] = field(repr=False)
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


def unparseable_file(ctx: RepoContext) -> Iterable[ScanHit]:
    """A file scan reads does not parse: TOML or YAML syntax, a requirement that is not PEP 508, an
    option without its value.

    The tools that read it (pip, uv, Docker, Compose, kubectl) reject the same file, and scan cannot
    check what it declares. The finding names the line the parser stopped at.

    Fix: correct the syntax at that line.
    """
    for p in ctx.problems:
        yield ScanHit(p.message, "correct the syntax at that line", p.location)


from cudalign.scan.rules_drift import cuda_drift, torch_drift  # noqa: E402
from cudalign.scan.rules_images import (  # noqa: E402
    base_image_cuda_mismatch,
    driver_text,
    gpu_service_without_reservation,
    image_needs_newer_driver_than_fleet,
)
from cudalign.scan.rules_pins import duplicate_pin, unpinned_cuda_package, variant_without_index  # noqa: E402

SCAN_RULES: tuple[ScanRule, ...] = (
    ScanRule("CA601", "torch-drift", Severity.WARNING, "Services run different torch versions", torch_drift),
    ScanRule("CA602", "cuda-drift", Severity.WARNING, "Services load different CUDA runtimes", cuda_drift),
    ScanRule(
        "CA603",
        "base-image-cuda-mismatch",
        Severity.WARNING,
        "The base image's CUDA differs from the torch wheel's CUDA",
        base_image_cuda_mismatch,
    ),
    ScanRule(
        "CA604",
        "unpinned-cuda-package",
        Severity.WARNING,
        "A CUDA-sensitive package is not pinned",
        unpinned_cuda_package,
    ),
    ScanRule(
        "CA605",
        "variant-without-index",
        Severity.ERROR,
        "A +cuXYZ pin with no index that serves it",
        variant_without_index,
    ),
    ScanRule(
        "CA606",
        "duplicate-pin",
        Severity.WARNING,
        "One service pins a package differently in two files",
        duplicate_pin,
    ),
    ScanRule(
        "CA607",
        "gpu-service-without-reservation",
        Severity.WARNING,
        "A compose service with a GPU stack reserves no GPU",
        gpu_service_without_reservation,
    ),
    ScanRule(
        "CA608",
        "image-needs-newer-driver-than-fleet",
        Severity.ERROR,
        "An image needs a newer driver than the fleet has",
        image_needs_newer_driver_than_fleet,
    ),
    ScanRule("CA609", "unparseable-file", Severity.WARNING, "A file does not parse", unparseable_file),
)

_BY_KEY = {**{r.code: r for r in SCAN_RULES}, **{r.name: r for r in SCAN_RULES}}


def scan_rule(code_or_name: str) -> ScanRule:
    """A repo rule by code or name; ``KeyError`` if there is none."""
    key = code_or_name.strip()
    return _BY_KEY[key.upper() if key[:2].upper() == "CA" else key]


def run_repo_rules(ctx: RepoContext) -> list[Finding]:
    """Every repo rule, in catalogue order."""
    out: list[Finding] = []
    for r in SCAN_RULES:
        out.extend(r.run(ctx))
    return out
