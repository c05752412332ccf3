"""The repo rules of ``scan`` (CA6xx): drift between services and misalignments inside one service.

Each rule is a stable code, a name, a severity, a title and one check over a :class:`RepoContext`;
the check's docstring is the rule's documentation (docs page and SARIF help text), as for the
engine's catalogue in :mod:`cudalign.rules`.
"""

from __future__ import annotations

import inspect
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from cudalign.model import FactRef, Finding, Location, Severity
from cudalign.scan.analysis import ServiceView, cuda_sensitive, image_cuda
from cudalign.scan.model import Declared, Problem

if TYPE_CHECKING:
    from cudalign.facts import Facts

__all__ = ["SCAN_RULES", "RepoContext", "ScanHit", "ScanRule", "driver_text", "run_repo_rules", "scan_rule"]


@dataclass(frozen=True, slots=True)
class ScanHit:
    """What a repo check yields; the rule adds code, name and severity."""

    message: str
    fix: str
    location: Location | None
    service: str | None = None
    facts: tuple[FactRef, ...] = ()
    severity: Severity | None = None


@dataclass(frozen=True, slots=True)
class RepoContext:
    """Everything the repo rules look at."""

    views: Sequence[ServiceView]
    facts: Facts
    fleet_driver: Version | None = None
    """The lowest driver of the target fleet (``--fleet-driver``, ``--driver`` or ``[tool.cudalign]``)."""
    problems: Sequence[Problem] = ()
    engine_codes: dict[str, frozenset[str]] = field(default_factory=dict)
    """Service -> engine rule codes already reported for it (to avoid saying one thing twice)."""


@dataclass(frozen=True, slots=True)
class ScanRule:
    """One repo rule of the catalogue."""

    code: str
    name: str
    severity: Severity
    title: str
    function: Callable[[RepoContext], Iterable[ScanHit]] = field(repr=False)

    @property
    def doc(self) -> str:
        """The docstring of the check: what it checks, why, and how to fix it."""
        return inspect.cleandoc(self.function.__doc__ or "")

    def run(self, ctx: RepoContext) -> list[Finding]:
        return [
            Finding(
                code=self.code,
                name=self.name,
                severity=h.severity or self.severity,
                message=h.message,
                fix=h.fix,
                facts=h.facts,
                location=h.location,
                service=h.service,
            )
            for h in self.function(ctx)
        ]


def _drift(
    values: dict[str, tuple[Version, Location | None]], what: str
) -> Iterable[tuple[str, Version, Location | None, str]]:
    """(service, its value, location, the others in words) for each service off the most common value."""
    if len({v for v, _ in values.values()}) < 2:
        return
    counts = Counter(v for v, _ in values.values())
    common = max(counts, key=lambda v: (counts[v], v))
    for name, (value, loc) in values.items():
        if value == common:
            continue
        others = sorted(n for n, (v, _) in values.items() if v == common)
        yield name, value, loc, f"{', '.join(others)} use{'s' if len(others) == 1 else ''} {what} {common}"


def torch_drift(ctx: RepoContext) -> Iterable[ScanHit]:
    """Services of one repository run different torch versions.

    Services that exchange tensors, checkpoints or compiled extensions (a worker and an API, an LLM
    and an embedding service) behave differently across torch versions, and each torch version brings
    its own CUDA runtime. The finding points at each service that is off the most common version.

    Fix: pin one torch version for all services (a shared constraints file helps), or suppress the
    finding on the line with ``# cudalign: ignore=CA601`` where the difference is intended.
    """
    values: dict[str, tuple[Version, Location | None]] = {}
    for v in ctx.views:
        if v.torch_version is not None:
            source = v.torch_source
            where = source.location if source else (v.service.image.location if v.service.image else None)
            values[v.service.name] = (v.torch_version, where)
    for name, value, loc, others in _drift(values, "torch"):
        yield ScanHit(
            f"{name} runs torch {value} while {others}",
            "pin the same torch version in every service (one shared constraints file), or mark the "
            "difference as intended with '# cudalign: ignore=CA601'",
            loc,
            name,
        )


def cuda_drift(ctx: RepoContext) -> Iterable[ScanHit]:
    """Services of one repository load different CUDA runtimes (major.minor).

    The CUDA runtime of a service is that of its torch build (``+cu128``, the PyPI default of its
    version, or the index it installs from), else its base image's CUDA. Every runtime needs its own
    minimum driver, so the fleet's driver must satisfy the newest one; different majors also mean
    different cuBLAS/cuDNN majors that cannot share one image.

    Fix: move the services to one CUDA minor (the same torch variant and base image CUDA).
    """
    values: dict[str, tuple[Version, Location | None]] = {}
    for v in ctx.views:
        cuda = v.cuda
        if cuda is None:
            continue
        source = v.torch_source
        loc = source.location if (v.torch_cuda is not None and source) else None
        if loc is None and v.service.image is not None:
            loc = v.service.image.location
        values[v.service.name] = (cuda, loc)
    for name, value, loc, others in _drift(values, "CUDA"):
        counts = Counter(c for c, _ in values.values())
        common = max(counts, key=lambda c: (counts[c], c))
        yield ScanHit(
            f"{name} loads CUDA {value} while {others}"
            + (
                "; the CUDA majors differ, so the driver must support the newest major"
                if value.major != common.major
                else ""
            ),
            "move all services to one CUDA minor: the same torch variant (+cuXYZ or index) and base "
            "image CUDA",
            loc,
            name,
            severity=Severity.WARNING,
        )


def base_image_cuda_mismatch(ctx: RepoContext) -> Iterable[ScanHit]:
    """A service's base image declares another CUDA than the torch wheel installed into it.

    The torch wheel brings its own CUDA runtime (the ``nvidia-*`` wheels); the image's toolkit is not
    what torch loads. What matters is the driver: the image's ``NVIDIA_REQUIRE_CUDA`` makes the
    container runtime check the driver for the *image's* CUDA, so a wheel built for a newer CUDA than
    the image passes that check on a driver too old for the wheel and fails only at the first CUDA
    call (``CUDA driver version is insufficient``). A wheel for an older CUDA than the image works but
    the image's toolkit is dead weight. Different majors (an 11.8 image with a cu121 wheel) also mean
    two cuBLAS/cuDNN majors in one image.

    Fix: use a base image whose CUDA matches the wheel (``nvidia/cuda:12.8.1-runtime-…`` for ``+cu128``)
    or install the torch variant that matches the image.
    """
    from cudalign.facts import query

    for v in ctx.views:
        image_cuda, torch_cuda = v.image_cuda, v.torch_cuda
        if image_cuda is None or torch_cuda is None or image_cuda == torch_cuda or v.service.image is None:
            continue
        torch = v.stack.component("torch") if v.stack else None
        label = f"torch {torch.version}+{torch.variant}" if torch and torch.variant else "torch"
        source = v.torch_source
        loc = source.location if source else v.service.image.location
        image = (
            f"{v.service.image.reference} ({v.service.image.location.file}:{v.service.image.location.line})"
        )
        need = query.min_driver_for_cuda(ctx.facts, torch_cuda)
        floor = query.mvc_floor(ctx.facts, torch_cuda.major)
        refs = need.refs + floor.refs + (v.image.facts if v.image else ())
        full = f"driver {driver_text(need.value)}" if need.value else f"a driver for CUDA {torch_cuda}"
        mvc = f"driver >= {driver_text(floor.value)}" if floor.value else "a driver of the same CUDA major"
        if torch_cuda.major > image_cuda.major:
            yield ScanHit(
                f"base image {image} declares CUDA {image_cuda}, but {label} brings its own CUDA "
                f"{torch_cuda} runtime, which needs {mvc} ({full} for full support); "
                "the image's NVIDIA_REQUIRE_CUDA "
                f"only checks for CUDA {image_cuda}, so a driver too old for torch passes the container "
                "start and fails at the first CUDA call",
                f"use a CUDA {torch_cuda} base image, or install the torch build for CUDA {image_cuda}",
                loc,
                v.service.name,
                refs,
                Severity.WARNING,
            )
        elif torch_cuda > image_cuda and torch_cuda.major == image_cuda.major:
            yield ScanHit(
                f"base image {image} declares CUDA {image_cuda}, but {label} brings its own CUDA "
                f"{torch_cuda} runtime: the container starts on any driver for CUDA {image_cuda}, "
                f"yet below {full} "
                f"(CUDA {torch_cuda}) torch runs only through minor-version compatibility ({mvc}), without "
                "PTX JIT; the driver is what matters, not the image's toolkit",
                f"use a CUDA {torch_cuda} base image so the image's driver check matches torch, or install "
                f"the torch build for CUDA {image_cuda}",
                loc,
                v.service.name,
                refs,
                Severity.WARNING,
            )
        else:
            yield ScanHit(
                f"base image {image} ships CUDA {image_cuda}, but {label} loads its own CUDA {torch_cuda} "
                "runtime; the image's toolkit is unused by torch "
                f"(it runs on any driver for CUDA {image_cuda})",
                f"use a CUDA {torch_cuda} (or a -base) image to drop the unused toolkit",
                loc,
                v.service.name,
                refs,
                Severity.INFO,
            )


def unpinned_cuda_package(ctx: RepoContext) -> Iterable[ScanHit]:
    """A CUDA-sensitive package (torch, vLLM, ``nvidia-*``, flash-attn, xformers, ctranslate2 …) is
    not pinned to one version.

    A range (``vllm>=0.12``) or no version at all resolves to whatever is newest on the day of the
    build; for these packages that also changes the CUDA runtime, the driver it needs and the GPU
    architectures compiled in. A lock file (``uv.lock``, ``pylock.toml``) that pins the package in the
    same service counts as a pin.

    Fix: pin the exact version (``vllm==0.13.0``) or install from a lock file.
    """
    for v in ctx.views:
        locked = {d.name for d in v.service.requirements if d.locked}
        seen: set[tuple[str, int | None]] = set()
        for d in v.service.requirements:
            if (
                d.locked
                or d.url
                or d.name in locked
                or d.pinned_version
                or not cuda_sensitive(d.name, ctx.facts)
            ):
                continue
            key = (d.location.file, d.location.line)
            if (d.name, key[1]) in seen:
                continue
            seen.add((d.name, key[1]))
            what = f"'{d.text.split(';')[0].strip()}'"
            yield ScanHit(
                f"{what} is not pinned: each build may resolve another {d.name} release, with another CUDA "
                "runtime and driver requirement",
                f"pin it exactly ({d.name}==<version>) or install from a lock file",
                d.location,
                v.service.name,
            )


_VARIANT_INDEX = re.compile(r"/(cu\d+|cpu|rocm[\d.]+)/?$")


def _serves(url: str, kind: str, variant: str) -> bool:
    if kind == "torch-backend":
        return url in (variant, "auto")
    m = _VARIANT_INDEX.search(url.split("?", 1)[0])
    if m:
        return m.group(1).lower() == variant
    return kind == "find-links" and (
        "torch_stable" in url or "download.pytorch.org" in url or "://" not in url
    )


def variant_without_index(ctx: RepoContext) -> Iterable[ScanHit]:
    """A pin names a CUDA build by its local label (``torch==2.9.0+cu128``) but no index of the service
    serves that build.

    PyPI does not host local-label builds; pip and uv find them only on the PyTorch index for that
    variant (``https://download.pytorch.org/whl/cu128``), a find-links page, uv's ``--torch-backend``
    or a ``[tool.uv.sources]`` entry. Without one the install fails with "No matching distribution
    found for torch==2.9.0+cu128". An index for another variant (``…/whl/cu121``) does not serve it.

    Fix: add the variant's index where the pin is installed (``--extra-index-url
    https://download.pytorch.org/whl/cu128``, or a ``[[tool.uv.index]]`` with ``[tool.uv.sources]``).
    """
    for v in ctx.views:
        svc = v.service
        for d in svc.requirements:
            if d.locked or not d.pinned_version:
                continue
            try:
                local = Version(d.pinned_version).local
            except InvalidVersion:
                continue
            if not local or not re.fullmatch(r"cu\d+", local):
                continue
            served = any(
                _serves(i.url, i.kind, local) and (not i.packages or d.name in i.packages)
                for i in svc.indexes
            ) or any(
                e.locked and e.name == d.name and e.index_url and _serves(e.index_url, "", local)
                for e in svc.requirements
            )
            if served:
                continue
            named = sorted({i.url for i in svc.indexes})
            yield ScanHit(
                f"{d.text.split(';')[0].strip()} names the {local} build, which PyPI does not serve, and "
                "no index of this service serves it "
                f"({'indexes: ' + ', '.join(named) if named else 'no index is named'}); "
                "the install fails with 'No matching distribution found'",
                f"add --extra-index-url https://download.pytorch.org/whl/{local} where it is installed "
                "(or a [[tool.uv.index]] and [tool.uv.sources] entry)",
                d.location,
                svc.name,
                severity=Severity.ERROR,
            )


def duplicate_pin(ctx: RepoContext) -> Iterable[ScanHit]:
    """One service pins the same package to different versions in two of its files.

    Which pin wins depends on install order (a Dockerfile ``pip install`` after ``-r requirements.txt``
    silently replaces the first), so the file a reviewer reads is not what runs. A pin that disagrees
    with the service's lock file (``uv.lock``, ``pylock.toml``) means the lock is out of date and
    installs something else. Pins that apply under different environment markers are not duplicates.

    Fix: keep the pin in one file and let the others include it (``-r``/``-c``); re-lock after
    changing a pin.
    """
    for v in ctx.views:
        by_name: dict[str, list[Declared]] = {}
        locks: dict[str, list[Declared]] = {}
        for d in v.service.requirements:
            if d.locked and d.pinned_version:
                locks.setdefault(d.name, []).append(d)
            elif d.pinned_version:
                by_name.setdefault(d.name, []).append(d)
        for name, decls in by_name.items():
            entries = locks.get(name, [])
            if entries:  # a lock may hold one entry per source or marker: the pin must match one
                lock = entries[0]
                for d in decls:
                    if not any(_same_version(d.pinned_version, e.pinned_version) for e in entries):
                        yield ScanHit(
                            f"{name} is pinned to {d.pinned_version} here, but "
                            f"{lock.location.file}:{lock.location.line} locks {lock.pinned_version}: "
                            "the lock is out of date and installs the locked version",
                            "update the lock (uv lock) or the pin so that they agree",
                            d.location,
                            v.service.name,
                        )
            first = decls[0]
            for d in decls[1:]:
                if d.location.file == first.location.file or d.marker != first.marker:
                    continue
                if _same_version(d.pinned_version, first.pinned_version):
                    continue
                yield ScanHit(
                    f"{name} is pinned to {d.pinned_version} here and to {first.pinned_version} in "
                    f"{first.location.file}:{first.location.line}",
                    "keep one pin and include that file from the other (-r / -c)",
                    d.location,
                    v.service.name,
                )


def _same_version(a: str | None, b: str | None) -> bool:
    try:
        return Version(a or "") == Version(b or "")
    except InvalidVersion:
        return a == b


def gpu_service_without_reservation(ctx: RepoContext) -> Iterable[ScanHit]:
    """A compose service runs a GPU stack but asks for no GPU.

    Without ``deploy.resources.reservations.devices`` (``capabilities: [gpu]``), ``runtime: nvidia`` or
    ``gpus:``, Docker starts the container without the NVIDIA devices and driver libraries (unless the
    daemon's default runtime is ``nvidia``), and torch reports ``CUDA available: False``. A GPU stack here
    means a CUDA base image, a GPU-only package (vLLM, flash-attn …), a ``+cuXYZ`` torch or CUDA index,
    or ``nvidia-*`` packages.

    Fix: add a device reservation to the service (``deploy: resources: reservations: devices:
    [{driver: nvidia, count: all, capabilities: [gpu]}]``).
    """
    for v in ctx.views:
        for cs in v.service.compose:
            if cs.gpu or cs.extended:
                continue
            image = cs.base_image or v.service.image
            if not v.declares_gpu and (image is None or image_cuda(ctx.facts, image.reference) is None):
                continue
            visible = next((e for e in cs.env if e.name == "NVIDIA_VISIBLE_DEVICES"), None)
            extra = " (NVIDIA_VISIBLE_DEVICES alone needs the nvidia runtime)" if visible else ""
            yield ScanHit(
                f"compose service {cs.name} runs a GPU stack but reserves no GPU{extra}; it starts "
                "without the NVIDIA devices unless the Docker daemon's default runtime is nvidia",
                "add deploy.resources.reservations.devices with capabilities: [gpu] (or gpus: all)",
                cs.location,
                v.service.name,
            )


def image_needs_newer_driver_than_fleet(ctx: RepoContext) -> Iterable[ScanHit]:
    """A service's image needs a newer driver than the lowest driver of the target fleet.

    The image's CUDA (``nvidia/cuda:12.9.1-…``, ``vllm/vllm-openai:v0.20.0``) sets its
    ``NVIDIA_REQUIRE_CUDA``; the container toolkit refuses to start it on a driver that supports an older
    CUDA, unless a ``brand=…,driver>=…`` clause of that variable admits the driver's branch (datacenter
    GPUs through the image's forward-compatibility libraries) or ``NVIDIA_DISABLE_REQUIRE`` is set.
    The fleet's lowest driver comes from ``--fleet-driver``, ``--driver`` or ``[tool.cudalign]
    fleet-driver``; without one this rule is silent.

    Fix: use an image of a CUDA the fleet's driver supports, or upgrade the fleet's driver first.
    """
    from cudalign.facts import query

    if ctx.fleet_driver is None:
        return
    for v in ctx.views:
        svc = v.service
        if (
            svc.image is None
            or v.image_cuda is None
            or "CA401" in ctx.engine_codes.get(svc.name, frozenset())
        ):
            continue
        # the container toolkit checks cuda>=major.minor: the minor's first (GA) driver is what it needs
        need = query.min_driver_for_cuda(ctx.facts, v.image_cuda)
        if need.value is None or need.value <= ctx.fleet_driver:
            continue
        refs = need.refs + (v.image.facts if v.image else ())
        disabled = any(
            e.name == "NVIDIA_DISABLE_REQUIRE" and e.value.lower() in ("1", "true", "yes") for e in svc.env
        )
        admitted = _branch_admitted(v.image.require if v.image else None, ctx.fleet_driver)
        base = (
            f"{svc.image.reference} needs driver >= {driver_text(need.value)} (CUDA {v.image_cuda}); "
            f"the fleet's lowest driver is {driver_text(ctx.fleet_driver)}"
        )
        if disabled:
            yield ScanHit(
                base + "; NVIDIA_DISABLE_REQUIRE lets it start, and it runs only through minor-version "
                "compatibility (no PTX JIT)",
                "use an image of a CUDA the fleet's driver supports, or upgrade the fleet's driver",
                svc.image.location,
                svc.name,
                refs,
                Severity.WARNING,
            )
        elif admitted:
            floor = query.mvc_floor(ctx.facts, v.image_cuda.major)
            refs += floor.refs
            how = (
                "minor-version compatibility (no PTX JIT)"
                if floor.value is not None and ctx.fleet_driver >= floor.value
                else "the image's forward-compatibility libraries, which only datacenter GPUs support"
            )
            yield ScanHit(
                base + f"; its NVIDIA_REQUIRE_CUDA admits that branch ({admitted}), so the container starts, "
                f"and CUDA {v.image_cuda} code then runs there only through {how}",
                "upgrade the fleet's driver to lift the caveat, or use an image of a CUDA the driver "
                "supports",
                svc.image.location,
                svc.name,
                refs,
                Severity.WARNING,
            )
        else:
            yield ScanHit(
                base
                + "; the container toolkit refuses to start it there ('unsatisfied condition: cuda>=…')"
                + (
                    ""
                    if v.image and v.image.require
                    else " unless the image's NVIDIA_REQUIRE_CUDA (not in the knowledge base) admits that "
                    "driver branch"
                ),
                "use an image of a CUDA the fleet's driver supports, or upgrade the fleet's driver first",
                svc.image.location,
                svc.name,
                refs,
            )


def driver_text(version: Version) -> str:
    """A driver version as NVIDIA writes it: the third part has two digits (``580.65.06``)."""
    parts = [str(p) for p in version.release]
    if len(parts) >= 3:
        parts[2] = parts[2].zfill(2)
    return ".".join(parts)


def _branch_admitted(require: str | None, driver: Version) -> str | None:
    if not require:
        return None
    for word in require.split():
        m = re.search(r"driver>=(\d+)", word)
        m2 = re.search(r"driver<(\d+)", word)
        if m and m2 and int(m.group(1)) <= driver.major < int(m2.group(1)):
            return f"driver>={m.group(1)},driver<{m2.group(1)}"
    return None


def unparseable_file(ctx: RepoContext) -> Iterable[ScanHit]:
    """A file scan reads does not parse: TOML or YAML syntax, a requirement that is not PEP 508, an
    option without its value.

    The tools that read it (pip, uv, Docker, Compose, kubectl) reject the same file, and scan cannot
    check what it declares. The finding names the line the parser stopped at.

    Fix: correct the syntax at that line.
    """
    for p in ctx.problems:
        yield ScanHit(p.message, "correct the syntax at that line", p.location)


SCAN_RULES: tuple[ScanRule, ...] = (
    ScanRule("CA601", "torch-drift", Severity.WARNING, "Services run different torch versions", torch_drift),
    ScanRule("CA602", "cuda-drift", Severity.WARNING, "Services load different CUDA runtimes", cuda_drift),
    ScanRule(
        "CA603",
        "base-image-cuda-mismatch",
        Severity.WARNING,
        "The base image's CUDA differs from the torch wheel's CUDA",
        base_image_cuda_mismatch,
    ),
    ScanRule(
        "CA604",
        "unpinned-cuda-package",
        Severity.WARNING,
        "A CUDA-sensitive package is not pinned",
        unpinned_cuda_package,
    ),
    ScanRule(
        "CA605",
        "variant-without-index",
        Severity.ERROR,
        "A +cuXYZ pin with no index that serves it",
        variant_without_index,
    ),
    ScanRule(
        "CA606",
        "duplicate-pin",
        Severity.WARNING,
        "One service pins a package differently in two files",
        duplicate_pin,
    ),
    ScanRule(
        "CA607",
        "gpu-service-without-reservation",
        Severity.WARNING,
        "A compose service with a GPU stack reserves no GPU",
        gpu_service_without_reservation,
    ),
    ScanRule(
        "CA608",
        "image-needs-newer-driver-than-fleet",
        Severity.ERROR,
        "An image needs a newer driver than the fleet has",
        image_needs_newer_driver_than_fleet,
    ),
    ScanRule("CA609", "unparseable-file", Severity.WARNING, "A file does not parse", unparseable_file),
)

_BY_KEY = {**{r.code: r for r in SCAN_RULES}, **{r.name: r for r in SCAN_RULES}}


def scan_rule(code_or_name: str) -> ScanRule:
    """A repo rule by code or name; ``KeyError`` if there is none."""
    key = code_or_name.strip()
    return _BY_KEY[key.upper() if key[:2].upper() == "CA" else key]


def run_repo_rules(ctx: RepoContext) -> list[Finding]:
    """Every repo rule, in catalogue order."""
    out: list[Finding] = []
    for r in SCAN_RULES:
        out.extend(r.run(ctx))
    return out
