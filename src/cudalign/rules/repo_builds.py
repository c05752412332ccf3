"""Repo rules on what a service builds and installs beside torch: a CUDA extension compiled with
another CUDA major than its torch (CA610), packages named for another CUDA major (CA611), and the torch
that a package pulls in when the service pins none (CA612)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from cudalign.model import FactRef, Severity
from cudalign.rules.repo import RepoContext, RepoHit

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts
    from cudalign.scan.analysis import ServiceView
    from cudalign.scan.model import BuildStep, Declared

__all__ = ["cuda_suffix_major", "extension_build_cuda_mismatch", "suffix_mismatch", "torch_from_dependency"]

_TOPIC = "topic.torch-extension-cuda-check"


def _nvcc_cuda(facts: Facts, reference: str) -> tuple[Version, tuple[FactRef, ...]] | None:
    """The CUDA of the ``nvcc`` an image ships: the image's CUDA, when an ``image_nvcc`` fact says its
    tag carries the compiler."""
    from cudalign.facts import query
    from cudalign.scan.analysis import image_cuda
    from cudalign.stack.images import parse_reference

    if "$" in reference:
        return None
    try:
        name = parse_reference(reference)
    except ValueError:
        return None
    tag = name.tag or ""
    for f in query.facts_of_kind(facts, "image_nvcc"):
        if name.path == f["repository"] and f["tag_pattern"].fullmatch(tag):
            cuda = image_cuda(facts, reference)
            if cuda is not None:
                return cuda, (f.ref,)
    return None


def _build_torch_cuda(
    ctx: RepoContext, view: ServiceView, step: BuildStep, memo: dict[tuple[object, ...], object]
) -> tuple[Version, str] | None:
    """The CUDA of the torch a build compiles against, and the torch's label: the torch its stage (or the
    stages it builds on) installs, else the one in the stage's image, else the service's own torch when
    the build runs in the final stage."""
    from cudalign.scan.analysis import image_cuda

    if step.torch:
        d = step.torch[-1]
        index = next(
            (i.url for i in reversed(step.indexes) if re.search(r"/whl/(?:nightly/)?(cu\d+|cpu)", i.url)),
            None,
        )
        key = (d.text, index)
        if key not in memo:
            memo[key] = _resolve_torch(ctx.facts, d.text.split(";", 1)[0].strip(), index)
        found = memo[key]
        return found if isinstance(found, tuple) else None
    if step.image is not None:
        from cudalign.stack.images import image_info

        try:
            info = image_info(ctx.facts, step.image.reference)
        except (ValueError, KeyError):
            info = None
        if info is not None and info.torch_variant and info.torch_variant.startswith("cu"):
            digits = info.torch_variant[2:]
            cuda = Version(f"{digits[:-1]}.{digits[-1]}")
            return cuda, f"torch {info.torch or ''}+{info.torch_variant} (in {step.image.reference})"
        if info is not None and (info.torch_build or info.torch):
            in_image = image_cuda(ctx.facts, step.image.reference)
            if in_image is not None:
                return in_image, f"torch {info.torch_build or info.torch} (in {step.image.reference})"
    if step.final_stage and view.torch is not None and view.torch_cuda is not None:
        torch = view.stack.component("torch") if view.stack else None
        label = f"torch {torch.version}+{torch.variant}" if torch and torch.variant else "torch"
        return view.torch_cuda, label
    return None


def _resolve_torch(facts: Facts, requirement: str, index: str | None) -> tuple[Version, str] | None:
    from cudalign.errors import CudalignError
    from cudalign.model import Host, OsInfo
    from cudalign.stack import resolve

    host = Host(origin="described", os=OsInfo(system="Linux", arch="x86_64"))
    try:
        stack = resolve((requirement,), facts, host, index_url=index)
    except (CudalignError, ValueError, KeyError, TypeError):
        return None
    torch = stack.component("torch")
    if torch is None or not torch.variant or not torch.variant.startswith("cu") or not stack.cuda_runtime:
        return None
    try:
        cuda = Version(stack.cuda_runtime)
    except InvalidVersion:
        return None
    return Version(f"{cuda.major}.{cuda.minor}"), f"torch {torch.version}+{torch.variant}"


def extension_build_cuda_mismatch(ctx: RepoContext) -> Iterable[RepoHit]:
    """A Dockerfile compiles a CUDA extension with an ``nvcc`` of another CUDA major than the torch it
    builds against.

    ``python setup.py build_ext``, ``pip install --no-build-isolation …`` and ``TORCH_CUDA_ARCH_LIST=…
    pip install .`` compile through ``torch.utils.cpp_extension``, which compares the CUDA release of
    ``nvcc`` with ``torch.version.cuda``: a different major stops the build with ``RuntimeError: The
    detected CUDA version (12.1) mismatches the version that was used to compile PyTorch (13.0). Please
    make sure to use the same CUDA versions.``; the same major with another minor only warns (no
    finding). The ``nvcc`` is the one of the stage's image (``nvidia/cuda:*-devel-*``, ``pytorch/pytorch:
    *-devel``, NGC's PyTorch), followed through ``FROM <stage>`` chains; the torch is the one the stage
    (or a stage it builds on) installs, else the image's, else the service's when the build runs in the
    final stage. A stage the final image neither builds on nor copies from (``COPY --from``) is not built
    and is left alone. A package installed by name (``pip install flash-attn --no-build-isolation``) may
    fetch a prebuilt wheel before it compiles: a warning.

    Fix: build in a ``-devel`` image of torch's CUDA major (``nvidia/cuda:12.8.1-devel-…`` for a
    ``+cu128`` torch), or install the torch build of the image's CUDA in that stage.
    """
    memo: dict[tuple[object, ...], object] = {}
    topic = ctx.facts.get(_TOPIC).ref if _TOPIC in ctx.facts else None
    for v in ctx.views:
        if v.accelerator not in (None, "nvidia"):
            continue
        for step in v.service.builds:
            if not step.reached or step.image is None:
                continue
            nvcc = _nvcc_cuda(ctx.facts, step.image.reference)
            if nvcc is None:
                continue
            torch = _build_torch_cuda(ctx, v, step, memo)
            if torch is None:
                continue
            (ncuda, refs), (tcuda, label) = nvcc, torch
            if ncuda.major == tcuda.major:
                continue  # torch only warns when the minors differ
            source = step.torch[-1].location if step.torch else None
            where = f" ({source.file}:{source.line})" if source else ""
            message = (
                f"stage {step.stage} compiles a CUDA extension ({step.command}) with the nvcc of "
                f"{step.image.reference} (CUDA {ncuda}) against {label}{where}, built with CUDA {tcuda}: "
                f"torch stops the build with 'The detected CUDA version ({ncuda}) mismatches the version "
                f"that was used to compile PyTorch ({tcuda})'"
            )
            if step.by_name:
                message += " whenever the package compiles instead of fetching a prebuilt wheel"
            yield RepoHit(
                message,
                f"build in a CUDA {tcuda.major} -devel image (CUDA {tcuda}), or install the torch build for "
                f"CUDA {ncuda} in that stage",
                step.location,
                v.service.name,
                refs + ((topic,) if topic else ()),
                Severity.WARNING if step.by_name else Severity.ERROR,
            )


def cuda_suffix_major(facts: Facts, d: Declared) -> tuple[int, Fact, re.Match[str]] | None:
    """The CUDA major a declaration's name, extra or version says by a ``cuda_suffix`` grammar."""
    from cudalign.facts import query

    if len(d.name) > 200:
        return None
    extras: list[str] = []
    head = d.text.split(";", 1)[0]
    if "[" in head and "]" in head:
        extras = [e.strip() for e in head[head.index("[") + 1 : head.index("]")].split(",")]
    for f in query.facts_of_kind(facts, "cuda_suffix"):
        on = f.get("on") or "name"
        pattern = f["pattern"]
        if on == "name":
            m = pattern.fullmatch(d.name)
        elif d.name not in (f.get("packages") or ()):
            continue
        elif on == "extra":
            m = next((x for x in (pattern.fullmatch(e.lower()) for e in extras) if x), None)
        else:
            pinned = d.pinned_version or _star_major(d.specifier)
            m = pattern.fullmatch(pinned) if pinned else None
        if m is not None:
            return int(m.group("major")), f, m
    return None


def _star_major(specifier: str) -> str | None:
    """``==12.*`` and ``~=12.4`` fix the major: ``12``."""
    m = re.fullmatch(r"\s*(?:==\s*(\d+)\.\*|~=\s*(\d+)\.\d+)\s*", specifier)
    return (m.group(1) or m.group(2)) if m else None


def suffix_mismatch(ctx: RepoContext) -> Iterable[RepoHit]:
    """A package named for one CUDA major (``cupy-cuda11x``, ``nvidia-cublas-cu11``, ``jax[cuda12]``,
    ``tensorrt-cu12``, ``cuda-python==12.*``) sits in a service that runs another.

    The suffix is the CUDA major whose libraries (``libcudart.so.11``, ``libcublas.so.12`` …) the package
    loads or ships. The service's CUDA major is its torch's (the ``+cuXYZ`` build, or PyPI's default), else
    its image's; without either, the suffixed packages are compared among themselves. Two majors in one
    process load two copies of every CUDA library: when nothing in the service provides the other major's
    libraries, the import fails (``libcudart.so.11: cannot open shared object file``). The suffix grammar
    of each package family is data (``cuda_suffix`` facts).

    Fix: install the package's build for the service's CUDA major (``cupy-cuda12x`` beside a CUDA 12
    torch), or move torch and the image to the package's major.
    """
    for v in ctx.views:
        if v.accelerator not in (None, "nvidia"):
            continue
        engine = " ".join(f.message for f in v.findings if f.code == "CA303")
        found: list[tuple[Declared, int, Fact, re.Match[str]]] = []
        seen: set[str] = set()
        for d in v.service.requirements:
            if d.locked or d.constraint or d.name in seen:
                continue
            hit = cuda_suffix_major(ctx.facts, d)
            if hit is not None:
                seen.add(d.name)
                found.append((d, *hit))
        if not found:
            continue
        major, why = _service_major(v)
        if major is None:  # compare them among themselves: the most common major wins
            counts: dict[int, int] = {}
            for _, m, _, _ in found:
                counts[m] = counts.get(m, 0) + 1
            if len(counts) < 2:
                continue
            major = max(counts, key=lambda k: (counts[k], k))
            others = [d.name for d, m, _, _ in found if m == major]
            why = f"{', '.join(others)} {'is' if len(others) == 1 else 'are'} for CUDA {major}"
        image_major = None
        if v.image_cuda is not None and v.service.image and "-base-" not in v.service.image.reference:
            image_major = v.image_cuda.major
        for d, m, f, match in found:
            if m == major or re.search(rf"(?<![\w-]){re.escape(d.name)}(?![\w-])", engine):
                continue
            providers = [
                e.name for e, n, g, _ in found if n == m and e is not d and g.id == "suffix.nvidia-wheels"
            ]
            provided = bool(providers) or image_major == m
            twin = _twin(d, f, match, major)
            libs = (
                f"CUDA {m}'s libraries come from {', '.join(providers) or 'the image'}"
                if provided
                else f"nothing else here provides CUDA {m}'s libraries (.so.{m})"
            )
            yield RepoHit(
                f"{d.name} ({f['family']}) is built for CUDA {m}, but {why}: two CUDA majors in one "
                f"process; {libs}",
                f"install {twin} instead" if twin else f"install the CUDA {major} build of {f['family']}",
                d.location,
                v.service.name,
                (f.ref,),
                Severity.WARNING if provided else Severity.ERROR,
            )


def _service_major(v: ServiceView) -> tuple[int | None, str]:
    torch = v.stack.component("torch") if v.stack else None
    if v.torch_cuda is not None and torch is not None:
        label = f"torch {torch.version}+{torch.variant}" if torch.variant else f"torch {torch.version}"
        return v.torch_cuda.major, f"{label} loads CUDA {v.torch_cuda}"
    if v.image_cuda is not None and v.service.image is not None:
        return v.image_cuda.major, f"its image {v.service.image.reference} is CUDA {v.image_cuda}"
    return None, ""


def _twin(d: Declared, f: Fact, match: re.Match[str], major: int) -> str | None:
    """The same package for another major (``cupy-cuda11x`` -> ``cupy-cuda12x``), where the grammar has
    no minor in it."""
    if (f.get("on") or "name") != "name" or "minor" in match.groupdict():
        return None
    return d.name[: match.start("major")] + str(major) + d.name[match.end("major") :]


def torch_from_dependency(ctx: RepoContext) -> Iterable[RepoHit]:
    """A package pulls torch in through its own metadata (``sentence-transformers``, ``whisperx``,
    ``ultralytics``, ``TTS`` …) and the service pins no torch.

    pip then installs whatever torch the package's ``Requires-Dist`` admits, newest first: today's PyPI
    default build, with its CUDA runtime and driver requirement, and another one on each rebuild. The
    finding says which torch that is (from the package's metadata in the knowledge base,
    ``torch_dependency`` facts, and the PyPI snapshot); the engine's rules judge that torch like a
    declared one. A package pinned to a release whose metadata the knowledge base lacks is an info: which
    torch it pulls is unchecked. Services with no GPU in sight are left alone.

    Fix: pin torch next to it (``torch==X.Y.Z`` with the index of the CUDA build you target).
    """
    for v in ctx.views:
        if v.accelerator not in (None, "nvidia") or (not v.gpu_intended and not _gpu_image(v)):
            continue
        torch = v.stack.component("torch") if v.stack else None
        for implied in v.implied_torch:
            d = implied.declared
            which = f"{d.name} {implied.version}" + ("" if d.pinned_version else " (its newest release)")
            if torch is not None:
                build = f"torch {torch.version}" + (f"+{torch.variant}" if torch.variant else "")
                cuda = f" with CUDA {v.stack.cuda_runtime}" if v.stack and v.stack.cuda_runtime else ""
                installs = f"pip installs {build}{cuda} today, and whatever is newest on each rebuild"
            else:
                installs = "pip installs whatever torch is newest on each build"
            yield RepoHit(
                f"{which} requires {implied.requirement} (its PyPI metadata) and the service pins no torch: "
                f"{installs}",
                f"pin torch next to {d.name} (torch==<version> with the index of the CUDA build you target)",
                d.location,
                v.service.name,
                (implied.fact,),
                Severity.WARNING,
            )
        for d in v.torch_unchecked:
            yield RepoHit(
                f"{d.name} {d.pinned_version} pulls torch in, but the knowledge base lacks that release's "
                "metadata: which torch it installs is unchecked, and the service pins none",
                f"pin torch next to {d.name} so the build does not depend on what it pulls",
                d.location,
                v.service.name,
                (),
                Severity.INFO,
            )


def _gpu_image(v: ServiceView) -> bool:
    return v.image_cuda is not None
