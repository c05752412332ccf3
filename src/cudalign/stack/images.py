"""An image reference -> its CUDA, NVIDIA_REQUIRE_CUDA, compat libraries and the frameworks inside."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.version import Version

from cudalign.facts import query
from cudalign.model import FactRef

if TYPE_CHECKING:
    from cudalign.facts import Facts


__all__ = ["ImageInfo", "image_info"]


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What an image reference tells: its CUDA, requirement, compat libraries and frameworks inside."""

    reference: str
    cuda: str | None = None
    require: str | None = None
    compat: bool | None = None
    vllm: str | None = None
    torch: str | None = None
    torch_variant: str | None = None
    facts: tuple[FactRef, ...] = ()
    unknown: Mapping[str, str] = field(default_factory=dict)


def image_info(facts: Facts, reference: str) -> ImageInfo:
    """Read an image reference: ``nvidia/cuda:12.4.1-runtime-ubuntu22.04``, ``vllm/vllm-openai:v0.13.0`` …"""
    match = query.image_match(facts, reference)
    if match is None:
        return ImageInfo(reference, unknown={"image": f"no image_family fact matches {reference!r}"})
    refs: list[FactRef] = [match.family.ref]
    g = match.groups
    cuda = g.get("cuda")
    vllm = g.get("vllm")
    torch = g.get("torch")
    unknown: dict[str, str] = {}
    if vllm and not cuda:
        series = query.vllm_series(facts, vllm)
        table = series.get("image_cuda", {}) if series else {}
        suffix = g.get("suffix", "") or ""
        cuda = table.get(suffix.lstrip("-")) or table.get(suffix)
        if series is not None:
            refs.append(series.ref)
        if cuda is None:
            unknown["image_cuda"] = f"no vllm_series fact gives the CUDA of {match.repository}:{match.tag}"
    require = None
    if cuda:
        base = str(match.family.get("based_on") or match.repository).split(":", 1)[0]
        ans = query.image_require(facts, base, cuda)
        if ans.value is None and base != match.repository:
            ans = query.image_require(facts, match.repository, cuda)
        require = ans.value
        refs.extend(ans.refs)
        if require is None:
            unknown["image_require"] = f"no image_require fact for {base} CUDA {cuda}"
    variant = None
    if (torch or vllm) and cuda:
        c = Version(cuda)
        variant = f"cu{c.major}{c.minor}"  # the image installs torch from the index of its own CUDA
        if vllm:
            shipped = query.image_torch_variant(
                facts, match.repository, vllm.lstrip("v"), g.get("suffix") or ""
            )
            if shipped.value is not None:
                variant = shipped.value
                refs.extend(shipped.refs)
    return ImageInfo(
        reference,
        cuda=cuda,
        require=require,
        compat=bool(match.family["compat_libs"]),
        vllm=vllm.lstrip("v") if vllm else None,
        torch=torch,
        torch_variant=variant,
        facts=tuple(refs),
        unknown=unknown,
    )
