"""The GPUs an image release supports by its CUDA (NGC's framework containers): newer and dropped ones.

An NGC framework release (``nvcr.io/nvidia/pytorch:20.06-py3``) is built with one CUDA, and its entrypoint
refuses a GPU whose architecture that CUDA cannot target ("not yet supported in this version of the
container"): topic ``image.ngc-gpus``. Which releases do so is data (``image_release.gpus_by_cuda``); the
architectures each CUDA targets are the ``arch_support`` facts. ``gpu-arch-not-in-build`` reports a GPU
newer than the release, ``gpu-arch-dropped`` one older than it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from cudalign.facts import query
from cudalign.model import ComputeCapability, FactRef, Gpu
from cudalign.rules.common import Hit, topic_refs

if TYPE_CHECKING:
    from cudalign.facts import Fact
    from cudalign.rules import Context

__all__ = ["gpu_dropped_by_release", "gpu_newer_than_release", "release_fact"]

_TOPIC = "image.ngc-gpus"


def release_fact(ctx: Context) -> Fact | None:
    """The stack image's ``image_release`` fact when its GPUs follow its CUDA (``gpus_by_cuda``)."""
    if not ctx.stack.image:
        return None
    for ref in ctx.stack.facts:
        if ref.id in ctx.facts:
            fact = ctx.facts.get(ref.id)
            if fact.kind == "image_release" and fact.get("gpus_by_cuda") is True:
                return fact
    return None


def _cuda(ctx: Context, release: Fact) -> Version | None:
    text = ctx.stack.image_cuda or (str(release["cuda"]) if release.get("cuda") is not None else None)
    try:
        return query.cuda_minor(text) if text else None
    except InvalidVersion:
        return None


def _name(release: Fact) -> str:
    return f"release {release['release']}" if release.get("release") else release.id


def _gpus(ctx: Context) -> Iterator[tuple[Gpu, Fact | None, ComputeCapability | None]]:
    for gpu, fact in ctx.gpus:
        yield gpu, fact, ctx.cc_of(gpu, fact)


def _unknowns(ctx: Context, release: Fact, cuda: Version | None, report_cc: bool) -> Iterator[Hit]:
    """What the knowledge base lacks to judge the release on the host's GPUs: its CUDA, a GPU's
    capability (``report_cc``: no other build reports it), or an architecture's ``arch_support`` fact."""
    refs = (release.ref, *topic_refs(ctx.facts, _TOPIC))
    if cuda is None:
        yield Hit(
            f"The CUDA of {ctx.stack.image} ({_name(release)}) is not in the knowledge base: which GPUs it "
            "supports is unknown.",
            "Add the release's CUDA (its release notes: 'Release YY.MM is based on CUDA X') to its "
            "image_release fact.",
            refs,
            unknown=f"the CUDA of {release.id}",
        )
        return
    for gpu, _, cc in _gpus(ctx):
        if cc is None and report_cc:
            yield Hit(
                f"The compute capability of {gpu.name} is unknown.",
                "Describe the GPU by a known name or sm_XY.",
                refs,
                unknown=f"gpu fact for {gpu.name!r}",
            )
        elif cc is not None and query.targetable(ctx.facts, cc, cuda).value is None:
            yield Hit(
                f"The first CUDA that supports {cc.sm} is not in the knowledge base: whether "
                f"{ctx.stack.image} ({_name(release)}, CUDA {cuda}) supports {gpu.name} is unknown.",
                f"Add an arch_support fact for {cc.sm}.",
                refs,
                unknown=f"arch_support fact for {cc.sm}",
            )


def _repos(release: Fact) -> set[str]:
    return {str(release["repository"]).lower(), *(str(r).lower() for r in release.get("repositories") or ())}


def _repo(ctx: Context, release: Fact) -> str:
    """The repository of the stack's image that ``release`` matched (a mirror's prefix dropped)."""
    from cudalign.stack.images import parse_reference

    assert ctx.stack.image
    repos = _repos(release)
    name = parse_reference(ctx.stack.image)
    return next((c for c in name.candidates() if c in repos), str(release["repository"]).lower())


def _siblings(ctx: Context, repo: str) -> list[tuple[Version, Fact]]:
    """The releases of ``repo`` the knowledge base records whose GPUs follow their CUDA, oldest first."""
    out: list[tuple[Version, Fact]] = []
    for f in query.facts_of_kind(ctx.facts, "image_release"):
        if repo in _repos(f) and f.get("gpus_by_cuda") is True and f.get("release") and f.get("cuda"):
            try:
                out.append((Version(str(f["release"])), f))
            except InvalidVersion:
                continue
    return sorted(out, key=lambda p: p[0])


def _min_cc(release: Fact, repo: str) -> ComputeCapability | None:
    """The lowest capability the release notes of ``repo`` state: ``min_cc`` is read from the notes of the
    fact's own ``repository`` (NVIDIA's TensorRT 19.02 notes state 3.0 where other containers state 6.0)."""
    if str(release["repository"]).lower() != repo:
        return None
    found: ComputeCapability | None = release.get("min_cc")
    return found


def _supports(ctx: Context, release: Fact, repo: str, cc: ComputeCapability, floor: bool) -> bool:
    """Whether ``release``'s CUDA targets ``cc`` and its stated lowest capability admits it (with ``floor``,
    a release that states none is not known to)."""
    cuda = query.cuda_minor(str(release["cuda"]))
    min_cc = _min_cc(release, repo)
    if min_cc is None:
        return not floor and query.targetable(ctx.facts, cc, cuda).value is True
    return query.targetable(ctx.facts, cc, cuda).value is True and cc >= min_cc


def _advice(
    ctx: Context, release: Fact, cc: ComputeCapability, *, newer: bool, floor: bool = False
) -> tuple[str, tuple[FactRef, ...]]:
    """The nearest recorded release of the same image that supports ``cc``: the first one after this
    release for a newer GPU, the last one before it for an older GPU (with ``floor``, only a release
    whose notes state a lowest capability that admits it); its tag where this one's tag carries over."""
    repo = _repo(ctx, release)
    releases = _siblings(ctx, repo)
    here = Version(str(release["release"])) if release.get("release") else None
    fits = [
        f
        for v, f in releases
        if (here is None or (v > here if newer else v < here)) and _supports(ctx, f, repo, cc, floor)
    ]
    if not fits:
        return "", ()
    best = fits[0] if newer else fits[-1]
    tag = _tag(ctx, release, best)
    which = "first" if newer else "last"
    where = f" ({tag})" if tag else ""
    return (
        f"use {_name(best)}{where}, based on CUDA {best['cuda']}: the {which} release of {repo} the "
        f"knowledge base records that supports {cc.sm}",
        (best.ref,),
    )


def _tag(ctx: Context, release: Fact, other: Fact) -> str | None:
    """This image's reference with ``other``'s release in its tag, when ``other``'s tags include it."""
    image = ctx.stack.image or ""
    if "@" in image or ":" not in image.rsplit("/", 1)[-1]:
        return None
    path, tag = image.rsplit(":", 1)
    m = re.match(r"\d+\.\d+(?:\.\d+)?", tag)
    if m is None or not release.get("release"):
        return None
    new = f"{other['release']}{tag[m.end() :]}"
    return f"{path}:{new}" if other["tag_pattern"].fullmatch(new) else None


def gpu_newer_than_release(ctx: Context, *, report_cc: bool = True) -> Iterator[Hit]:
    """Each GPU whose architecture the image release's CUDA predates: an error naming the first release
    that supports it; what the knowledge base lacks to judge that: unknown (a GPU's unknown capability
    only with ``report_cc``)."""
    release = release_fact(ctx)
    if release is None:
        return
    cuda = _cuda(ctx, release)
    yield from _unknowns(ctx, release, cuda, report_cc)
    if cuda is None:
        return
    for gpu, gfact, cc in _gpus(ctx):
        if cc is None:
            continue
        ans = query.targetable(ctx.facts, cc, cuda)
        if ans.value is not False:
            continue
        arch = ans.facts[0]
        first = query.cuda_minor(str(arch["first_cuda"]))
        if cuda >= first:
            continue  # too old for this CUDA, not too new: gpu-arch-dropped
        advice, refs = _advice(ctx, release, cc, newer=True)
        yield Hit(
            f"{ctx.stack.image} ({_name(release)}) is based on CUDA {release.get('cuda') or cuda}, which "
            f"predates {gpu.name}'s architecture {cc.sm} (first supported by CUDA {first}): the release does "
            "not support the GPU, and its container reports 'No supported GPU(s) detected to run this "
            "container'.",
            (advice[0].upper() + advice[1:] + ".")
            if advice
            else f"Use a release of the image based on CUDA {first} or newer (no recorded release is).",
            (
                release.ref,
                arch.ref,
                *refs,
                *((gfact.ref,) if gfact is not None else ()),
                *topic_refs(ctx.facts, _TOPIC),
            ),
        )


def gpu_dropped_by_release(ctx: Context) -> Iterator[Hit]:
    """Each GPU older than what the image release supports: its CUDA no longer targets the architecture,
    or its release notes' lowest compute capability (``min_cc``) is above the GPU's."""
    release = release_fact(ctx)
    if release is None:
        return
    cuda = _cuda(ctx, release)
    if cuda is None:
        return  # gpu-arch-not-in-build says the CUDA is unknown
    min_cc = _min_cc(release, _repo(ctx, release))
    for gpu, gfact, cc in _gpus(ctx):
        if cc is None:
            continue
        ans = query.targetable(ctx.facts, cc, cuda)
        why = ""
        refs: tuple[FactRef, ...] = ()
        if ans.value is False:
            arch = ans.facts[0]
            last = arch.get("last_cuda")
            if last is not None and cuda > query.cuda_minor(str(last)):
                end = query.cuda_minor(str(last))
                why = f"which no longer targets {cc.sm} (support ended with CUDA {end})"
                refs = (arch.ref,)
        floor = not why and min_cc is not None and cc < min_cc
        if floor:
            why = f"and its release notes state support for compute capability {min_cc} and higher"
        if not why:
            continue
        advice, older = _advice(ctx, release, cc, newer=False, floor=floor)
        yield Hit(
            f"{ctx.stack.image} ({_name(release)}) is based on CUDA {release.get('cuda') or cuda}, {why}: "
            f"{gpu.name} ({cc.sm}) is not supported.",
            (advice[0].upper() + advice[1:] + ", or a newer GPU.")
            if advice
            else "Use an older release of the image that still supports it (the knowledge base records "
            "none), or a newer GPU.",
            (
                release.ref,
                *refs,
                *older,
                *((gfact.ref,) if gfact is not None else ()),
                *topic_refs(ctx.facts, _TOPIC),
            ),
        )
