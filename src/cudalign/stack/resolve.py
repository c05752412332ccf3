"""Requirements (and an image) -> a concrete Stack: versions, torch variant, CUDA, cuDNN, NCCL, archs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from cudalign._dataclass import replace
from cudalign._pep508 import Requirement
from cudalign.facts import query
from cudalign.model import Component, FactRef, Host, Stack

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts

from cudalign.stack.images import ImageInfo, ImageReader, image_facts
from cudalign.stack.releases import (
    _env,
    _metadata,
    _pins,
    _pypi_default,
    _torch_runtime,
    _versions,
    torch_variants,
)
from cudalign.stack.request import TORCH_INDEX, Request, foreign_index_variant, parse_requirements

__all__ = ["assignments", "build", "index_replaced", "resolve"]


def assignments(
    request: Request, facts: Facts, host: Host, *, image: ImageInfo | None = None, limit: int | None = None
) -> list[dict[str, str]]:
    """Candidate root versions (vLLM, torch), newest first; each dict maps name -> version."""
    py = host.python
    vllm_req = request.specs.get("vllm")
    torch_req = request.specs.get("torch")
    out: list[dict[str, str]] = []
    if image is not None and image.vllm:
        return [{"vllm": image.vllm}]
    if image is not None and image.torch:
        return [{"torch": image.torch}]
    if vllm_req is not None:
        for v in _versions(facts, "vllm", vllm_req, py):
            out.append({"vllm": v})
            if limit and len(out) >= limit:
                break
        if not out and facts.snapshot.releases("vllm") == {} and _exact(vllm_req):
            out.append({"vllm": _exact(vllm_req) or ""})
        return out
    if torch_req is not None:
        for v in _torch_versions(facts, request, torch_req, py):
            out.append({"torch": v})
            if limit and len(out) >= limit:
                break
        if not out and _exact(torch_req):
            out.append({"torch": _exact(torch_req) or ""})
        return out
    return [{}]


def _torch_versions(facts: Facts, request: Request, req: Requirement, python: str | None) -> list[str]:
    """torch releases that satisfy ``req``, newest first; with an index that names a variant (``/whl/cu124``)
    only those the index has, as the installer would pick from it (releases whose variants the knowledge
    base does not list are kept: whether the index has them is unknown)."""
    versions = _versions(facts, "torch", req, python)
    variant = request.variants.get("torch")
    if not variant or variant == "cpu" or _labelled(request, "torch"):
        return versions
    kept = [v for v in versions if not torch_variants(facts, v) or variant in torch_variants(facts, v)]
    return kept or versions


def _labelled(request: Request, name: str) -> bool:
    """Whether the user named the package's variant with a local label (``torch==2.6.0+cu124``)."""
    return any(w.variant for w in request.written.get(name, ()))


def index_replaced(request: Request, facts: Facts, torch: str) -> str | None:
    """The index variant a release pinned by another package lacks: with ``--index-url …/cu124`` and a
    vLLM that pins a torch the index never built for cu124, the installer takes that torch from PyPI
    (its default variant) and replaces the cu124 torch. ``None`` when the index has it or it is unknown."""
    variant = request.variants.get("torch")
    if not variant or variant == "cpu" or _labelled(request, "torch") or not request.index_url:
        return None
    published = torch_variants(facts, torch)
    return variant if published and variant not in published else None


def _exact(req: Requirement) -> str | None:
    exact = [s.version for s in req.specifier if s.operator == "=="]
    return exact[0] if len(exact) == 1 and "*" not in exact[0] else None


def resolve(
    requirements: Iterable[str],
    facts: Facts,
    host: Host,
    *,
    image: str | None = None,
    index_url: str | None = None,
    constraints: Iterable[str] = (),
    image_reader: ImageReader | None = None,
) -> Stack:
    """The newest stack that satisfies the requirements (and the image) on this host's platform.

    ``constraints`` are the lines of ``-c`` files: they limit versions (of what is asked for and of
    what it pins) and install nothing. ``image_reader`` reads the image's facts online (its registry)."""
    request = parse_requirements(requirements, index_url=index_url, constraints=constraints)
    info = image_facts(facts, image, image_reader) if image else None
    pinned = _exact(request.specs["vllm"]) if "vllm" in request.specs else None
    if image and info is not None and "image_channel" in info.unknown and pinned:
        # a moving tag (latest, nightly) with vllm==X stated: the image that tag held then was X's
        tail = image.split("@", 1)[0].rsplit(":", 1)
        suffix = next((s for s in ("-cu129", "-cu130", "-cu128") if tail[-1].endswith(s)), "")
        info = image_facts(facts, f"{tail[0]}:v{pinned}{suffix}", image_reader)
        info = replace(info, reference=image)
    cands = assignments(request, facts, host, image=info)
    first: Stack | None = None
    for versions in cands:
        stack = build(request, facts, host, versions, image=info)
        if first is None:
            first = stack
        if not stack.conflicts and not _pins_missing_release(facts, stack):
            return stack
    if first is not None:
        return first
    names = ", ".join(request.asked(n) for n in request.order) or "(nothing)"
    return build(
        request, facts, host, {}, image=info, unknown={"resolution": f"no release satisfies {names}"}
    )


def build(
    request: Request,
    facts: Facts,
    host: Host,
    versions: Mapping[str, str],
    *,
    variant: str | None = None,
    image: ImageInfo | None = None,
    unknown: Mapping[str, str] | None = None,
) -> Stack:
    """The stack for fixed root versions: follow exact pins, pick the torch variant, read its CUDA facts."""
    platform = query.platform_key(host)
    env = _env(host, platform)
    refs: list[FactRef] = list(image.facts) if image else []
    unk: dict[str, str] = dict(unknown or {})
    if image is not None:
        unk.update(image.unknown)
    unk.update(request.unjudged)
    conflicts: list[str] = []
    chosen: dict[str, str] = dict(versions)
    pins_of: dict[str, dict[str, tuple[str, str]]] = {}
    via: dict[str, str] = {}

    def follow(name: str) -> None:
        rel = facts.snapshot.release(name, chosen[name])
        pins = _pins(_metadata(rel, platform), env)
        pins_of[name] = pins
        for dep in pins:
            followed = query.package_flag(facts, dep, "follow_pins")
            if dep in chosen or not (followed or query.package_builds(facts, dep, pins[dep][0])):
                continue
            if dep not in chosen:
                chosen[dep] = pins[dep][0]
                via[dep] = name
                req = request.specs.get(dep) or request.constraints.get(dep)
                if _own_clash(request, dep):
                    req = None  # the user's own pins of it disagree: requirements-conflict says so
                if req is not None and not req.specifier.contains(Version(pins[dep][0]), prereleases=True):
                    asked = request.asked(dep)
                    how = "was asked for" if dep in request.specs else "is a constraint"
                    conflicts.append(f"{name} {chosen[name]} pins {pins[dep][1]}, but {asked} {how}")
                    chosen[dep] = _exact(req) or chosen[dep]

    if "vllm" in chosen:
        follow("vllm")
        req = request.specs.get("vllm")
        if (
            image is not None
            and image.vllm
            and req is not None
            and not req.specifier.contains(Version(image.vllm))
        ):
            conflicts.append(f"the image holds vllm {image.vllm}, but {request.raw['vllm']} was asked for")
    if "torch" not in chosen and "torch" in request.specs:
        vs = _torch_versions(facts, request, request.specs["torch"], host.python)
        exact = _exact(request.specs["torch"])
        if vs or exact:
            chosen["torch"] = vs[0] if vs else exact or ""
    if "torch" in chosen:
        follow("torch")
    for name in request.order:
        if name in chosen:
            continue
        req = request.specs[name]
        if name in query.torch_companions(facts) and "torch" in chosen:
            pick = _companion(facts, name, req, chosen["torch"], platform, env, host.python)
        else:
            vs = _versions(facts, name, req, host.python)
            pick = vs[0] if vs else _exact(req)
        if pick:
            chosen[name] = pick
            if name in facts.snapshot.packages:
                follow(name)
        else:
            unk[name] = f"no release of {name} in the snapshot satisfies {request.asked(name)}"
    if "torch" in chosen and "torch" not in pins_of:
        follow("torch")
    for name, pins in pins_of.items():
        if "torch" in pins and "torch" in chosen and name != "torch":
            said = f"{name} {chosen[name]} pins {pins['torch'][1]}"
            if Version(pins["torch"][0]) != Version(Version(chosen["torch"]).public) and not any(
                c.startswith(said) for c in conflicts
            ):
                conflicts.append(f"{said}, but torch {chosen['torch']} is chosen")

    # ---- torch variant and its CUDA facts
    tvariant = variant or request.variants.get("torch")
    replaced = None if variant or "torch" not in chosen else index_replaced(request, facts, chosen["torch"])
    if replaced:
        tvariant = None  # the index lacks this torch: the installer takes PyPI's build
    vvariant = request.variants.get("vllm")
    source = "requirement" if tvariant else ""
    if (
        not tvariant
        and image is not None
        and image.torch_variant
        and "torch" in chosen
        and (image.torch or image.torch_variant in torch_variants(facts, chosen["torch"]))
    ):
        tvariant = image.torch_variant
        source = "image"
    if not tvariant and vvariant and vvariant.startswith("cu"):
        tvariant, source = vvariant, "vLLM variant"
    foreign = None if tvariant or _labelled(request, "torch") else foreign_index_variant(request.index_url)
    if foreign and "torch" in chosen:
        tvariant, source = foreign, "index"
    if not tvariant and "torch" in chosen:
        tvariant, source = _pypi_default(facts, chosen["torch"], platform, refs)
        if tvariant is None:
            unk["torch_variant"] = source
    cuda_runtime = cudnn = nccl = None
    archs: tuple[Any, ...] = ()
    ptx: tuple[Any, ...] = ()
    components: list[Component] = []
    if "torch" in chosen and tvariant:
        tv = chosen["torch"]
        cu = query.variant_cuda(tvariant)
        cuda_runtime = str(cu) if cu else None
        rel = facts.snapshot.release("torch", tv)
        default, _ = _pypi_default(facts, tv, platform, [])
        if rel is not None and default == tvariant:
            _, cudnn, nccl = _torch_runtime(rel, platform)
        own = query.index_build(facts, request.index_url, "torch") if foreign else None
        if own is not None:  # that index's own build, with its architectures from its build scripts
            archs, ptx = tuple(own["archs"]), tuple(own.get("ptx", ()))
            refs.append(own.ref)
        elif foreign:  # that index's own build: PyTorch's cuDNN and architecture lists do not apply
            unk["archs"] = (
                f"torch {tv} from {request.index_url}, that index's own {tvariant} build (not PyPI's or "
                "PyTorch's): its architectures are not in the knowledge base"
            )
        elif cudnn is None:  # another variant, or a platform whose wheel bundles cuDNN: RELEASE.md says
            series = query.torch_series(facts, tv)
            listed = series.get("cudnn", {}).get(tvariant) if series is not None else None
            if listed is not None and series is not None:
                cudnn = str(listed)
                refs.append(series.ref)
        build_fact = None if foreign else query.torch_build(facts, tv, tvariant, platform)
        if build_fact is not None:
            archs, ptx = tuple(build_fact["archs"]), tuple(build_fact.get("ptx", ()))
            refs.append(build_fact.ref)
            if build_fact.get("cuda") is not None:
                cuda_runtime = str(build_fact["cuda"])
        elif tvariant != "cpu" and not foreign:
            unk["archs"] = f"no torch_build fact for torch {tv} {tvariant} on {platform}"
    for name in _order(facts, chosen):
        comp = _component(
            facts, name, chosen[name], request, tvariant, pins_of.get(name, {}), via.get(name), refs, platform
        )
        if replaced and comp.index_url == request.index_url and comp.variant != replaced:
            comp = replace(comp, index_url=_pypi_or_variant_index(facts, comp))
        components.append(comp)
    if not cuda_runtime:
        vc = next((c for c in components if c.name == "vllm" and c.cuda), None)
        cuda_runtime = vc.cuda if vc else (image.cuda if image and image.cuda and not chosen else None)
    pyspec = SpecifierSet()
    for name, ver in chosen.items():
        rel = facts.snapshot.release(name, ver)
        if rel is not None and rel.requires_python:
            with contextlib.suppress(ValueError):
                pyspec &= SpecifierSet(rel.requires_python)
    return Stack(
        components=tuple(components),
        image=image.reference if image else None,
        cuda_runtime=cuda_runtime,
        cudnn=cudnn or (image.cudnn if image else None),  # torch's own, else the image's system cuDNN
        nccl=nccl,
        archs=archs,
        ptx=ptx,
        python=_tightest(pyspec) or None,
        origin="image" if image is not None and (image.vllm or image.torch) else "resolved",
        platform=platform,
        image_cuda=image.cuda if image else None,
        image_require=image.require if image else None,
        image_compat=image.compat if image else None,
        image_require_disabled=image.require_disabled if image else False,
        image_platforms=image.platforms if image else (),
        conflicts=tuple(dict.fromkeys(conflicts)),
        requested=_with_index(request),
        constraints=request.constraint_items,
        facts=tuple(dict.fromkeys(refs)),
        unknown=unk,
    )


def _with_index(request: Request) -> tuple[str, ...]:
    """The requirements as given, with an index passed beside them (``--index-url``) written in, so
    what reads them back (the rules) sees the index the installer would use."""
    if request.index_url and request.index_url not in " ".join(request.items):
        return (*request.items, f"--index-url={request.index_url}")
    return request.items


def _pypi_or_variant_index(facts: Facts, comp: Component) -> str | None:
    """Where a component comes from once the user's index lacks it: PyPI for its default variant."""
    if comp.name != "torch" or not comp.variant or comp.variant == "cpu":
        return None
    series = query.torch_series(facts, comp.version)
    defaults = series["pypi_default"].values() if series else ()
    return None if comp.variant in defaults else TORCH_INDEX + comp.variant


def _own_clash(request: Request, name: str) -> bool:
    """Whether the user's requirements and constraints pin a package to two different versions."""
    exact = set()
    for w in request.written.get(name, ()):
        pins = [x.version for x in w.requirement.specifier if x.operator in ("==", "===")]
        if len(pins) == 1 and _parses(pins[0]):
            exact.add(Version(pins[0]))
    return len(exact) > 1


def _pins_missing_release(facts: Facts, stack: Stack) -> bool:
    """Whether a release of the stack pins a tracked package at a version the index never had (older
    than its newest): pip backtracks from such a release, so the resolver does too."""
    snap = facts.snapshot
    for c in stack.components:
        if c.name not in snap.packages or snap.release(c.name, c.version) is not None:
            continue
        if c.requirement is None or not c.requirement.startswith("pinned by"):
            continue
        known = [Version(v) for v in snap.releases(c.name) if _parses(v)]
        if known and _parses(c.version) and Version(c.version) < max(known):
            return True
    return False


def _parses(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _tightest(spec: SpecifierSet) -> str:
    """``>=3.9,>=3.10,<4.0,<3.14`` -> ``>=3.10,<3.14``: the binding bounds, other clauses kept."""
    lows = [x for x in spec if x.operator in (">=", ">")]
    highs = [x for x in spec if x.operator in ("<", "<=")]
    rest = sorted({str(x) for x in spec if x.operator not in (">=", ">", "<", "<=")})
    keep = []
    if lows:
        keep.append(str(max(lows, key=lambda x: (Version(x.version), x.operator == ">"))))
    if highs:
        keep.append(str(min(highs, key=lambda x: (Version(x.version), x.operator == "<="))))
    return ",".join([*keep, *rest])


def _order(facts: Facts, chosen: Mapping[str, str]) -> list[str]:
    followed = [n for n in query.packages_with(facts, "follow_pins") if n != "torch"]
    first = [n for n in ("vllm", "torch", *followed) if n in chosen]
    return first + [n for n in chosen if n not in first]


def _companion(
    facts: Facts,
    name: str,
    req: Requirement,
    torch: str,
    platform: str,
    env: Mapping[str, str],
    python: str | None,
) -> str | None:
    """The newest torchvision/torchaudio that pins this torch (or, unpinned, is listed as its companion)."""
    public = Version(torch).public
    for v in _versions(facts, name, req, python):
        pins = _pins(_metadata(facts.snapshot.release(name, v), platform), env)
        if "torch" in pins and Version(pins["torch"][0]) == Version(public):
            return v
    series = query.torch_series(facts, torch)
    comp = series.get("companions", {}).get(name) if series else None
    if comp:
        vs = _versions(facts, name, Requirement(f"{name}=={comp}.*"), python)
        return vs[0] if vs else None
    return None


def _component(
    facts: Facts,
    name: str,
    version: str,
    request: Request,
    tvariant: str | None,
    pins: Mapping[str, tuple[str, str]],
    via: str | None,
    refs: list[FactRef],
    platform: str | None = None,
) -> Component:
    variant = request.variants.get(name)
    on_torch_index = name == "torch" or query.package_flag(facts, name, "torch_index")
    index_url = request.index_url if on_torch_index else None
    cuda: str | None = None
    archs: tuple[Any, ...] = ()
    ptx: tuple[Any, ...] = ()
    own: list[FactRef] = []
    if name == "torch":
        variant = tvariant
        if tvariant and tvariant != "cpu" and not index_url:
            default = query.torch_series(facts, version)
            plat = default["pypi_default"] if default else {}
            if tvariant not in plat.values():
                index_url = TORCH_INDEX + tvariant
        cu = query.variant_cuda(tvariant)
        cuda = str(cu) if cu else None
    elif on_torch_index and (variant or tvariant):
        variant = variant or tvariant
        vc = query.variant_cuda(variant)
        cuda = str(vc) if vc else None
    elif name == "vllm":
        series = query.vllm_series(facts, version)
        if series is not None:
            vc = query.variant_cuda(variant)
            cuda = str(vc) if vc else str(series["wheel_cuda"])
            if vc is None or vc == Version(str(series["wheel_cuda"])):  # the archs are the PyPI wheel's
                archs = tuple(series.get("archs", ()))
                ptx = tuple(series.get("ptx", ()))
            own.append(series.ref)
            if variant and vc is not None and variant in series.get("variants", ()):
                found = query.vllm_variant_index(facts, version, variant)  # not the PyPI wheel's CUDA
                if found is not None:
                    index_url = found[0]
                    own.append(found[1].ref)
    builds = query.package_builds(facts, name, version)
    exact = next((str(f["cuda"]) for f in builds if f.get("cuda") is not None and _on(f, platform)), None)
    for f in builds:
        if f.get("component"):
            own.append(f.ref)  # a kernel library inside the package: rules read it from the fact
            continue
        if not _on(f, platform):
            continue  # the machine code of another platform's wheel (Windows and Linux builds differ)
        if cuda is None and (exact or f.get("cuda_major") is not None):
            cuda = exact or str(f["cuda_major"])
        if not archs and f.get("archs") is not None:
            archs, ptx = tuple(f["archs"]), tuple(f.get("ptx", ()))
        own.append(f.ref)
    refs.extend(own)
    return Component(
        name=name,
        version=version,
        variant=variant,
        index_url=index_url,
        requirement=request.raw.get(name) or (f"pinned by {via}" if via else None),
        facts=tuple(own),
        cuda=cuda,
        archs=archs,
        ptx=ptx,
        pins=tuple(text for _, text in pins.values()),
    )


def _on(f: Fact, platform: str | None) -> bool:
    """A build fact with an architecture list applies to the platforms it names (all when it names none)."""
    plats = f.get("platforms")
    return not plats or f.get("archs") is None or platform is None or platform in plats


def _fact_refs(items: Sequence[Fact]) -> tuple[FactRef, ...]:
    return tuple(f.ref for f in items)
