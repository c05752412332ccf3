"""Per service: the stack the engine resolves from its requirements and base image, the host it is
judged against, the engine's findings located at the lines that caused them, and the CUDA facts the
repo rules compare across services."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from cudalign._dataclass import dataclass, field
from cudalign.model import FactRef, Finding, Host, Location, Stack
from cudalign.scan.model import Declared
from cudalign.scan.services import Service

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts
    from cudalign.stack import ImageInfo
    from cudalign.stack.images import ImageReader

__all__ = [
    "ImpliedTorch",
    "ServiceView",
    "analyse",
    "cuda_sensitive",
    "declaration_for",
    "engine_findings",
    "image_cuda",
    "locks_it",
    "replaced_pins",
]

_HOST_FREE = ("CA30",)  # engine rules that need no host: package-level


@lru_cache(maxsize=1)
def _shipped() -> Facts:
    from cudalign.facts import load

    return load()


def cuda_sensitive(name: str, facts: Facts | None = None) -> bool:
    """Whether a package's wheels are tied to a CUDA version (torch, vLLM, ``nvidia-*`` …): its
    ``package`` fact says so (an exact entry over a prefix), or a ``package_build`` fact is about it."""
    from cudalign.facts import query

    kb = facts if facts is not None else _shipped()
    fact = query.package_fact(kb, name)
    if fact is not None and fact.get("cuda_sensitive") is not None:
        return bool(fact["cuda_sensitive"])
    return any(f["package"] == name for f in query.facts_of_kind(kb, "package_build"))


def _flag(facts: Facts | None, name: str, flag: str) -> bool:
    from cudalign.facts import query

    return query.package_flag(facts if facts is not None else _shipped(), name, flag)


@dataclass(frozen=True, slots=True)
class ServiceView:
    """A service with what the engine and the knowledge base say about it."""

    service: Service
    requirements: tuple[str, ...]
    """What was handed to the engine: one requirement per package, lock and exact pins first."""
    stack: Stack | None = None
    image: ImageInfo | None = None
    host: Host | None = None
    findings: tuple[Finding, ...] = ()
    """The engine's findings, located."""
    note: str | None = None
    """Why the engine could not judge the service, when it could not."""
    stale_lock: tuple[Declared, ...] = ()
    """Declared CUDA-sensitive packages the service's lock file does not hold: the lock is out of date
    and was left out of the resolution."""
    facts: Facts | None = field(default=None, repr=False, compare=False)
    """The knowledge base the view was made with (the shipped one when not given)."""
    implied_torch: tuple[ImpliedTorch, ...] = ()
    """Packages that pull torch in through their own metadata (``torch_dependency`` facts) in a service
    that pins no torch of its own: the torch they install was handed to the engine."""
    torch_unchecked: tuple[Declared, ...] = ()
    """Such packages pinned to a release whose metadata the knowledge base lacks."""

    @property
    def torch_pinned(self) -> bool:
        """Whether the torch version is fixed by the repository (an exact pin, a lock, an image tag)
        rather than by whatever a range resolves to today."""
        if self.torch is None and self.implied_torch:
            return False  # a package's 'torch>=…' pins nothing
        source = self.torch_source
        if source is not None:
            return source.locked or source.pinned_version is not None
        return self.service.image is not None

    @property
    def torch(self) -> Declared | None:
        return declaration_for(self.service, "torch")

    @property
    def torch_source(self) -> Declared | None:
        """The declaration that decides torch: its own pin, else the package that pins it (vLLM …)."""
        if self.torch is not None:
            return self.torch
        for comp in self.stack.components if self.stack else ():
            if any(p.replace(" ", "").startswith("torch==") for p in comp.pins):
                found = declaration_for(self.service, comp.name)
                if found is not None:
                    return found
        if self.implied_torch:
            return self.implied_torch[0].declared
        return next((d for d in self.service.requirements if _flag(self.facts, d.name, "gpu_only")), None)

    @property
    def torch_version(self) -> Version | None:
        comp = self.stack.component("torch") if self.stack else None
        text = comp.version if comp else (self.torch.pinned_version if self.torch else None)
        try:
            return Version(Version(text).public) if text else None
        except InvalidVersion:
            return None

    @property
    def torch_cuda(self) -> Version | None:
        """CUDA runtime of the torch build (None for CPU builds or no torch)."""
        comp = self.stack.component("torch") if self.stack else None
        if comp is None or (comp.variant or "").startswith(("cpu", "rocm")):
            return None
        return _minor(self.stack.cuda_runtime if self.stack else None)

    @property
    def image_cuda(self) -> Version | None:
        return _minor(self.image.cuda if self.image else None)

    @property
    def cuda(self) -> Version | None:
        """The CUDA runtime the service loads: torch's, else the stack's, else the image's."""
        if self.torch_cuda is not None:
            return self.torch_cuda
        if self.stack is not None and self.stack.cuda_runtime:
            return _minor(self.stack.cuda_runtime)
        return self.image_cuda

    @property
    def accelerator(self) -> str | None:
        """What the service runs on: ``nvidia``, ``rocm``, ``npu``, ``xpu``, ``cpu``, or None when
        nothing in its files says (a router, an API client). A sign of another accelerator (its image's
        vendor, a ``+rocm``/``+cpu``/``+xpu`` torch or index, an accelerator package, ``/dev/kfd``
        devices, a ``cpu`` profile or file name) wins over the weaker signs of an NVIDIA stack."""
        return service_accelerator(self.service, self.image, self.facts)

    @property
    def gpu_stack(self) -> bool:
        """Strong signs the service runs on an NVIDIA GPU: a CUDA image, a GPU-only package, an explicit
        CUDA build or index of torch, ``nvidia-*`` packages; never for another accelerator's service."""
        if self.accelerator not in (None, "nvidia"):
            return False
        if self.image_cuda is not None:
            return True
        return self.declares_gpu

    @property
    def gpu_intended(self) -> bool:
        """A GPU stack, or a GPU asked for in compose (reservation) or Kubernetes (limit, product)."""
        svc = self.service
        if self.accelerator not in (None, "nvidia"):
            return False
        return (
            self.gpu_stack
            or any(cs.gpu for cs in svc.compose)
            or any(c.gpus or c.gpu_products for c in svc.containers)
        )

    @property
    def declares_gpu(self) -> bool:
        """Whether the service's own files (not a lock's transitive packages) ask for an NVIDIA GPU
        stack (never for a service of another accelerator)."""
        if self.accelerator not in (None, "nvidia"):
            return False
        for d in self.service.requirements:
            if d.locked:
                continue
            if _flag(self.facts, d.name, "gpu_only"):
                return True
            if d.name == "torch" and re.search(r"\+cu\d+", d.specifier):
                return True
        return any(re.search(r"/whl/cu\d+", i.url) for i in self.service.indexes)


@dataclass(frozen=True, slots=True)
class ImpliedTorch:
    """A package whose release metadata requires torch, and the torch requirement it brings."""

    declared: Declared
    version: str
    """The release judged: the pinned one, else the newest checked release its range admits."""
    requirement: str
    """Its requirement on torch, without marker (``torch>=2.2``)."""
    fact: FactRef


_CPU_WORD = r"(?:^|[-_./\s(])cpu(?:$|[-_./\s)])"
_LABEL = r"\+(cu\d+|rocm[\d.]*|cpu|xpu)\b"
_INDEX_KIND = r"/whl/(?:nightly/)?(cu\d+|rocm[\d.]*|cpu|xpu)\b"


def _kind_of(word: str) -> str:
    return "nvidia" if word.startswith("cu") else ("rocm" if word.startswith("rocm") else word)


def service_accelerator(service: Service, image: ImageInfo | None, facts: Facts | None) -> str | None:
    """The accelerator a service targets (see :attr:`ServiceView.accelerator`)."""
    from cudalign.facts import query

    kb = facts if facts is not None else _shipped()
    other: list[str] = []
    nvidia = False
    if image is not None and image.accelerator:
        if image.accelerator != "nvidia":
            return image.accelerator
        nvidia = True
    packages = {str(f["name"]): str(f["accelerator"]) for f in query.facts_of_kind(kb, "accelerator_package")}
    for d in service.requirements:
        if d.locked:
            continue
        if d.name in packages:
            other.append(packages[d.name])
        m = re.search(_LABEL, d.specifier)
        if m:
            kind = _kind_of(m.group(1))
            nvidia = nvidia or kind == "nvidia"
            if kind != "nvidia":
                other.append(kind)
    for idx in service.indexes:
        m = (
            re.search(_INDEX_KIND, idx.url)
            if idx.kind != "torch-backend"
            else re.match(r"(cu\d+|cpu|xpu|rocm)", idx.url)
        )
        if m:
            kind = _kind_of(m.group(1))
            nvidia = nvidia or kind == "nvidia"
            if kind != "nvidia":
                other.append(kind)
    for cs in service.compose:
        if cs.gpu:
            nvidia = True
        if any(d.startswith("/dev/kfd") for d in cs.devices):
            other.append("rocm")  # AMD's compute device (with /dev/dri)
        elif any(d.startswith("/dev/davinci") for d in cs.devices):
            other.append("npu")
        elif any(d.startswith("/dev/dri") for d in cs.devices) and not cs.gpu:
            other.append("xpu")  # /dev/dri alone: an Intel GPU (render nodes), no NVIDIA device
        if "cpu" in cs.profiles or re.search(r"--device[= ]cpu\b|--cpu\b", cs.command):
            other.append("cpu")
    for c in service.containers:
        if c.gpus or c.gpu_products:
            nvidia = True
        for res in c.accelerators:
            other.append(
                "rocm" if res.startswith("amd.com") else "npu" if "ascend" in res.lower() else "other"
            )
    if not other and not nvidia:
        names = [service.name, service.dockerfile or "", *(cs.name for cs in service.compose)]
        if any(re.search(_CPU_WORD, n.lower()) for n in names):
            return "cpu"
    if other:
        # an explicit NVIDIA build (+cu label, CUDA index, CUDA image) next to a CPU sign is still NVIDIA
        if nvidia and all(k == "cpu" for k in other):
            return "nvidia"
        return other[0]
    return "nvidia" if nvidia else None


def image_cuda(facts: Facts, reference: str) -> Version | None:
    """The CUDA (major.minor) of an image by its reference, per the knowledge base's image facts."""
    if "$" in reference:
        return None
    from cudalign.stack import image_info

    try:
        return _minor(image_info(facts, reference).cuda)
    except (ValueError, KeyError):
        return None


def _minor(text: str | None) -> Version | None:
    if not text:
        return None
    try:
        v = Version(text)
    except InvalidVersion:
        return None
    rel = (*v.release, 0)[:2]
    return Version(f"{rel[0]}.{rel[1]}")


def declaration_for(service: Service, name: str, decls: Sequence[Declared] | None = None) -> Declared | None:
    """The declaration that decides a package: a lock entry, else an exact pin, else the first one.
    ``decls``: the service's declarations of ``name``, when the caller has them grouped already."""
    if decls is None:
        decls = [d for d in service.requirements if d.name == name]
    locked = [d for d in decls if d.locked]
    pinned = [d for d in decls if not d.locked and d.pinned_version]
    pins = {d.pinned_version for d in pinned}
    return (
        next((d for d in locked if d.pinned_version in pins), None)  # a lock may hold one entry per source
        or (locked[0] if locked else None)
        # a later, separate install command replaces what an earlier one installed: the last pin wins
        or (max(pinned, key=lambda d: d.install) if pinned else None)
        or (decls[0] if decls else None)
    )


def replaced_pins(service: Service, stack: Stack) -> list[tuple[Declared, str, str]]:
    """Exact pins that a later, separate install command of the service puts over the version an earlier
    command's package pins (``uv pip install nvidia-nccl-cu12==2.25.1`` after ``torch`` pinned 2.26.2):
    ``(the later pin, the package that pinned another version, that version)``. pip installs the later
    one and warns about the earlier package; the two were never resolved together. torch itself is not
    one of them: a later torch is the service's torch, and what was built for the earlier one is judged
    against it."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    if not any(d.install for d in service.requirements):
        return []
    out: list[tuple[Declared, str, str]] = []
    for comp in stack.components:
        own = declaration_for(service, comp.name)
        if own is None or own.locked or not own.install:
            continue
        for text in comp.pins:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            exact = [s.version for s in req.specifier if s.operator == "=="]
            name = str(canonicalize_name(req.name))
            later = declaration_for(service, name) if exact and name != "torch" else None
            if later is None or later.locked or later.install <= own.install or not later.pinned_version:
                continue
            if _public(later.pinned_version) != _public(exact[0]):
                out.append((later, comp.name, exact[0]))
    return out


def _public(text: str) -> str:
    try:
        return Version(text).public
    except InvalidVersion:
        return text


def _engine_requirements(service: Service) -> tuple[str, ...]:
    """One requirement per package (the lock's, else the deciding pin), then the service's other
    requirements of it that install in the same run: those of its requirements files and pyproject
    under the same marker (a Dockerfile ``pip install`` is a run of its own and replaces, CA606)."""
    out: list[str] = []
    by_name: dict[str, list[Declared]] = {}  # grouped once: per name, a scan of all is quadratic
    for r in service.requirements:
        by_name.setdefault(r.name, []).append(r)
    for name, decls in by_name.items():
        d = declaration_for(service, name, decls)
        if d is None or d.constraint:
            continue
        if d.locked:
            out.append(f"{d.name}{d.specifier}")
            continue
        out.append(_as_engine(d))
        for e in decls:
            if e is d or e.locked or e.constraint or e.marker != d.marker:
                continue
            if _own_run(e) and _own_run(d):
                out.append(_as_engine(e))
    return tuple(dict.fromkeys(out))


def _engine_constraints(service: Service) -> tuple[str, ...]:
    """The service's ``-c`` constraints, for the packages the engine is given."""
    return tuple(dict.fromkeys(_as_engine(d) for d in service.requirements if d.constraint and not d.locked))


def _as_engine(d: Declared) -> str:
    return d.text.split(";", 1)[0].strip() if not d.url else d.text.strip()


def _own_run(d: Declared) -> bool:
    """Whether the declaration comes from a file installed in one resolver run with the others."""
    base = d.location.file.rsplit("/", 1)[-1].lower()
    return not (base.startswith(("dockerfile", "containerfile")) or base.endswith(".dockerfile"))


def _index_url(service: Service) -> str | None:
    for idx in service.indexes:
        if idx.kind == "torch-backend" and idx.url.startswith("cu"):
            from cudalign.stack import TORCH_INDEX

            return TORCH_INDEX + idx.url
        if "/whl/" in idx.url and re.search(r"/whl/(cu\d+|cpu)", idx.url):
            return idx.url
    return None


def _locate(finding: Finding, view: ServiceView) -> Finding:
    """The line where the cause is written: the image for image rules; else the declaration of a
    package the finding names (or of the package that pins it in: vLLM for its torch); else the image;
    else the declaration that decides torch. Never a line that names neither."""
    service = view.service
    loc: Location | None = None
    text = f"{finding.message} {finding.fix}".lower()
    if finding.code.startswith("CA4") and service.image is not None:
        loc = service.image.location
    else:
        for name in dict.fromkeys(d.name for d in service.requirements):
            if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
                d = declaration_for(service, name)
                if d is not None:
                    loc = d.location
                    break
        if loc is None and view.stack is not None:  # a package the stack pulls in: who pins it
            for comp in view.stack.components:
                if not re.search(rf"(?<![\w-]){re.escape(comp.name)}(?![\w-])", text):
                    continue
                for other in view.stack.components:
                    if any(p.replace(" ", "").startswith(f"{comp.name}==") for p in other.pins):
                        d = declaration_for(service, other.name)
                        if d is not None:
                            loc = d.location
                            break
                if loc is not None:
                    break
        if loc is None and view.implied_torch and re.search(r"(?<![\w-])torch(?![\w-])", text):
            loc = view.implied_torch[0].declared.location  # the package that pulls this torch in
        if loc is None and service.image is not None:
            loc = service.image.location
        if loc is None:
            source = view.torch_source
            loc = source.location if source is not None else None
    if loc is None and service.files:
        loc = Location(service.files[0], 1)
    return replace(finding, location=loc, service=service.name)


def engine_findings(
    view: ServiceView,
    facts: Facts,
    host_given: bool,
    memo: dict[tuple[object, ...], tuple[Finding, ...]] | None = None,
) -> tuple[Finding, ...]:
    """Run the engine's rules on the service's stack; without a host, only the host-free ones.

    ``memo`` keeps the engine's findings per (host, stack) value across the services of one repository,
    which share a few stacks: the rules are a function of the host, the stack and the facts alone."""
    if view.stack is None or view.host is None or not view.gpu_intended:
        return ()  # the engine's rules are about NVIDIA GPUs: a CPU, ROCm, NPU or XPU service has none
    kept = _kept_codes(view.host, host_given)
    key = (repr(view.host), repr(view.stack), kept)
    found = memo.get(key) if memo is not None else None
    if found is None:
        found = _check(view.host, view.stack, facts, kept)
        if memo is not None:
            memo[key] = found
    return tuple(_locate(f, view) for f in found)


def _kept_codes(host: Host, host_given: bool) -> tuple[str, ...]:
    """The engine rules whose findings a service keeps: without a host only the host-free ones; with one,
    what the user did not describe is not a finding (no driver: no driver rules; no GPU: no arch rules)."""
    if not host_given:
        return _HOST_FREE
    dropped = (("CA1", "CA4") if host.driver is None else ()) + (("CA2",) if not host.gpus else ())
    from cudalign.rules import ENGINE_RULES

    return tuple(r.code for r in ENGINE_RULES if not r.code.startswith(dropped))


def _check(host: Host, stack: Stack, facts: Facts, kept: tuple[str, ...]) -> tuple[Finding, ...]:
    """``cudalign.rules.check`` restricted to the rules whose findings are kept: a rule whose findings
    would be dropped is not run (the GPU condition alone judges every known architecture)."""
    from cudalign.rules import ENGINE_RULES, Context

    ctx = Context(host, stack, facts)
    found = [f for r in ENGINE_RULES if r.code.startswith(kept) for f in r.run(ctx)]
    return tuple(sorted(found, key=lambda f: (-f.severity.rank, f.unknown is not None, f.code)))


def analyse(
    services: Sequence[Service],
    facts: Facts,
    host: Host | None,
    host_for: dict[str, Host] | None = None,
    image_reader: ImageReader | None = None,
) -> list[ServiceView]:
    """Resolve every service that has CUDA-sensitive packages or an image, and run the engine on it
    (``image_reader``: read images from their registries)."""
    from cudalign.errors import CudalignError
    from cudalign.model import OsInfo
    from cudalign.stack import resolve
    from cudalign.stack.images import image_facts as read_image

    views: list[ServiceView] = []
    resolved: dict[tuple[object, ...], Stack] = {}
    memo: dict[tuple[object, ...], tuple[Finding, ...]] = {}
    images: dict[str, ImageInfo | None] = {}
    for svc in services:
        svc, stale = _current_lock(svc, facts)
        reqs = _engine_requirements(svc)
        relevant = any(cuda_sensitive(r.name, facts) for r in svc.requirements)
        image_info = None
        if svc.image is not None and not svc.image.unresolved:
            ref = svc.image.reference
            if ref not in images:  # a repository's services share a few images: each is read once
                try:
                    images[ref] = read_image(facts, ref, image_reader)
                except (CudalignError, KeyError, ValueError):
                    images[ref] = None
            image_info = images[ref]
        judged_image = image_info is not None and (image_info.cuda or "image_tag" in image_info.unknown)
        implied, unchecked = _implied_torch(svc, facts, image_info)
        if implied:
            reqs = (*reqs, implied[0].requirement)
            relevant = True
        if not relevant and not judged_image:
            views.append(
                ServiceView(
                    svc, reqs, image=image_info, stale_lock=stale, facts=facts, torch_unchecked=unchecked
                )
            )
            continue
        judged_on = (host_for or {}).get(svc.name) or host
        host_given = judged_on is not None
        judged_on = judged_on or Host(origin="described", os=OsInfo(system="Linux", arch="x86_64"))
        cudnn = _image_cudnn(svc)
        if cudnn and "image" not in judged_on.cudnn:
            judged_on = replace(judged_on, cudnn={**judged_on.cudnn, "image": cudnn})
        engine_reqs = tuple(r for r in reqs if cuda_sensitive(_name(r), facts))
        names = {_name(r) for r in engine_reqs}
        engine_cons = tuple(
            c for c in _engine_constraints(svc) if _name(c) in names or cuda_sensitive(_name(c), facts)
        )
        try:
            image_ref = svc.image.reference if svc.image and judged_image else None
            idx = _index_url(svc)
            key = (engine_reqs, engine_cons, image_ref, idx, id(judged_on), tuple(judged_on.cudnn.items()))
            if key not in resolved:  # services often share a stack: resolve each one once
                resolved[key] = resolve(
                    engine_reqs,
                    facts,
                    judged_on,
                    image=image_ref,
                    index_url=idx,
                    constraints=engine_cons,
                    image_reader=image_reader,
                )
            stack = resolved[key]
            replaced = {d.name for d, _, _ in replaced_pins(svc, stack)}
            if replaced:  # installed over the earlier pins by a later command: not resolved with them
                engine_reqs = tuple(r for r in engine_reqs if _name(r) not in replaced)
                stack = resolve(
                    engine_reqs,
                    facts,
                    judged_on,
                    image=image_ref,
                    index_url=idx,
                    constraints=tuple(c for c in engine_cons if _name(c) not in replaced),
                    image_reader=image_reader,
                )
        except (CudalignError, ValueError, KeyError, TypeError) as exc:
            views.append(
                ServiceView(
                    svc,
                    reqs,
                    image=image_info,
                    note=f"not resolved: {exc}",
                    stale_lock=stale,
                    facts=facts,
                    implied_torch=implied,
                    torch_unchecked=unchecked,
                )
            )
            continue
        view = ServiceView(
            svc,
            reqs,
            stack=stack,
            image=image_info,
            host=judged_on,
            stale_lock=stale,
            facts=facts,
            implied_torch=implied,
            torch_unchecked=unchecked,
        )
        views.append(replace(view, findings=engine_findings(view, facts, host_given, memo)))
    return views


def locks_it(service: Service, declared: Declared) -> bool:
    """Whether the service's lock is the lock of this declaration: ``uv.lock`` and ``poetry.lock`` lock
    a ``pyproject.toml``'s dependencies, not requirements files installed with ``pip -r``; a
    ``pylock.toml`` may lock either."""
    if declared.locked or declared.constraint:
        return False
    if declared.location.file.endswith("pyproject.toml"):
        return True
    return any(f.rsplit("/", 1)[-1].startswith("pylock") for f in service.files)


def _current_lock(service: Service, facts: Facts) -> tuple[Service, tuple[Declared, ...]]:
    """The CUDA-sensitive packages a service declares that its lock does not hold (an out-of-date lock),
    and the service without the lock's entries when one of them fixes torch (vLLM, torch, xformers …):
    a frozen install would leave it out and a fresh lock resolve torch anew, so neither the lock's
    versions nor a mix of both tell what runs."""
    locked = {d.name for d in service.requirements if d.locked}
    if not locked:
        return service, ()
    missing = tuple(
        d
        for d in service.requirements
        if locks_it(service, d) and d.name not in locked and cuda_sensitive(d.name, facts)
    )
    if not any(
        _flag(facts, d.name, "pins_torch") for d in missing
    ):  # the lock's torch still holds: keep the lock
        return service, missing
    return replace(service, requirements=tuple(d for d in service.requirements if not d.locked)), missing


def _image_cudnn(service: Service) -> str | None:
    """The cuDNN major the service's image provides: a ``cudnn8`` image tag or ``libcudnn8`` installed."""
    for pkg in service.system_packages:
        m = re.match(r"^libcudnn(\d+)", pkg)
        if m:
            return m.group(1)
    if service.image is not None:
        m = re.search(r"cudnn(\d+)", service.image.reference)
        if m:
            return m.group(1)
    return None


def _name(requirement: str) -> str:
    from packaging.utils import canonicalize_name

    m = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return canonicalize_name(m.group(1)) if m else ""


def _implied_torch(
    service: Service, facts: Facts, image: ImageInfo | None
) -> tuple[tuple[ImpliedTorch, ...], tuple[Declared, ...]]:
    """The torch that packages of the service pull in through their own metadata (``torch_dependency``
    facts), when nothing else decides torch: no torch of its own (declared or locked), no package that
    pins torch (vLLM …), no torch in its image. A package pinned to a release the facts do not cover is
    returned apart: which torch it pulls is unchecked."""
    from cudalign.facts import query

    reqs = service.requirements
    if any(d.name == "torch" for d in reqs) or any(_flag(facts, d.name, "pins_torch") for d in reqs):
        return (), ()
    if image is not None and (image.torch or image.torch_build or image.torch_variant):
        return (), ()
    by_package: dict[str, list[tuple[Version, Fact]]] = {}
    for f in query.facts_of_kind(facts, "torch_dependency"):
        text = str(f["versions"])
        try:
            version = Version(text.removeprefix("=="))
        except InvalidVersion:
            continue
        by_package.setdefault(str(f["package"]), []).append((version, f))
    implied: list[ImpliedTorch] = []
    unchecked: list[Declared] = []
    for d in reqs:
        if d.locked or d.constraint or d.name not in by_package:
            continue
        chosen = _release_for(d, by_package[d.name])
        if chosen is None:
            if d.pinned_version:
                unchecked.append(d)
            continue
        version, fact = chosen
        requirement = _torch_requirement(str(fact["torch"]), d)
        if requirement is not None:
            implied.append(ImpliedTorch(d, str(version), requirement, fact.ref))
    return tuple(implied), tuple(unchecked)


def _release_for(d: Declared, releases: list[tuple[Version, Fact]]) -> tuple[Version, Fact] | None:
    """The release a declaration installs among those the facts cover: its pin, else the newest one its
    range admits (what an install resolves to on the day the facts were checked)."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    pinned = d.pinned_version
    if pinned:
        try:
            want = Version(pinned)
        except InvalidVersion:
            return None
        return next(((v, f) for v, f in releases if v == want), None)
    try:
        spec = SpecifierSet(d.specifier.strip())
    except InvalidSpecifier:
        return None
    admitted = [(v, f) for v, f in releases if spec.contains(v, prereleases=True)]
    return max(admitted, key=lambda p: p[0]) if admitted else None


def _torch_requirement(text: str, d: Declared) -> str | None:
    """A ``torch_dependency`` line as the engine takes it, or None when its marker excludes the extras
    the declaration selects (``torch>=2.2; extra == 'cuda'`` without ``[cuda]``) or Linux."""
    from packaging.markers import InvalidMarker
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(text)
        extras = Requirement(d.text.split(";", 1)[0].strip()).extras if "[" in d.text else set()
    except (InvalidRequirement, InvalidMarker):
        return None
    if req.marker is not None:
        env = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}
        if not any(req.marker.evaluate({**env, "extra": e}) for e in (extras or {""})):
            return None
    return f"{req.name}{req.specifier}"
