"""What every rule module shares: the Hit a check yields and the architecture-coverage arithmetic."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cudalign.model import ComputeCapability, FactRef, Severity

if TYPE_CHECKING:
    from cudalign.facts import Facts

__all__ = ["Hit", "has_sass", "jit_only", "runs", "topic_refs"]


@dataclass(frozen=True, slots=True)
class Hit:
    """What a check function yields; the Rule adds its code and name to make a Finding."""

    message: str
    """One sentence: what is wrong."""
    fix: str
    """One sentence: what to do."""
    facts: tuple[FactRef, ...] = ()
    severity: Severity | None = None
    """Overrides the rule's severity (an undecided check yields ``info`` with ``unknown`` set)."""
    unknown: str | None = None
    """The missing fact when the check could not decide."""


def has_sass(cc: ComputeCapability, archs: Iterable[ComputeCapability]) -> bool:
    """Machine code for ``X.y`` runs on ``X.z`` with ``z >= y``, never across majors."""
    return any(a.major == cc.major and a.minor <= cc.minor for a in archs)


def runs(cc: ComputeCapability, archs: Iterable[ComputeCapability], ptx: Iterable[ComputeCapability]) -> bool:
    """Whether a build has machine code for the GPU or PTX the driver can JIT forward to it."""
    return has_sass(cc, archs) or any(p <= cc for p in ptx)


def jit_only(
    cc: ComputeCapability, archs: Iterable[ComputeCapability], ptx: Iterable[ComputeCapability]
) -> bool:
    """The GPU runs the build only by JIT-compiling its PTX."""
    return not has_sass(cc, archs) and any(p <= cc for p in ptx)


def topic_refs(facts: Facts, *ids: str) -> tuple[FactRef, ...]:
    """References to topic facts by id, skipping ids the knowledge base lacks."""
    return tuple(facts.get(i).ref for i in ids if i in facts)
