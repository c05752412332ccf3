"""Architecture rules: does each build have code for each GPU, can its CUDA still target it, features."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.version import Version

from cudalign.facts import query
from cudalign.model import ComputeCapability, FactRef
from cudalign.rules.common import Hit, runs

if TYPE_CHECKING:
    from cudalign.rules import Context

__all__ = ["feature_needs_compute_capability", "gpu_arch_dropped", "gpu_arch_not_in_build"]


@dataclass(frozen=True, slots=True)
class _Build:
    what: str
    cuda: Version | None
    archs: tuple[ComputeCapability, ...]
    ptx: tuple[ComputeCapability, ...]
    min_cc: ComputeCapability | None
    refs: tuple[FactRef, ...]
    unknown: str | None = None


def _builds(ctx: Context) -> list[_Build]:
    out: list[_Build] = []
    torch = ctx.stack.component("torch")
    if torch is not None and torch.variant and torch.variant != "cpu":
        cuda = Version(ctx.stack.cuda_runtime) if ctx.stack.cuda_runtime else None
        unknown = None if ctx.stack.archs else ctx.stack.unknown.get("archs", "torch_build fact")
        build_refs = tuple(
            r for r in ctx.stack.facts if r.id in ctx.facts and ctx.facts.get(r.id).kind == "torch_build"
        )
        out.append(
            _Build(
                f"torch {torch.version}+{torch.variant}",
                cuda,
                ctx.stack.archs,
                ctx.stack.ptx,
                None,
                build_refs or ctx.stack.facts[:1],
                unknown,
            )
        )
    for c in ctx.stack.components:
        if c.name == "torch":
            continue
        min_cc = None
        for ref in c.facts:
            fact = ctx.facts.get(ref.id) if ref.id in ctx.facts else None
            if fact is not None and fact.get("min_cc") is not None:
                min_cc = fact["min_cc"]
        cuda = None
        if c.cuda:
            try:
                cuda = Version(c.cuda)
            except ValueError:
                cuda = None
        if c.archs or min_cc is not None:
            out.append(_Build(f"{c.name} {c.version}", cuda, c.archs, c.ptx, min_cc, c.facts))
        elif c.name == "vllm":
            out.append(
                _Build(f"vllm {c.version}", cuda, (), (), None, c.facts, f"vllm_series fact for {c.version}")
            )
    return out


def _dropped(ctx: Context, cc: ComputeCapability, cuda: Version | None) -> query.Answer[bool | None]:
    """True when the build's CUDA is newer than the last toolkit that can target ``cc``."""
    if cuda is None:
        return query.Answer(None)
    ans = query.targetable(ctx.facts, cc, cuda)
    if ans.value is False:
        last = ans.facts[0].get("last_cuda")
        return query.Answer(last is not None and query.cuda_minor(cuda) > query.cuda_minor(last), ans.facts)
    return query.Answer(False if ans.value else None, ans.facts)


def _no_gpu_hit(ctx: Context, what: str) -> Hit:
    return Hit(
        f"No GPU was given, so whether {what} has code for it cannot be decided.",
        "Describe the GPUs with --gpu NAME (repeatable), or run on the GPU host.",
        unknown="host GPUs (--gpu)",
    )


def gpu_arch_not_in_build(ctx: Context) -> Iterator[Hit]:
    """A build has neither machine code nor usable PTX for the GPU's architecture.

    **What it checks.** For each GPU and each build with an architecture list (torch's variant from
    ``torch_build`` facts, vLLM's wheel from ``vllm_series``, neighbouring packages), whether the build
    has machine code for the GPU (code for ``X.y`` runs on ``X.z``, ``z >= y``, never across majors) or
    PTX it can JIT forward; and the package's minimum compute capability.

    **Why.** Without it every kernel launch fails: ``CUDA error: no kernel image is available for
    execution on the device``; torch warns "… with CUDA capability sm_120 is not compatible with the
    current PyTorch installation".

    **How to fix.** Install a build that includes the architecture (e.g. torch ``+cu128`` or newer for
    Blackwell ``sm_120``), or an older release that still ships it for older GPUs.

    **Example.** torch 2.6.0+cu124 on an RTX 5090 (sm_120): fails; torch 2.7.0+cu128 runs.
    """
    builds = _builds(ctx)
    if not builds:
        return
    if not ctx.host.gpus:
        if ctx.host.origin == "described":
            yield _no_gpu_hit(ctx, builds[0].what)
        return
    for gpu, fact in ctx.gpus:
        cc = ctx.cc_of(gpu, fact)
        if cc is None:
            yield Hit(
                f"The compute capability of {gpu.name} is unknown.",
                "Describe the GPU by a known name or sm_XY.",
                unknown=f"gpu fact for {gpu.name!r}",
            )
            continue
        for b in builds:
            if b.min_cc is not None and cc < b.min_cc:
                yield Hit(
                    f"{b.what} needs compute capability >= {b.min_cc}; {gpu.name} is {cc}.",
                    f"Use an older {b.what.split()[0]} release that supports {cc.sm}, or a newer GPU.",
                    b.refs,
                )
                continue
            if b.unknown and not b.archs:
                yield Hit(
                    f"The architectures of {b.what} are not in the knowledge base.",
                    "Add its build facts or run 'cudalign facts update'.",
                    b.refs,
                    unknown=b.unknown,
                )
                continue
            if not b.archs and not b.ptx:
                continue
            if runs(cc, b.archs, b.ptx):
                continue
            if _dropped(ctx, cc, b.cuda).value:
                continue  # gpu-arch-dropped says why, with the toolkit fact
            have = ", ".join(a.sm for a in b.archs) + (
                "" if not b.ptx else " + PTX " + ", ".join(p.sm for p in b.ptx)
            )
            yield Hit(
                f"{b.what} has no code for {gpu.name} ({cc.sm}); it has {have} (no kernel image is available).",
                f"Install a build of {b.what.split()[0]} that includes {cc.sm} (e.g. a newer CUDA variant).",
                b.refs + ((fact.ref,) if fact is not None else ()),
            )


def gpu_arch_dropped(ctx: Context) -> Iterator[Hit]:
    """The stack's CUDA toolkit can no longer compile for the GPU: the architecture was removed.

    **What it checks.** For each GPU and each build, the ``arch_support`` fact of the GPU's capability:
    when the build's CUDA is newer than the last toolkit that can target it (Kepler after 11.8; Maxwell,
    Pascal, Volta after 12.9) and the build has no code for it.

    **Why.** No build of that CUDA major can ever carry code for the GPU: the fix is a build for an older
    CUDA, not a newer release.

    **How to fix.** Choose builds for CUDA at or below the last toolkit named (e.g. torch ``+cu126`` or
    ``+cu128`` for Volta), or replace the GPU.

    **Example.** vLLM 0.20 (CUDA 13.0) on a V100 (sm_70): fails; vLLM 0.19 (CUDA 12.9) has sm_70.
    """
    builds = _builds(ctx)
    for gpu, fact in ctx.gpus:
        cc = ctx.cc_of(gpu, fact)
        if cc is None:
            continue
        for b in builds:
            if (b.archs or b.ptx) and runs(cc, b.archs, b.ptx):
                continue
            ans = _dropped(ctx, cc, b.cuda)
            if ans.value:
                last = ans.facts[0]["last_cuda"]
                yield Hit(
                    f"{b.what} is built with CUDA {b.cuda}, which cannot target {gpu.name} ({cc.sm}): support "
                    f"ended with CUDA {last}.",
                    f"Choose builds for CUDA <= {last} (e.g. 'cudalign plan … --gpu {cc.sm}'), or a newer GPU.",
                    tuple(f.ref for f in ans.facts) + b.refs,
                )


def feature_needs_compute_capability(ctx: Context) -> Iterator[Hit]:
    """A requested feature (``--feature bf16``, ``fp8``, ``flash-attn-3`` …) needs a compute capability the GPU lacks.

    **What it checks.** Each ``--feature`` against the ``feature`` fact of that name: the capability
    range that has it, against every GPU.

    **Why.** Features are tied to hardware: bf16 needs Ampere (8.0), FP8 needs Ada/Hopper (8.9),
    FlashAttention-3 needs Hopper (9.0). The software may install and import fine and then refuse or
    fall back at run time.

    **How to fix.** Drop the feature (use fp16, a non-FP8 checkpoint, FlashAttention-2), or run on a GPU
    in the range the message names.

    **Example.** ``--feature bf16`` on a T4 (7.5): fails; on an A10 (8.6): ok.
    """
    for name in ctx.features:
        fact = query.feature(ctx.facts, name)
        if fact is None:
            yield Hit(
                f"The feature {name!r} is not in the knowledge base.",
                "Use a known feature name (see 'cudalign facts show').",
                unknown=f"feature fact {name!r}",
            )
            continue
        if not ctx.host.gpus:
            yield Hit(
                f"No GPU was given, so whether it has {fact['name']} cannot be decided.",
                "Describe the GPUs with --gpu NAME.",
                (fact.ref,),
                unknown="host GPUs (--gpu)",
            )
            continue
        for gpu, gfact in ctx.gpus:
            cc = ctx.cc_of(gpu, gfact)
            if cc is None:
                yield Hit(
                    f"The compute capability of {gpu.name} is unknown.",
                    "Describe the GPU by a known name.",
                    (fact.ref,),
                    unknown=f"gpu fact for {gpu.name!r}",
                )
            elif not fact["cc"].contains(cc.version, prereleases=True):
                yield Hit(
                    f"{fact['name']} needs compute capability {fact['cc']}; {gpu.name} is {cc}.",
                    f"Do without {fact['name']} on this GPU, or use a GPU with compute capability {fact['cc']}.",
                    (fact.ref, *((gfact.ref,) if gfact is not None else ())),
                )
