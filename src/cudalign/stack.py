"""Requirements and images -> a concrete Stack: versions, torch variant, CUDA runtime, cuDNN, NCCL, archs."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from packaging.markers import InvalidMarker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from cudalign.errors import InvalidInput
from cudalign.facts import query
from cudalign.model import Component, FactRef, Host, Stack

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts
    from cudalign.facts.snapshot import Release

__all__ = [
    "TORCH_INDEX",
    "ImageInfo",
    "Request",
    "assignments",
    "build",
    "from_installed",
    "image_info",
    "parse_requirements",
    "resolve",
    "torch_variants",
]

TORCH_INDEX = "https://download.pytorch.org/whl/"
_INDEX_VARIANT = re.compile(r"download\.pytorch\.org/whl/(?:nightly/|test/)?(cu\d+|cpu|rocm[\d.]+)", re.I)
_FOLLOWED = ("torch", "xformers", "flashinfer-python", "torchvision", "torchaudio")
_EXTENSIONS = ("torchvision", "torchaudio", "xformers")


@dataclass(frozen=True, slots=True)
class Request:
    """What the user asked for: requirements by name, variants named by local labels, the index."""

    specs: Mapping[str, Requirement]
    """Canonical name -> requirement (local labels stripped from the specifier)."""
    order: tuple[str, ...]
    variants: Mapping[str, str] = field(default_factory=dict)
    """Canonical name -> variant named by a local label (``torch==2.6.0+cu124`` -> ``cu124``)."""
    index_url: str | None = None
    raw: Mapping[str, str] = field(default_factory=dict)
    """Canonical name -> the requirement text as written."""


def parse_requirements(requirements: Iterable[str], *, index_url: str | None = None) -> Request:
    """Parse PEP 508 strings; an ``https://…`` item or ``--index-url URL`` names the index."""
    specs: dict[str, Requirement] = {}
    variants: dict[str, str] = {}
    raw: dict[str, str] = {}
    order: list[str] = []
    items = list(requirements)
    i = 0
    while i < len(items):
        text = items[i].strip()
        i += 1
        if not text or text.startswith("#"):
            continue
        m = re.match(r"^--(?:extra-)?index-url(?:=|\s+)?(\S*)$", text)
        if m:
            url = m.group(1) or (items[i].strip() if i < len(items) else "")
            i += 0 if m.group(1) else 1
            index_url = url or index_url
            continue
        if text.startswith(("http://", "https://")):
            index_url = text
            continue
        try:
            req = Requirement(text)
        except (InvalidRequirement, InvalidMarker) as exc:
            raise InvalidInput(f"requirement {text!r}: {exc}") from None
        name = canonicalize_name(req.name)
        kept = []
        for spec in req.specifier:
            version, _, local = spec.version.partition("+")
            if local:
                variants[name] = local.lower()
            kept.append(f"{spec.operator}{version}")
        req.specifier = SpecifierSet(",".join(kept))
        specs[name] = req
        raw[name] = text
        if name not in order:
            order.append(name)
    if index_url and "torch" not in variants:
        m2 = _INDEX_VARIANT.search(index_url)
        if m2:
            variants["torch"] = m2.group(1).lower()
    return Request(specs, tuple(order), variants, index_url, raw)


# --------------------------------------------------------------------------- images


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


# --------------------------------------------------------------------------- snapshot helpers


def _env(host: Host, platform: str) -> dict[str, str]:
    py = host.python or "3.12"
    pv = Version(py)
    machine = "aarch64" if platform == "linux_aarch64" else "AMD64" if platform == "windows" else "x86_64"
    return {
        "python_version": f"{pv.major}.{pv.minor}",
        "python_full_version": py,
        "sys_platform": {"windows": "win32", "macos": "darwin"}.get(platform, "linux"),
        "platform_system": {"windows": "Windows", "macos": "Darwin"}.get(platform, "Linux"),
        "platform_machine": machine,
        "os_name": "nt" if platform == "windows" else "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }


@lru_cache(maxsize=8192)
def _requirement(line: str) -> Requirement | None:
    try:
        return Requirement(line)
    except InvalidRequirement:
        return None


def _pins(requires_dist: Iterable[str], env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Canonical name -> (exact version, requirement text) for every ``==`` pin that applies."""
    return dict(_pins_cached(tuple(requires_dist), tuple(sorted(env.items()))))


@lru_cache(maxsize=4096)
def _pins_cached(
    requires_dist: tuple[str, ...], env_items: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, tuple[str, str]], ...]:
    env = dict(env_items)
    out: dict[str, tuple[str, str]] = {}
    for line in requires_dist:
        req = _requirement(line)
        if req is None:
            continue
        if req.marker is not None and not req.marker.evaluate(dict(env)):
            continue
        exact = [s.version for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
        if len(exact) == 1:
            out[canonicalize_name(req.name)] = (exact[0], f"{req.name}=={exact[0]}")
    return tuple(out.items())


def _metadata(release: Release | None, platform: str) -> tuple[str, ...]:
    if release is None:
        return ()
    rec = (
        release.metadata.get(platform)
        or release.metadata.get("any")
        or next(iter(release.metadata.values()), None)
    )
    return rec.requires_dist if rec else ()


def _python_ok(release: Release, python: str | None) -> bool:
    if not python or not release.requires_python:
        return True
    try:
        return SpecifierSet(release.requires_python).contains(Version(python), prereleases=True)
    except (InvalidVersion, ValueError):
        return True


def _versions(facts: Facts, name: str, req: Requirement | None, python: str | None) -> list[str]:
    """Snapshot releases of a package that satisfy the requirement and the Python, newest first."""
    rels = facts.snapshot.releases(name)
    out: list[tuple[Version, str]] = []
    for text, rel in rels.items():
        try:
            v = Version(text)
        except InvalidVersion:
            continue
        if rel.yanked or (v.is_prerelease and not (req and req.specifier.prereleases)):
            continue
        if req is not None and not req.specifier.contains(v, prereleases=True):
            continue
        if not _python_ok(rel, python):
            continue
        out.append((v, text))
    return [t for _, t in sorted(out, reverse=True)]


def torch_variants(facts: Facts, version: str) -> list[str]:
    """The CUDA variants published for a torch version (``torch_series``), newest CUDA first."""
    series = query.torch_series(facts, version)
    if series is None:
        return []
    return sorted(series["variants"], key=lambda v: query.variant_cuda(v) or Version("0"), reverse=True)


_RUNTIMES: dict[tuple[int, str], tuple[Release, Any]] = {}


def _runtime(release: Release, platform: str) -> Any:
    """``derive.torch_runtime`` once per release and platform (it parses every requirement)."""
    key = (id(release), platform)
    hit = _RUNTIMES.get(key)
    if hit is not None and hit[0] is release:
        return hit[1]
    try:
        from cudalign.facts import derive
    except ImportError:  # the derivations are another module's; without them the runtime is unknown
        return None
    value = derive.torch_runtime(release, platform)
    _RUNTIMES[key] = (release, value)
    return value


def _torch_runtime(release: Release, platform: str) -> tuple[str | None, str | None, str | None]:
    """(CUDA, cuDNN, NCCL) of torch's PyPI wheel on the platform, as text."""
    result = _runtime(release, platform)
    if result is None:
        return (None, None, None)
    cuda, cudnn, nccl = (*tuple(result), None, None, None)[:3]
    return (
        str(cuda) if cuda is not None else None,
        str(cudnn) if cudnn is not None else None,
        str(nccl) if nccl is not None else None,
    )


def _derived_variant(release: Release, platform: str) -> str | None:
    """``cu128``/``cpu`` as torch's wheel metadata on that platform says; ``None`` when not read."""
    variant = getattr(_runtime(release, platform), "variant", None)
    return str(variant) if variant and variant not in ("unknown", "bundled") else None


def _pypi_default(facts: Facts, version: str, platform: str, refs: list[FactRef]) -> tuple[str | None, str]:
    """The variant PyPI's torch wheel is for this platform: the wheel's metadata wins over the table."""
    rel = facts.snapshot.release("torch", version)
    derived = None
    if rel is not None:
        derived = _derived_variant(rel, platform)
    series = query.torch_series(facts, version)
    table = series["pypi_default"].get(platform) if series else None
    if series is not None:
        refs.append(series.ref)
    if derived:
        source = getattr(_runtime(rel, platform), "source", None) if rel is not None else None
        if source:
            refs.append(FactRef(f"pypi:torch=={version}:{platform}", str(source)))
        return derived, "PyPI wheel metadata"
    if table:
        return str(table), "torch_series.pypi_default"
    return None, "no fact gives the PyPI default variant"


# --------------------------------------------------------------------------- resolution


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
        for v in _versions(facts, "torch", torch_req, py):
            out.append({"torch": v})
            if limit and len(out) >= limit:
                break
        if not out and _exact(torch_req):
            out.append({"torch": _exact(torch_req) or ""})
        return out
    return [{}]


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
) -> Stack:
    """The newest stack that satisfies the requirements (and the image) on this host's platform."""
    request = parse_requirements(requirements, index_url=index_url)
    info = image_info(facts, image) if image else None
    cands = assignments(request, facts, host, image=info)
    first: Stack | None = None
    for versions in cands:
        stack = build(request, facts, host, versions, image=info)
        if first is None:
            first = stack
        if not stack.conflicts:
            return stack
    if first is not None:
        return first
    names = ", ".join(request.raw.values()) or "(nothing)"
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
    conflicts: list[str] = []
    chosen: dict[str, str] = dict(versions)
    pins_of: dict[str, dict[str, tuple[str, str]]] = {}
    via: dict[str, str] = {}

    def follow(name: str) -> None:
        rel = facts.snapshot.release(name, chosen[name])
        pins = _pins(_metadata(rel, platform), env)
        pins_of[name] = pins
        for dep in pins:
            if dep in chosen or not (dep in _FOLLOWED or query.package_builds(facts, dep, pins[dep][0])):
                continue
            if dep not in chosen:
                chosen[dep] = pins[dep][0]
                via[dep] = name
                req = request.specs.get(dep)
                if req is not None and not req.specifier.contains(Version(pins[dep][0]), prereleases=True):
                    conflicts.append(
                        f"{name} {chosen[name]} pins {pins[dep][1]}, but {request.raw[dep]} was asked for"
                    )
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
        vs = _versions(facts, "torch", request.specs["torch"], host.python)
        exact = _exact(request.specs["torch"])
        if vs or exact:
            chosen["torch"] = vs[0] if vs else exact or ""
    if "torch" in chosen:
        follow("torch")
    for name in request.order:
        if name in chosen:
            continue
        req = request.specs[name]
        if name in ("torchvision", "torchaudio") and "torch" in chosen:
            pick = _companion(facts, name, req, chosen["torch"], platform, env, host.python)
        else:
            vs = _versions(facts, name, req, host.python)
            pick = vs[0] if vs else _exact(req)
        if pick:
            chosen[name] = pick
            if name in facts.snapshot.packages:
                follow(name)
        else:
            unk[name] = f"no release of {name} in the snapshot satisfies {request.raw[name]}"
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
        if cudnn is None:  # another variant, or a platform whose wheel bundles cuDNN: RELEASE.md says
            series = query.torch_series(facts, tv)
            listed = series.get("cudnn", {}).get(tvariant) if series is not None else None
            if listed is not None and series is not None:
                cudnn = str(listed)
                refs.append(series.ref)
        build_fact = query.torch_build(facts, tv, tvariant, platform)
        if build_fact is not None:
            archs, ptx = tuple(build_fact["archs"]), tuple(build_fact.get("ptx", ()))
            refs.append(build_fact.ref)
            if build_fact.get("cuda") is not None:
                cuda_runtime = str(build_fact["cuda"])
        elif tvariant != "cpu":
            unk["archs"] = f"no torch_build fact for torch {tv} {tvariant} on {platform}"
    for name in _order(chosen, request):
        components.append(
            _component(
                facts, name, chosen[name], request, tvariant, pins_of.get(name, {}), via.get(name), refs
            )
        )
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
        cudnn=cudnn,
        nccl=nccl,
        archs=archs,
        ptx=ptx,
        python=_tightest(pyspec) or None,
        origin="image" if image is not None and (image.vllm or image.torch) else "resolved",
        platform=platform,
        image_cuda=image.cuda if image else None,
        image_require=image.require if image else None,
        image_compat=image.compat if image else None,
        conflicts=tuple(dict.fromkeys(conflicts)),
        facts=tuple(dict.fromkeys(refs)),
        unknown=unk,
    )


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


def _order(chosen: Mapping[str, str], request: Request) -> list[str]:
    first = [n for n in ("vllm", "torch", *_FOLLOWED[1:]) if n in chosen]
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
) -> Component:
    variant = request.variants.get(name)
    index_url = request.index_url if name in ("torch", *_EXTENSIONS) else None
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
    elif name in _EXTENSIONS and (variant or tvariant):
        variant = variant or tvariant
        vc = query.variant_cuda(variant)
        cuda = str(vc) if vc else None
    elif name == "vllm":
        series = query.vllm_series(facts, version)
        if series is not None:
            vc = query.variant_cuda(variant)
            cuda = str(vc) if vc else str(series["wheel_cuda"])
            archs = tuple(series.get("archs", ()))
            ptx = tuple(series.get("ptx", ()))
            own.append(series.ref)
    for f in query.package_builds(facts, name, version):
        if f.get("component"):
            own.append(f.ref)  # a kernel library inside the package: rules read it from the fact
            continue
        if f.get("cuda") is not None and cuda is None:
            cuda = str(f["cuda"])
        elif f.get("cuda_major") is not None and cuda is None:
            cuda = str(f["cuda_major"])
        archs = archs or tuple(f.get("archs", ()))
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


# --------------------------------------------------------------------------- installed stacks


def _unmet_pins(host: Host, components: Sequence[Component]) -> tuple[str, ...]:
    """Exact pins of installed packages that the installed versions do not meet (what ``pip check`` says)."""
    out: list[str] = []
    for c in components:
        for text in c.pins:
            req = _requirement(text)
            if req is None:
                continue
            other = host.package(canonicalize_name(req.name))
            if other is None:
                continue
            try:
                installed = Version(Version(other.version).public)
            except InvalidVersion:
                continue
            if not req.specifier.contains(installed, prereleases=True):
                out.append(
                    f"{c.name} {c.version} requires {req.name}{req.specifier}, but {other.name} "
                    f"{other.version} is installed"
                )
    return tuple(out)


def from_installed(host: Host, facts: Facts) -> Stack:
    """The stack the probe found installed: torch (variant from its local label), vLLM, extensions."""
    platform = query.platform_key(host)
    refs: list[FactRef] = []
    components: list[Component] = []
    unk: dict[str, str] = {}
    torch = host.package("torch")
    tvariant = None
    cuda_runtime = None
    archs: tuple[Any, ...] = ()
    ptx: tuple[Any, ...] = ()
    if torch is not None:
        v = Version(torch.version)
        tvariant = (v.local or "").lower() or None
        if torch.cuda:
            cuda_runtime = torch.cuda
            tvariant = tvariant or f"cu{torch.cuda.replace('.', '')[:3]}"
        if tvariant is None:
            refs_local: list[FactRef] = []
            tvariant, _ = _pypi_default(facts, v.public, platform, refs_local)
        cu = query.variant_cuda(tvariant)
        cuda_runtime = cuda_runtime or (str(cu) if cu else None)
        if tvariant:
            bf = query.torch_build(facts, v.public, tvariant, platform)
            if bf is not None:
                archs, ptx = tuple(bf["archs"]), tuple(bf.get("ptx", ()))
                refs.append(bf.ref)
            elif tvariant != "cpu":
                unk["archs"] = f"no torch_build fact for torch {v.public} {tvariant} on {platform}"
    env = _env(host, platform)
    labels: dict[str, str] = {}
    for pkg in host.packages:
        try:
            local = Version(pkg.version).local
        except InvalidVersion:
            local = None
        if local:
            labels[canonicalize_name(pkg.name)] = local.lower()
    request = Request({}, (), labels)
    for pkg in host.packages:
        name = canonicalize_name(pkg.name)
        if name.startswith("nvidia-") or name == "triton":
            continue
        if (
            name != "torch"
            and name not in ("vllm", *_EXTENSIONS, "flashinfer-python", "flash-attn")
            and not (query.package_builds(facts, name, pkg.version))
        ):
            continue
        pins = _pins(pkg.requires, env)
        comp = _component(facts, name, pkg.version, request, tvariant, pins, None, refs)
        if name == "torch":
            comp = Component(
                comp.name, comp.version, tvariant, None, None, comp.facts, cuda_runtime, (), (), comp.pins
            )
        components.append(comp)
    cudnn = host.cudnn.get("torch") or _pkg_version(
        host, "nvidia-cudnn-cu12", "nvidia-cudnn-cu13", "nvidia-cudnn-cu11"
    )
    nccl = host.nccl.get("torch") or _pkg_version(
        host, "nvidia-nccl-cu12", "nvidia-nccl-cu13", "nvidia-nccl-cu11"
    )
    if not components:
        unk["stack"] = "no torch, vLLM or tracked CUDA package is installed"
    return Stack(
        components=tuple(components),
        conflicts=_unmet_pins(host, components),
        cuda_runtime=cuda_runtime,
        cudnn=cudnn,
        nccl=nccl,
        archs=archs,
        ptx=ptx,
        origin="installed",
        platform=platform,
        facts=tuple(dict.fromkeys(refs)),
        unknown=unk,
    )


def _pkg_version(host: Host, *names: str) -> str | None:
    for n in names:
        p = host.package(n)
        if p is not None:
            return p.version
    return None


def _fact_refs(items: Sequence[Fact]) -> tuple[FactRef, ...]:
    return tuple(f.ref for f in items)
