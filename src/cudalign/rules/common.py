"""What every rule module shares: the Hit a check yields and the architecture-coverage arithmetic."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from cudalign._dataclass import dataclass
from cudalign.model import Component, ComputeCapability, Condition, FactRef, Host, Severity

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts
    from cudalign.rules import Context

__all__ = [
    "Hit",
    "cuda_majors_provided",
    "cudnn_majors_provided",
    "driver_os",
    "has_sass",
    "jit_only",
    "jit_targets",
    "label",
    "neighbour_needs",
    "runs",
    "topic_refs",
]


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
    condition: Condition | None = None
    """What must hold on a host value the user did not state (the verdict is then ``caveats``)."""


def driver_os(host: Host) -> str:
    """Whose driver numbering the host's driver follows: ``windows`` on Windows and under WSL2 (whose
    driver is the Windows one, exposed through /usr/lib/wsl/lib), else ``linux``. NVIDIA's toolkit table
    gives a separate Windows minimum for each CUDA release (12.8 GA: 570.26 Linux, 570.65 Windows)."""
    system = (host.os.system or "").lower()
    kernel = (host.os.kernel or "").lower()
    return "windows" if system.startswith("win") or "microsoft" in kernel or "wsl" in kernel else "linux"


def has_sass(cc: ComputeCapability, archs: Iterable[ComputeCapability]) -> bool:
    """Machine code for ``X.y`` runs on ``X.z`` with ``z >= y``, never across majors; ``sm_XYa`` code on
    ``X.Y`` only, ``sm_XYf`` code on the members of its family (:meth:`ComputeCapability.sass_runs_on`)."""
    return any(a.sass_runs_on(cc) for a in archs)


def runs(cc: ComputeCapability, archs: Iterable[ComputeCapability], ptx: Iterable[ComputeCapability]) -> bool:
    """Whether a build has machine code for the GPU or PTX the driver can JIT-compile for it."""
    return has_sass(cc, archs) or bool(jit_targets(cc, ptx))


def jit_targets(cc: ComputeCapability, ptx: Iterable[ComputeCapability]) -> tuple[ComputeCapability, ...]:
    """The PTX the driver can JIT-compile for the GPU: plain PTX of an older or equal capability, family
    PTX of its family, architecture-specific PTX of exactly its capability."""
    return tuple(p for p in ptx if p.ptx_runs_on(cc))


def jit_only(
    cc: ComputeCapability, archs: Iterable[ComputeCapability], ptx: Iterable[ComputeCapability]
) -> bool:
    """The GPU runs the build only by JIT-compiling its PTX."""
    return not has_sass(cc, archs) and bool(jit_targets(cc, ptx))


def topic_refs(facts: Facts, *ids: str) -> tuple[FactRef, ...]:
    """References to topic facts by id, skipping ids the knowledge base lacks."""
    return tuple(facts.get(i).ref for i in ids if i in facts)


_MAJORS: dict[str, int | None] = {}


def _major(text: str | None) -> int | None:
    if not text:
        return None
    if text not in _MAJORS:
        try:
            _MAJORS[text] = Version(str(text)).major
        except InvalidVersion:
            _MAJORS[text] = None
    return _MAJORS[text]


def cuda_majors_provided(ctx: Context) -> set[int]:
    """CUDA majors whose libraries the stack or host provides: torch, nvidia-* wheels, toolkits, image."""
    return set(ctx.once("cuda_majors_provided", lambda: frozenset(_cuda_majors_provided(ctx))))


def _cuda_majors_provided(ctx: Context) -> set[int]:
    out: set[int] = set()
    torch = ctx.stack.component("torch")
    if torch is not None and torch.variant and torch.variant.startswith("cu"):
        m = _major(ctx.stack.cuda_runtime)
        if m is not None:
            out.add(m)
    for tk in ctx.host.cuda_toolkits:
        m = _major(tk)
        if m is not None:
            out.add(m)
    if ctx.stack.image_cuda and ctx.stack.image and "-base-" not in ctx.stack.image:
        m = _major(ctx.stack.image_cuda)
        if m is not None:
            out.add(m)
    from cudalign.facts import query

    for name in [p.name for p in ctx.host.packages] + [c.name for c in ctx.stack.components]:
        wheel = query.cuda_library_wheel(ctx.facts, name)
        if wheel is not None and wheel[0].get("provides_cuda"):
            out.add(wheel[1])
    return out


def cudnn_majors_provided(ctx: Context) -> set[int]:
    """cuDNN majors present: torch's pin, the host's cuDNN, installed nvidia-cudnn wheels."""
    return set(ctx.once("cudnn_majors_provided", lambda: frozenset(_cudnn_majors_provided(ctx))))


def _cudnn_majors_provided(ctx: Context) -> set[int]:
    out: set[int] = set()
    for text in (ctx.stack.cudnn, *ctx.host.cudnn.values()):
        m = _major(text)
        if m is not None:
            out.add(m)
    from cudalign.facts import query

    for c in ctx.stack.components:
        wheel = query.cuda_library_wheel(ctx.facts, c.name)
        if wheel is not None and wheel[0]["library"] == "cudnn":
            m = _major(c.version)
            if m is not None:
                out.add(m)
    return out


def neighbour_needs(ctx: Context) -> list[tuple[Component, Fact]]:
    """Packages that load CUDA libraries they do not bring (``package_build.cuda_major``), with the fact."""
    return list(ctx.once("neighbour_needs", lambda: tuple(_neighbour_needs(ctx))))


def _neighbour_needs(ctx: Context) -> list[tuple[Component, Fact]]:
    from cudalign.facts import query

    out = []
    for c in ctx.stack.components:
        if query.package_flag(ctx.facts, c.name, "through_torch"):
            continue
        for ref in c.facts:
            if ref.id in ctx.facts:
                f = ctx.facts.get(ref.id)
                if f.kind == "package_build" and not f.get("component"):
                    out.append((c, f))
    return out


def label(c: Component) -> str:
    """``2.9.0+cu128``: the version with its variant, without doubling a local label already there."""
    if c.variant and "+" not in c.version:
        return f"{c.version}+{c.variant}"
    return c.version
