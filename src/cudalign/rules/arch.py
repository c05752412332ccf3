"""Architecture rules: does each build have code for each GPU, can its CUDA still target it, features."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from packaging.version import Version

from cudalign._dataclass import dataclass
from cudalign.facts import query
from cudalign.model import ComputeCapability, FactRef, Gpu, Severity
from cudalign.rules.common import Hit, jit_only, label, runs, topic_refs
from cudalign.rules.release_archs import gpu_dropped_by_release, gpu_newer_than_release, release_fact

if TYPE_CHECKING:
    from cudalign.facts import Fact
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
    """The builds of the stack with their architectures (:func:`_find_builds`), once per context."""
    return list(ctx.once("arch.builds", lambda: tuple(_find_builds(ctx))))


def _find_builds(ctx: Context) -> list[_Build]:
    out: list[_Build] = []
    torch = ctx.stack.component("torch")
    if torch is not None and torch.variant and torch.variant != "cpu":
        cuda = query.parse_version(ctx.stack.cuda_runtime) if ctx.stack.cuda_runtime else None
        unknown = None if ctx.stack.archs else ctx.stack.unknown.get("archs", "torch_build fact")
        build_refs = tuple(
            r for r in ctx.stack.facts if r.id in ctx.facts and ctx.facts.get(r.id).kind == "torch_build"
        )
        out.append(
            _Build(
                f"torch {label(torch)}",
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
        # attention backends vLLM pins but selects at run time only on GPUs they support (others fall back)
        backend = query.package_flag(ctx.facts, c.name, "attention_backend")
        if backend and c.requirement and c.requirement.startswith("pinned by"):
            continue  # installed as a dependency, used only where the GPU supports it
        min_cc = None
        for ref in c.facts:
            fact = ctx.facts.get(ref.id) if ref.id in ctx.facts else None
            if fact is not None and fact.get("min_cc") is not None:
                min_cc = fact["min_cc"]
        cuda = None
        if c.cuda:
            try:
                cuda = query.parse_version(c.cuda)
            except ValueError:
                cuda = None
        if c.archs or min_cc is not None:
            facts = ctx.facts
            own = tuple(r for r in c.facts if r.id not in facts or not facts.get(r.id).get("component"))
            out.append(_Build(f"{c.name} {c.version}", cuda, c.archs, c.ptx, min_cc, own))
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


_SERIES_KINDS = ("vllm_series", "torch_series", "torch_build", "package_build")


def _assumed_series(ctx: Context) -> Iterator[Hit]:
    """A release newer than the series facts, judged on its predecessor's facts: a caveat naming them."""
    seen: set[tuple[str, str]] = set()
    for c in ctx.stack.components:
        refs = [*c.facts, *(ctx.stack.facts if c.name == "torch" else ())]
        for ref in refs:
            fact = ctx.facts.get(ref.id) if ref.id in ctx.facts else None
            if fact is None or fact.kind not in _SERIES_KINDS or (c.name, fact.id) in seen:
                continue
            owner = (
                fact.get("package") or fact.kind.split("_")[0]
            )  # vllm_series -> vllm, torch_build -> torch
            if str(owner).lower() != c.name:
                continue
            if query.series_assumed(fact, c.version):
                seen.add((c.name, fact.id))
                yield Hit(
                    f"{c.name} {c.version} is newer than the knowledge base's {fact.kind} facts: it is "
                    f"judged on {fact.id} ({fact['versions']}), its predecessor's, as an assumption.",
                    "Check the release notes of the new release for a CUDA or architecture change; the "
                    "assumption holds until a series fact covers it.",
                    (fact.ref,),
                    severity=Severity.WARNING,
                )


def _older(ctx: Context, cc: ComputeCapability, b: _Build) -> tuple[bool, tuple[FactRef, ...], str]:
    """Whether the GPU is missing because it is too OLD for the build (support dropped), and why."""
    if b.min_cc is not None and cc < b.min_cc:
        return True, b.refs, f"{b.what} needs compute capability >= {b.min_cc}"
    dropped = _dropped(ctx, cc, b.cuda)
    if dropped.value:
        last = dropped.facts[0]["last_cuda"]
        return (
            True,
            tuple(f.ref for f in dropped.facts) + b.refs,
            (
                f"{b.what} is built with CUDA {b.cuda}, which cannot target {cc.sm} (support ended with "
                f"CUDA {last})"
            ),
        )
    lowest = min((*b.archs, *b.ptx), default=None)
    if lowest is not None and cc < lowest:
        return True, b.refs, f"{b.what} ships code from {lowest.sm} up; {cc.sm} was dropped from this build"
    return False, b.refs, ""


def _gpu_builds(ctx: Context) -> Iterator[tuple[Gpu, Fact | None, ComputeCapability | None, _Build]]:
    builds = _builds(ctx)
    for gpu, fact in ctx.gpus:
        cc = ctx.cc_of(gpu, fact)
        for b in builds:
            yield gpu, fact, cc, b


def gpu_arch_not_in_build(ctx: Context) -> Iterator[Hit]:
    """A build has neither machine code nor usable PTX for a GPU newer than it: the build predates the GPU.

    **What it checks.** For each GPU and each build with an architecture list (torch's variant from
    ``torch_build`` facts, vLLM's wheel from ``vllm_series``, neighbouring packages), whether the build
    has machine code for the GPU (code for ``X.y`` runs on ``X.z``, ``z >= y``, never across majors) or
    PTX it can JIT forward. GPUs older than the build are ``gpu-arch-dropped``. A GPU the build reaches
    only through PTX is a caveat (warning): it runs once the driver has JIT-compiled the kernels.
    An NGC framework release (``nvcr.io/nvidia/pytorch:20.06-py3``; ``image_release.gpus_by_cuda``)
    supports the GPUs its CUDA targets (topic ``image.ngc-gpus``): a GPU whose architecture's first CUDA
    (``arch_support``) is newer than the release's fails, and the fix names the first release of that
    image the knowledge base records whose CUDA supports it; a release or architecture whose CUDA is not
    recorded is unknown.

    **Why.** Without it every kernel launch fails: ``CUDA error: no kernel image is available for
    execution on the device``; torch warns "… with CUDA capability sm_120 is not compatible with the
    current PyTorch installation". An NGC container prints "Detected NVIDIA GeForce RTX 3090 GPU, which
    is not yet supported in this version of the container" and "ERROR: No supported GPU(s) detected to
    run this container".

    On a described host without ``--gpu`` the verdict rests on what was stated and the GPU becomes a
    condition: every compute capability of a known GPU is tried with the GPU rules (CA101, CA103,
    CA201-CA203, CA402) and those that run make the condition ("runs on GPUs sm_75 to sm_120"); an error
    when none does.

    **How to fix.** Install a build that includes the architecture (e.g. torch ``+cu128`` or newer for
    Blackwell ``sm_120``); where another CUDA variant of the same torch release has it, the fix names it
    (torch 1.9.0's PyPI build is CUDA 10.2 without ``sm_86``: ``1.9.0+cu111`` has it). In an image whose
    releases' torch the knowledge base knows (``image_torch`` facts), the fix names the first release
    whose torch has it (text-generation-inference 3.3.1).

    **Example.** torch 2.6.0+cu124 on an RTX 5090 (sm_120): fails; torch 2.7.0+cu128 runs.
    ``nvcr.io/nvidia/pytorch:20.06-py3`` (CUDA 11.0) on an RTX 3090 (sm_86, CUDA 11.1): fails, use 21.02.
    onnxruntime-gpu 1.23.0 on an RTX 5090: fails (its only PTX is the Hopper-specific ``compute_90a``);
    1.22.0: caveats (``compute_90`` PTX, JIT); 1.27.0: ok (``sm_120`` machine code).
    """
    yield from _assumed_series(ctx)
    builds = _builds(ctx)
    if not ctx.host.gpus:
        if ctx.host.origin == "described" and (builds or ctx.features or release_fact(ctx) is not None):
            from cudalign.rules.conditions import gpu_condition

            yield from gpu_condition(ctx)
        return
    yield from gpu_newer_than_release(ctx, report_cc=not builds)
    if not builds:
        return
    for gpu, fact, cc, b in _gpu_builds(ctx):
        if cc is None:
            yield Hit(
                f"The compute capability of {gpu.name} is unknown.",
                "Describe the GPU by a known name or sm_XY.",
                unknown=f"gpu fact for {gpu.name!r}",
            )
            return
        if b.unknown and not b.archs:
            if b.min_cc is None or cc >= b.min_cc:
                yield Hit(
                    f"The architectures of {b.what} are not in the knowledge base.",
                    "Add its build facts or run 'cudalign facts update'.",
                    b.refs,
                    unknown=b.unknown,
                )
            continue
        if not b.archs and not b.ptx:
            continue
        if jit_only(cc, b.archs, b.ptx):
            jit = ", ".join(p.sm.replace("sm_", "compute_") for p in b.ptx if p.ptx_runs_on(cc))
            yield Hit(
                f"{b.what} has no machine code for {gpu.name} ({cc.sm}), only PTX ({jit}) that the driver "
                "JIT-compiles: it runs, but the first launch compiles every kernel (a slow start, cached "
                "in the CUDA compute cache) and code built for newer architectures is absent.",
                f"Fine to run as is; for machine code use a build of {b.what.split()[0]} that includes "
                f"{cc.sm}.",
                b.refs + ((fact.ref,) if fact is not None else ()),
                severity=Severity.WARNING,
            )
            continue
        if runs(cc, b.archs, b.ptx) or _older(ctx, cc, b)[0]:
            continue
        have = ", ".join(a.sm for a in b.archs) + (
            "" if not b.ptx else " + PTX " + ", ".join(p.sm.replace("sm_", "compute_") for p in b.ptx)
        )
        first = query.targetable(ctx.facts, cc, b.cuda) if b.cuda is not None else query.Answer(None)
        why = f" (CUDA {b.cuda} predates {cc.sm})" if first.value is False else ""
        exact = [a.sm for a in (*b.archs, *b.ptx) if a.variant == "a" and a.major == cc.major]
        if exact:  # sm_100a next to a 10.3 GPU reads as a match; say why it is none
            why += (
                f" ({', '.join(dict.fromkeys(exact))}: architecture-specific, runs on that capability only)"
            )
        rule = topic_refs(ctx.facts, "cuda.rule.binary-compatibility") if exact else ()
        fix = (
            f"Install a newer build of {b.what.split()[0]} that includes {cc.sm} (e.g. a newer CUDA variant)."
        )
        alt = _variant_with(ctx, cc) if b.what.startswith("torch ") else None
        if alt is not None:  # the same release in another CUDA variant has it (torch 1.9.0+cu111 for sm_86)
            fix = (
                f"Install torch {alt} (the same release for another CUDA, with {cc.sm}), or a newer release."
            )
        release = _image_release_with(ctx, cc) if b.what.startswith("torch ") else None
        if release is not None:
            fix = f"{release[0]}, or {fix[0].lower()}{fix[1:]}"
        yield Hit(
            f"{b.what} has no code for {gpu.name} ({cc.sm}); it has {have}{why}: no kernel image is "
            "available.",
            fix,
            b.refs
            + tuple(f.ref for f in first.facts)
            + ((fact.ref,) if fact is not None else ())
            + rule
            + (release[1] if release is not None else ()),
        )


def _image_release_with(ctx: Context, cc: ComputeCapability) -> tuple[str, tuple[FactRef, ...]] | None:
    """The first release of the stack's image whose torch (an ``image_torch`` fact that names it) has
    code for ``cc``, as the fix's opening and the facts it rests on: ``Use <image>:3.3.1, the first
    release whose torch (2.7.0+cu128) has sm_120``."""
    if not ctx.stack.image:
        return None
    from cudalign.stack.images import parse_reference
    from cudalign.stack.releases import _pypi_default

    name = parse_reference(ctx.stack.image)
    repos = set(name.candidates())
    platform = ctx.stack.platform or query.platform_key(ctx.host)
    best: tuple[Version, str, Fact, Fact] | None = None
    for f in ctx.facts.of_kind("image_torch"):
        if str(f["repository"]).lower() not in repos or "torch" not in f.values:
            continue
        torch = str(f["torch"])
        variant = f.get("torch_variant") or _pypi_default(ctx.facts, torch, platform, [])[0]
        build = query.torch_build(ctx.facts, torch, str(variant), platform) if variant else None
        if build is None or not runs(cc, build["archs"], build.get("ptx", ())):
            continue
        lows = [Version(s.version) for s in f["versions"] if s.operator in (">=", "==")]
        if lows and (best is None or min(lows) < best[0]):
            best = (min(lows), f"{Version(torch).public}+{variant}", f, build)
    if best is None:
        return None
    first, label, f, build = best
    where = ctx.stack.image.split("@", 1)[0]
    where = where.rsplit(":", 1)[0] if ":" in where.rsplit("/", 1)[-1] else where
    return (
        f"Use {where}:{first}, the first release whose torch ({label}) has {cc.sm}",
        (f.ref, build.ref),
    )


def gpu_arch_dropped(ctx: Context) -> Iterator[Hit]:
    """A GPU older than the build: the package, the variant or the CUDA toolkit dropped its architecture.

    **What it checks.** For each GPU and each build that has no code for it: the package's minimum
    compute capability (``vllm_series.min_cc``, ``package_build.min_cc``), the oldest architecture in the
    build's list (torch 2.7 ``cu128`` starts at ``sm_75``), and the ``arch_support`` fact of the GPU
    (Kepler ends with CUDA 11.8; Maxwell, Pascal, Volta with 12.9). An NGC framework release whose CUDA
    no longer targets the GPU, or whose release notes state a higher lowest compute capability
    (``image_release.min_cc``), does not support it either (topic ``image.ngc-gpus``).

    **Why.** Kernel launches fail (``no kernel image is available``) or the package refuses the GPU at
    start; no newer release will bring it back.

    **How to fix.** Choose an older release or another variant that still ships the architecture (the
    message names one when the knowledge base has it), e.g. torch ``+cu126`` for Pascal/Volta.

    **Example.** vLLM 0.20 (CUDA 13.0) on a V100 (sm_70): fails; vLLM 0.19 with torch cu128 runs.
    ``nvcr.io/nvidia/pytorch:25.10-py3`` (CUDA 13.0) on a V100: fails, use 25.01 (CUDA 12.8).
    """
    yield from gpu_dropped_by_release(ctx)
    for gpu, fact, cc, b in _gpu_builds(ctx):
        if cc is None or (not b.archs and not b.ptx and b.min_cc is None):
            continue
        if (b.archs or b.ptx) and runs(cc, b.archs, b.ptx) and (b.min_cc is None or cc >= b.min_cc):
            continue
        older, refs, why = _older(ctx, cc, b)
        if not older:
            continue
        alt = _variant_with(ctx, cc) if b.what.startswith("torch ") else None
        hint = f" (torch {alt} has it)" if alt else ""
        yield Hit(
            f"{why}: {gpu.name} ({cc.sm}) is not supported.",
            f"Choose an older release or a variant that still ships {cc.sm}{hint}, or a newer GPU.",
            refs + ((fact.ref,) if fact is not None else ()),
        )


def _variant_with(ctx: Context, cc: ComputeCapability) -> str | None:
    torch = ctx.stack.component("torch")
    if torch is None:
        return None
    platform = ctx.stack.platform or query.platform_key(ctx.host)
    from cudalign.stack import torch_variants

    for v in torch_variants(ctx.facts, torch.version):
        bf = query.torch_build(ctx.facts, torch.version, v, platform)
        if bf is not None and runs(cc, bf["archs"], bf.get("ptx", ())):
            return f"{Version(torch.version).public}+{v}"
    return None


def feature_needs_compute_capability(ctx: Context) -> Iterator[Hit]:
    """A requested feature (``--feature bf16``, ``fp8``, ``flash-attn-3`` …) needs a capability the GPU lacks.

    **What it checks.** Each ``--feature`` against the ``feature`` fact of that name: the capability
    range that has it, against every GPU.

    **Why.** Features are tied to hardware: bf16 needs Ampere (8.0), FP8 needs Ada/Hopper (8.9),
    FlashAttention-3 needs Hopper (9.0). The software may install and import fine and then refuse or
    fall back at run time.

    **How to fix.** Drop the feature (use fp16, a non-FP8 checkpoint, FlashAttention-2), or run on a GPU
    in the range the message names.

    **Example.** ``--feature bf16`` on a T4 (7.5): fails; on an A10 (8.6): ok.
    """
    # a feature one package provides (vLLM's FP8 Marlin) has its floor per release of that package
    installed = {c.name: c.version for c in ctx.stack.components if c.version}
    for name in ctx.features:
        fact = query.feature(ctx.facts, name, installed) or query.feature(ctx.facts, name)
        if fact is None:
            yield Hit(
                f"The feature {name!r} is not in the knowledge base.",
                "Use a known feature name (see 'cudalign facts show').",
                unknown=f"feature fact {name!r}",
            )
            continue
        if not ctx.host.gpus:
            continue  # a described host without GPUs: gpu-arch-not-in-build's condition names the range
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
                fb = query.feature(ctx.facts, fact["fallback"], installed) if fact.get("fallback") else None
                if fb is not None and fb["cc"].contains(cc.version, prereleases=True):
                    by = (
                        f" in {fb['package']} {installed[fb['package']]}"
                        if fb.get("package") in installed
                        else ""
                    )
                    yield Hit(
                        f"{gpu.name} ({cc}) has no native {fact['name']} (needs {fact['cc']}); it runs as "
                        f"{fb['name']}{by} instead ({fb.get('description') or 'a slower fallback'}).",
                        f"Expect the {fb['name']} path; for native {fact['name']} use a GPU with compute "
                        f"capability {fact['cc']}.",
                        (fact.ref, fb.ref, *((gfact.ref,) if gfact is not None else ())),
                        severity=Severity.WARNING,
                    )
                    continue
                why = upgrade = ""
                pkg = fb.get("package") if fb is not None else None
                if fb is not None and pkg in installed:
                    why = f" (its fallback {fb['name']} needs {fb['cc']} in {pkg} {installed[pkg]})"
                    # a release of the same package whose fallback runs on this GPU
                    later = [
                        f
                        for f in query.facts_of_kind(ctx.facts, "feature")
                        if f["name"] == fb["name"]
                        and f.get("package") == pkg
                        and f.get("versions") is not None
                        and f["cc"].contains(cc.version, prereleases=True)
                    ]
                    if later:
                        upgrade = f", or use {pkg}{later[0]['versions']} ({fb['name']} runs on {cc})"
                yield Hit(
                    f"{fact['name']} needs compute capability {fact['cc']}; {gpu.name} is {cc}{why}.",
                    f"Do without {fact['name']} on this GPU, or use a GPU with compute capability "
                    f"{fact['cc']}{upgrade}.",
                    (
                        fact.ref,
                        *((fb.ref,) if fb is not None else ()),
                        *((gfact.ref,) if gfact is not None else ()),
                    ),
                )
