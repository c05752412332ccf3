"""An image reference -> its CUDA, NVIDIA_REQUIRE_CUDA, compat libraries and the frameworks inside.

References are normalised before they are matched (:func:`parse_reference`): the registry
(``docker.io``, ``nvcr.io``, a private mirror), Docker Hub's ``library/`` namespace, a digest pin
(``@sha256:…``) and a mirror's own path prefix (``harbor.example/mirror/vllm/vllm-openai``) do not
change which image family a reference belongs to. :func:`image_facts` is the one function that says
what is known about a reference; an online registry reader plugs in through its ``reader`` argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from packaging.version import Version

from cudalign._dataclass import dataclass, field
from cudalign.facts import query
from cudalign.model import FactRef

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts


__all__ = [
    "ImageInfo",
    "ImageName",
    "ImageReader",
    "image_facts",
    "image_info",
    "image_vendor",
    "parse_reference",
]

DOCKER_HUB = "docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})


@dataclass(frozen=True, slots=True)
class ImageName:
    """A parsed image reference: ``registry/path:tag@digest``."""

    registry: str
    """``docker.io`` when none is written; lower-case."""
    path: str
    """The repository path without registry and without Docker Hub's ``library/`` (``vllm/vllm-openai``,
    ``ubuntu``, ``nvidia/cuda``); lower-case."""
    tag: str | None
    """The tag, or None (a digest-only reference, or ``latest`` implied)."""
    digest: str | None = None
    """``sha256:…`` when the reference pins a digest."""

    @property
    def reference(self) -> str:
        """``path:tag`` as the knowledge base's image families name it (``latest`` when no tag)."""
        return f"{self.path}:{self.tag or 'latest'}"

    def candidates(self) -> tuple[str, ...]:
        """Repository paths to look up, longest first: the path, then each shorter suffix of at least two
        parts (a mirror keeps the original path under its own prefix: ``mirror/vllm/vllm-openai``)."""
        parts = self.path.split("/")
        out = [self.path]
        for i in range(1, len(parts) - 1):
            out.append("/".join(parts[i:]))
        return tuple(out)


def parse_reference(reference: str) -> ImageName:
    """Normalise ``[registry/]path[:tag][@digest]``. The first part is a registry when it has a dot or
    a port or is ``localhost`` (Docker's rule); Docker Hub's ``library/`` prefix is dropped."""
    ref = reference.strip()
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    tag = None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, tag = ref.rsplit(":", 1)
    parts = [p for p in ref.split("/") if p]
    registry = DOCKER_HUB
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry = parts.pop(0).lower()
        if registry in _HUB_ALIASES:
            registry = DOCKER_HUB
    if len(parts) > 1 and parts[0] == "library":
        parts = parts[1:]
    return ImageName(registry, "/".join(parts).lower(), tag or None, digest or None)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What an image reference tells: its CUDA, requirement, compat libraries and frameworks inside."""

    reference: str
    cuda: str | None = None
    require: str | None = None
    """Its NVIDIA_REQUIRE_CUDA; ``""`` when the image sets none (the container starts on any driver)."""
    compat: bool | None = None
    vllm: str | None = None
    torch: str | None = None
    """A torch release the resolver can look up (a PyPI version), when the tag names one."""
    torch_variant: str | None = None
    facts: tuple[FactRef, ...] = ()
    unknown: Mapping[str, str] = field(default_factory=dict)
    name: ImageName | None = None
    """The normalised reference."""
    torch_build: str | None = None
    """The torch build inside as its vendor states it, when it is no PyPI release (NGC's
    ``2.10.0a0+b4e4ee81d3``)."""
    accelerator: str | None = None
    """``nvidia``, ``rocm``, ``npu``, ``xpu`` or ``cpu`` when the family or release says so."""
    require_disabled: bool = False
    """The image sets ``NVIDIA_DISABLE_REQUIRE`` (its config Env): the container toolkit skips every
    ``NVIDIA_REQUIRE_*`` check, so the container starts whatever the driver."""
    cudnn: str | None = None
    """The cuDNN installed in the image (``NV_CUDNN_VERSION`` of its config, ``9.1.0.70``; or the
    major a ``cudnn9`` tag names), when known; ``""`` when its tag names a flavour without cuDNN."""
    platforms: tuple[str, ...] = ()
    """The platforms (``linux/amd64`` …) the image is published for: its index's (online), or the
    ``image_platforms`` fact's; ``()`` when not known."""


ImageReader = Callable[[ImageName], "ImageInfo | None"]
"""Reads an image's facts from elsewhere (a registry's config blob); None when it cannot."""


def image_info(facts: Facts, reference: str) -> ImageInfo:
    """Read an image reference: ``nvidia/cuda:12.4.1-runtime-ubuntu22.04``, ``vllm/vllm-openai:v0.13.0``,
    ``nvcr.io/nvidia/pytorch:25.12-py3``, a mirror's copy of any of them …"""
    return image_facts(facts, reference)


def image_facts(facts: Facts, reference: str, reader: ImageReader | None = None) -> ImageInfo:
    """The facts of an image reference: the ``reader``'s (an online registry) when it has them, else the
    knowledge base's, matched on the normalised reference."""
    name = parse_reference(reference)
    if reader is not None:
        found = reader(name)
        if found is not None:
            return found
    return _with_platforms(facts, _known(facts, reference, name))


def _with_platforms(facts: Facts, info: ImageInfo) -> ImageInfo:
    """The image's facts with the platforms the knowledge base says its tag is published for."""
    from cudalign._dataclass import replace
    from cudalign.facts.image_platforms import published_platforms

    name = info.name
    if name is None or (name.digest is not None and name.tag is None):
        return info  # a digest names one image of one platform: its index is not known
    said = published_platforms(facts, name.candidates(), name.tag or "latest")
    if said.fact is None:
        return info
    return replace(info, platforms=said.platforms, facts=(*info.facts, said.fact.ref))


def _known(facts: Facts, reference: str, name: ImageName) -> ImageInfo:
    """:func:`image_facts` from the knowledge base alone."""
    if image_vendor(facts, name) is not None:
        return _vendor_only(facts, reference, name)
    missing = _unpublished(facts, reference, name)
    if missing is not None:
        return missing
    for repo in name.candidates():
        release = _release(facts, repo, name.tag or "latest")
        if release is not None:
            return _from_release(facts, reference, name, release)
        match = query.image_match(facts, f"{repo}:{name.tag or 'latest'}")
        if match is not None:
            return _from_family(facts, reference, name, match)
    vendor = image_vendor(facts, name)
    return ImageInfo(
        reference,
        name=name,
        unknown={"image": f"no image_family fact matches {name.reference!r}"},
        facts=(vendor.ref,) if vendor is not None else (),
        accelerator=str(vendor["accelerator"]) if vendor is not None else None,
    )


def _unpublished(facts: Facts, reference: str, name: ImageName) -> ImageInfo | None:
    """An image whose tag the vendor's tag lists say does not exist (``nvidia/cuda:12.1-devel-…``): the
    ``image_tag`` unknown that the unknown-release rule reports. A digest pin is not judged by its tag."""
    if name.digest is not None:
        return None
    from cudalign.facts.image_tags import judge_tag, split_tag

    tag = name.tag or "latest"  # Docker pulls :latest when no tag is written
    for repo in name.candidates():
        said = judge_tag(facts, repo, tag)
        if said.fact is None:
            continue
        if said.exists is not False:
            return None
        where = reference.rsplit(":", 1)[0]
        hint = f"; did you mean {where}:{said.suggestion}?" if said.suggestion else ""
        parts = split_tag(tag)
        return ImageInfo(  # the CUDA the tag meant stays (the service is a CUDA one); nothing else is known
            reference,
            cuda=parts[0] if parts else None,
            name=name,
            unknown={"image_tag": f"{said.reason}{hint}"},
            facts=(said.fact.ref,),
            accelerator="nvidia",
        )
    return None


def _newest(facts: Facts, package: str) -> str | None:
    """The newest final release of ``package`` in the PyPI snapshot."""
    best: Version | None = None
    for text in facts.snapshot.releases(package):
        try:
            v = Version(text)
        except ValueError:
            continue
        if not v.is_prerelease and not v.is_devrelease and (best is None or v > best):
            best = v
    return str(best) if best is not None else None


def _vendor_only(facts: Facts, reference: str, name: ImageName) -> ImageInfo:
    vendor = image_vendor(facts, name)
    assert vendor is not None
    return ImageInfo(reference, name=name, facts=(vendor.ref,), accelerator=str(vendor["accelerator"]))


def image_vendor(facts: Facts, name: ImageName) -> Fact | None:
    """The ``image_vendor`` fact that says which accelerator an image is built for (``rocm/…``)."""
    for repo in name.candidates():
        for f in facts.of_kind("image_vendor"):
            prefix = str(f["repository"]).lower()
            if repo == prefix or (prefix.endswith("/") and repo.startswith(prefix)):
                return f
    return None


def _release(facts: Facts, repository: str, tag: str) -> Fact | None:
    for f in facts.of_kind("image_release"):
        repos = {str(f["repository"]).lower(), *(str(r).lower() for r in f.get("repositories") or ())}
        if repository in repos and f["tag_pattern"].fullmatch(tag):
            return f
    return None


def _require(
    facts: Facts, base: str, cuda: str, refs: list[FactRef], unknown: dict[str, str], *fallbacks: str
) -> str | None:
    """The NVIDIA_REQUIRE_CUDA an image based on ``base`` at CUDA ``cuda`` carries. Where no fact lists the
    brand/driver clauses of an nvidia/cuda version, its leading ``cuda>=X.Y`` clause (every nvidia/cuda
    image has one: topic image.require-unknown-versions) is all that is known: a driver that meets it
    starts the container; one that does not may still be admitted by a clause nobody recorded."""
    for repo in (base, *fallbacks):
        ans = query.image_require(facts, repo, cuda)
        if ans.value is not None:
            refs.extend(ans.refs)
            return ans.value
    if base == "nvidia/cuda":
        v = Version(cuda)
        refs.extend(r.ref for r in facts.of_kind("topic") if r.id == "image.require-unknown-versions")
        unknown["image_require_brands"] = (
            f"no image_require fact lists the brand/driver clauses of nvidia/cuda {v.major}.{v.minor}"
        )
        return f"cuda>={v.major}.{v.minor}"
    unknown["image_require"] = f"no image_require fact for {base} CUDA {cuda}"
    return None


def _from_release(facts: Facts, reference: str, name: ImageName, release: Fact) -> ImageInfo:
    """An image whose tag names a release, not its CUDA (NGC's ``YY.MM-py3``): the release's fact says."""
    refs: list[FactRef] = [release.ref]
    cuda = str(release["cuda"]) if "cuda" in release.values else None
    unknown: dict[str, str] = {}
    require = None
    if cuda and release.get("require_cuda") is False:
        require = ""  # the image enforces no requirement: the container starts, its CUDA calls decide
    elif cuda:
        require = _require(facts, str(release.get("based_on") or "nvidia/cuda"), cuda, refs, unknown)
    else:
        unknown["image_cuda"] = f"the CUDA of {name.reference} is not in {release.id}"
    # the torch release the image's build installs (its lock), judged as that release's build
    shipped = query.image_release_torch(facts, str(release["repository"]), name.tag or "latest")
    if shipped is not None:
        refs.append(shipped.ref)
    return ImageInfo(
        reference,
        cuda=cuda,
        require=require,
        compat=bool(release.get("compat_libs")),
        facts=tuple(refs),
        unknown=unknown,
        name=name,
        torch=str(shipped["torch"]) if shipped is not None else None,
        torch_variant=str(shipped["torch_variant"])
        if shipped is not None and shipped.get("torch_variant")
        else None,
        torch_build=str(release["torch"]) if "torch" in release.values else None,
        accelerator="nvidia",
    )


def _from_family(facts: Facts, reference: str, name: ImageName, match: query.ImageMatch) -> ImageInfo:
    refs: list[FactRef] = [match.family.ref]
    g = match.groups
    cuda = g.get("cuda")
    vllm = g.get("vllm")
    torch = g.get("torch")
    unknown: dict[str, str] = {}
    channel = g.get("channel")
    if channel and not vllm and not torch and match.repository == "vllm/vllm-openai":
        vllm = _newest(facts, "vllm")
        if vllm is not None:
            unknown["image_channel"] = (
                f"{match.repository}:{match.tag} moves with each release: judged as vLLM {vllm}, the newest "
                "release the knowledge base knows ('cudalign facts update' to refresh; pin a v<version> tag)"
            )
    if vllm and not cuda and channel and g.get("channel_cuda"):
        code = g["channel_cuda"].removeprefix("cu")
        cuda = f"{code[:-1]}.{code[-1]}"  # cu130 -> 13.0
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
    if cuda and match.family.get("require_cuda") is False:
        require = ""  # the image sets no NVIDIA_REQUIRE_CUDA: the container starts, its CUDA calls decide
    elif cuda:
        base = str(match.family.get("based_on") or match.repository).split(":", 1)[0]
        other = (match.repository,) if base != match.repository else ()
        require = _require(facts, base, cuda, refs, unknown, *other)
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
    cudnn: str | None = g.get("cudnn") or ""
    if cudnn:
        cudnn = cudnn.removeprefix("cudnn") or None  # ``cudnn9`` names the major; plain ``cudnn`` does not
    elif "cudnn" not in match.family["tag_pattern"].compiled.groupindex:
        cudnn = None  # the tag grammar does not say: not known
    # else: a tag grammar with cuDNN flavours and none named (nvidia/cuda's base/runtime/devel): "" = none
    return ImageInfo(
        reference,
        cudnn=cudnn,
        cuda=cuda,
        require=require,
        compat=bool(match.family["compat_libs"]),
        vllm=vllm.lstrip("v") if vllm else None,
        torch=torch,
        torch_variant=variant,
        facts=tuple(refs),
        unknown=unknown,
        name=name,
        accelerator="nvidia" if cuda else None,
    )
