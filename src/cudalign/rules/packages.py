"""Package rules: disagreeing pins, differing CUDA majors and libraries, CPU-only torch, missing wheels."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from cudalign._pep508 import canonicalize_name
from cudalign.facts import query
from cudalign.model import Component, FactRef, Severity
from cudalign.rules.common import (
    Hit,
    cuda_majors_provided,
    cudnn_majors_provided,
    label,
    neighbour_needs,
)
from cudalign.stack.releases import _requirement
from cudalign.stack.request import foreign_index_variant

if TYPE_CHECKING:
    from cudalign.facts import Fact
    from cudalign.facts.snapshot import Release
    from cudalign.rules import Context

__all__ = [
    "cpu_only_torch",
    "cuda_library_mismatch",
    "cuda_major_mismatch",
    "extension_abi_mismatch",
    "nccl_mismatch",
    "no_wheel_for_platform",
    "torch_pin_conflict",
]


def _pin(component: Component, name: str) -> str | None:
    for text in component.pins:
        req = _requirement(text)
        if req is None:
            continue
        if canonicalize_name(req.name) == name:
            exact = [s.version for s in req.specifier if s.operator == "=="]
            return exact[0] if exact else None
    return None


def _facts_of(ctx: Context, c: Component, kind: str) -> list[Fact]:
    return [ctx.facts.get(r.id) for r in c.facts if r.id in ctx.facts and ctx.facts.get(r.id).kind == kind]


_PUBLIC: dict[str, Version | None] = {}


def _public(version: str) -> Version | None:
    if not version:
        return None
    if version not in _PUBLIC:
        try:
            _PUBLIC[version] = Version(Version(version).public)
        except InvalidVersion:
            _PUBLIC[version] = None
    return _PUBLIC[version]


def torch_pin_conflict(ctx: Context) -> Iterator[Hit]:
    """The requirements cannot all hold: a package pins a torch (or companion) other than the one asked for.

    **What it checks.** While resolving, vLLM's exact ``torch==`` pin, torchvision/torchaudio/xformers
    pins, and the versions the user asked for; any disagreement is recorded and reported here. On an
    installed stack (``doctor``), every exact pin in an installed package's metadata that the installed
    versions do not meet, as ``pip check`` would.

    **Why.** pip refuses (``ResolutionImpossible``), or, with ``--no-deps`` or a later ``pip install
    torch``, silently replaces torch and breaks the compiled extensions.

    **How to fix.** Drop the explicit torch pin and let vLLM choose it, or choose the vLLM release whose
    pin matches the torch you need (``cudalign plan``).

    A package that pins a torch the user's index (``--index-url …/cu124``) has no build of is reported
    too (a warning): the installer takes that torch from PyPI and replaces the index's build.

    **Example.** ``vllm==0.13.0 torch==2.8.0``: vLLM 0.13.0 pins torch==2.9.0, fails.
    """
    installed = ctx.stack.origin == "installed"
    if not installed:
        yield from _index_replaced(ctx)
    for text in ctx.stack.conflicts:
        if "requires Python" in text:
            fix = "Use a Python the release supports, or a release of the package that supports this Python."
        elif installed:
            fix = (
                "Reinstall the packages together in one resolver run so the pins hold (pip check lists them)."
            )
        else:
            fix = (
                "Drop the conflicting pin and let the package choose, or pick versions that agree "
                "('cudalign plan')."
            )
        yield Hit(f"{text}.", fix)


def _index_replaced(ctx: Context) -> Iterator[Hit]:
    """A package pins a torch the user's index has no build of: the installer replaces the index's torch."""
    torch = ctx.stack.component("torch")
    if torch is None or not ctx.stack.requested:
        return
    from cudalign.stack.request import parse_requirements
    from cudalign.stack.resolve import index_replaced

    request = parse_requirements(ctx.stack.requested, constraints=ctx.stack.constraints)
    lacking = index_replaced(request, ctx.facts, torch.version)
    if lacking is None:
        return
    tv = _public(torch.version)
    pinner = next(
        (c for c in ctx.stack.components if c.name != "torch" and _public(_pin(c, "torch") or "") == tv), None
    )
    by = pinner.name if pinner is not None else ""
    who = (
        f"{by} {pinner.version} pins torch=={torch.version}"
        if pinner is not None
        else (f"torch {torch.version} is chosen")
    )
    yield Hit(
        f"{who}, which {request.index_url} has no build of: the installer takes torch {label(torch)} from "
        f"{torch.index_url or 'PyPI'} instead and replaces the {lacking} torch asked for.",
        f"Pin a {by or 'package'} release whose torch has a {lacking} build ('cudalign plan'), or use the "
        f"index of the variant it pins ({torch.variant}).",
        tuple(r for r in ctx.stack.facts if r.id in ctx.facts and ctx.facts.get(r.id).kind == "torch_series"),
        severity=Severity.WARNING,
    )


def extension_abi_mismatch(ctx: Context) -> Iterator[Hit]:
    """An extension built against one torch is installed (or planned) next to another torch.

    **What it checks.** Installed packages whose metadata pins ``torch==X`` (vLLM, xformers, torchvision,
    torchaudio) against the installed torch; and packages whose build facts name the torch they were
    compiled for (``package_build.torch``, e.g. flash-attn's prebuilt wheels) against the stack's torch.

    **Why.** C++/CUDA extensions link torch's private symbols; a different torch gives ``undefined
    symbol: _ZN3c10…`` at import, or ``operator torchvision::nms does not exist``.

    **How to fix.** Reinstall the extension for the torch you have (or torch for the extension), in one
    resolver run: ``uv pip install vllm==… --torch-backend=…``.

    **Example.** xformers 0.0.28.post3 (pins torch 2.5.1) with torch 2.6.0 installed: fails.
    """
    from cudalign.rules.neighbours import label_abi_mismatch

    yield from label_abi_mismatch(ctx)
    torch = ctx.stack.component("torch")
    if torch is None:
        return
    tv = _public(torch.version)
    if tv is None:
        return
    for c in ctx.stack.components:
        if c.name == "torch":
            continue
        pinned = _pin(c, "torch")
        if pinned and _public(pinned) != tv:
            state = "is installed" if ctx.stack.origin == "installed" else "is in the stack"
            yield Hit(
                f"{c.name} {c.version} was built for torch {pinned}, but torch {torch.version} {state} "
                "(undefined symbols at import).",
                f"Reinstall {c.name} and torch together so they agree (e.g. pip install "
                f"{c.name}=={c.version} "
                f"torch=={pinned}).",
                c.facts,
            )
            continue
        for f in _facts_of(ctx, c, "package_build"):
            spec = f.get("torch")
            if spec is not None and not spec.contains(tv, prereleases=True):
                yield Hit(
                    f"{c.name} {c.version} is built for torch {spec}, not torch {torch.version}.",
                    f"Choose the {c.name} build for torch {tv}, or a torch in {spec}.",
                    (f.ref,),
                )


def _major(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return query.parse_version(text).major
    except InvalidVersion:
        return None


def cuda_major_mismatch(ctx: Context) -> Iterator[Hit]:
    """A compiled torch extension (vLLM, xformers, flash-attn …) is built for another CUDA major than torch.

    **What it checks.** The CUDA major of torch's variant against the CUDA major each extension's wheel
    was built with (``vllm_series.wheel_cuda``, ``package_build.cuda``/``cuda_major``, a ``+cuXXX`` label).

    **Why.** Extensions load the CUDA runtime torch brought; a CUDA-12 build next to a CUDA-13 torch fails
    with ``ImportError: libcudart.so.12: cannot open shared object file`` (and the reverse with ``.so.13``).
    Minor-version compatibility never crosses majors.

    **How to fix.** Install torch and the extension for the same CUDA major: the torch variant the
    extension pins (PyPI default), or the extension's matching variant wheel.

    **Example.** vLLM 0.13.0 (CUDA 12.9 wheel) with torch 2.9.0+cu130: fails.
    """
    from cudalign.rules.neighbours import label_cuda_mismatch

    yield from label_cuda_mismatch(ctx)
    provided = cuda_majors_provided(ctx)
    for c, f in neighbour_needs(ctx):
        need = f.get("cuda_major")
        if need is None or need in provided or not provided:
            continue
        yield Hit(
            f"{c.name} {c.version} is built for CUDA {need}, but the stack and host provide CUDA "
            f"{', '.join(map(str, sorted(provided)))} (its libcudart/libcublas .so.{need} will not load).",
            f"Use a {c.name} release built for CUDA {max(provided)}, or add CUDA {need} libraries "
            f"(pip install nvidia-cuda-runtime-cu{need} nvidia-cublas-cu{need}).",
            (f.ref,),
        )
    torch = ctx.stack.component("torch")
    if torch is None or not torch.variant or torch.variant == "cpu":
        return
    tmajor = _major(ctx.stack.cuda_runtime)
    if tmajor is None:
        return
    for c in ctx.stack.components:
        if c.name == "torch" or not query.package_flag(ctx.facts, c.name, "through_torch"):
            continue
        cmajor = _major(c.cuda)
        if cmajor is not None and cmajor != tmajor:
            yield Hit(
                f"{c.name} {c.version} is built for CUDA {c.cuda}, but torch {label(torch)} brings "
                f"CUDA {ctx.stack.cuda_runtime} (libcudart.so.{cmajor} will not be found).",
                f"Use torch's CUDA {cmajor} variant (e.g. the one {c.name} pins) or {c.name}'s CUDA "
                f"{tmajor} build.",
                c.facts,
            )


def cuda_library_mismatch(ctx: Context) -> Iterator[Hit]:
    """A package needs a cuDNN (or cuBLAS) major other than the one the stack provides.

    **What it checks.** Neighbouring packages' ``package_build.cudnn_major`` against the cuDNN torch pins
    (``nvidia-cudnn-cu12==9.…``) or the installed one. On an installed stack (``doctor``) it also tells
    when the cuDNN torch loads from its wheel is not the system's (info; a warning across majors).

    **Why.** cuDNN 8 and 9 are not interchangeable: ``Could not load library libcudnn_ops_infer.so.8``
    (CTranslate2 3.x / faster-whisper on a cuDNN 9 torch), and torch pins its cuDNN exactly, so pip cannot
    install both.

    **How to fix.** Choose the package release built for the stack's cuDNN (e.g. ctranslate2 >= 4.5 for
    cuDNN 9), or the torch whose cuDNN matches.

    **Example.** faster-whisper with ctranslate2 4.4.0 (cuDNN 8) next to torch 2.5 (cuDNN 9): fails.
    """
    have = cudnn_majors_provided(ctx)
    cuda = cuda_majors_provided(ctx)
    for c, f in neighbour_needs(ctx):
        major = f.get("cuda_major")
        if major is not None and cuda and major not in cuda:
            yield Hit(
                f"{c.name} {c.version} links cuBLAS {major} (libcublas.so.{major}); only cuBLAS "
                f"{', '.join(map(str, sorted(cuda)))} is present.",
                f"pip install nvidia-cublas-cu{major} and put its lib directory on LD_LIBRARY_PATH, or use a "
                f"{c.name} release built for CUDA {max(cuda)}.",
                (f.ref,),
            )
        need = f.get("cudnn_major")
        if need is None:
            continue
        if not have:
            if ctx.stack.component("torch") is not None:
                yield Hit(
                    f"{c.name} {c.version} needs cuDNN {need}, and the stack's cuDNN is not known.",
                    "Resolve torch from PyPI metadata ('cudalign facts update') or check the installed "
                    "cuDNN.",
                    (f.ref,),
                    unknown="cuDNN version of the torch build",
                )
            continue
        if need not in have:
            yield Hit(
                f"{c.name} {c.version} needs cuDNN {need}, but the stack and host provide cuDNN "
                f"{', '.join(map(str, sorted(have)))} (libcudnn*.so.{need} will not load).",
                f"Use a {c.name} release built for cuDNN {max(have)}, or a torch/cuDNN of major {need}.",
                (f.ref,),
            )
    yield from _loaded_vs_system_cudnn(ctx)


def _loaded_vs_system_cudnn(ctx: Context) -> Iterator[Hit]:
    """On an installed stack: the cuDNN torch loads (its wheel's) is not the system one."""
    if ctx.stack.origin != "installed":
        return
    loaded, system = ctx.host.cudnn.get("torch"), ctx.host.cudnn.get("system")
    if not loaded or not system or loaded == system:
        return
    same_major = _major(loaded) == _major(system)
    yield Hit(
        f"torch loads cuDNN {loaded} from its nvidia-cudnn wheel, not the system cuDNN {system}"
        + ("" if same_major else " (another major)")
        + "; programs that link the system library (CTranslate2, ONNX Runtime, TensorRT) get the other one.",
        "Nothing to do for torch itself; keep the system cuDNN at the same major as torch's if such programs "
        "share this environment.",
        severity=Severity.INFO if same_major else Severity.WARNING,
    )


def cpu_only_torch(ctx: Context) -> Iterator[Hit]:
    """torch resolves to a CPU-only build on a host or stack that needs CUDA.

    **What it checks.** The torch variant: a ``+cpu`` label, the ``/whl/cpu`` index, or a platform whose
    PyPI wheel is CPU-only (Windows, macOS, older Linux aarch64) - while the host has GPUs or the stack
    has CUDA packages.

    **Why.** ``torch.cuda.is_available()`` is False and ``AssertionError: Torch not compiled with CUDA
    enabled``; vLLM fails at start.

    **How to fix.** Install a CUDA build from ``https://download.pytorch.org/whl/cuXXX`` (``--index-url``
    or ``uv pip install … --torch-backend=cuXXX``).

    **Example.** ``torch==2.9.0`` on Windows from PyPI with an RTX 4090: fails.
    """
    torch = ctx.stack.component("torch")
    if torch is None or torch.variant != "cpu":
        return
    # packages that run their CUDA code through torch (vLLM, xformers …); CTranslate2 or onnxruntime do not
    cuda_pkgs = [
        c.name
        for c in ctx.stack.components
        if c.name != "torch" and query.package_flag(ctx.facts, c.name, "through_torch")
    ]
    # a described host that names no GPU: a CPU-only wheel uses none, whatever GPU it has (unless the
    # user asked for the CPU build by its label, torch==2.7.0+cpu)
    unstated = (
        ctx.host.origin == "described"
        and not ctx.host.gpus
        and not (torch.requirement or "").endswith("+cpu")
    )
    if not ctx.host.gpus and not cuda_pkgs and not unstated:
        return
    target = ctx.host_cuda.value
    variants = [v for v in _variants(ctx, torch.version) if v != "cpu"]
    fitting = [v for v in variants if target is None or (query.variant_cuda(v) or Version("99")) <= target]
    pick = next(iter(fitting or variants), None)
    how = (
        f"--index-url https://download.pytorch.org/whl/{pick} (or --torch-backend={pick})"
        if pick
        else f"from https://download.pytorch.org/whl/cuXXX (which CUDA variants torch {torch.version} has "
        "is not in the knowledge base; 'uv pip install --torch-backend=auto' picks one)"
    )
    yield Hit(
        f"torch {torch.version} resolves to a CPU-only build on {ctx.stack.platform or 'this platform'}: "
        "torch.cuda.is_available() will be False.",
        f"Install a CUDA build: {how}.",
        tuple(r for r in ctx.stack.facts if r.id in ctx.facts and ctx.facts.get(r.id).kind == "torch_series"),
    )


def _variants(ctx: Context, version: str) -> list[str]:
    from cudalign.stack import torch_variants

    return torch_variants(ctx.facts, Version(version).public)


_MANYLINUX = r"^manylinux_(\d+)_(\d+)_(\w+)$"
_LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def _platform_ok(tag_platform: str, platform: str, glibc: Version | None) -> tuple[bool, str | None]:
    """Whether a wheel platform tag installs on the platform; the glibc it needs, if that is why not."""
    arch = "aarch64" if platform == "linux_aarch64" else "x86_64"
    if tag_platform == "any":
        return True, None
    if platform.startswith("linux"):
        m = re.match(_MANYLINUX, tag_platform)
        need: tuple[int, int] | None = None
        if m:
            if m.group(3) != arch:
                return False, None
            need = (int(m.group(1)), int(m.group(2)))
        else:
            for legacy, ver in _LEGACY.items():
                if tag_platform == f"{legacy}_{arch}":
                    need = ver
            if need is None:
                return tag_platform == f"linux_{arch}", None
        if glibc is not None and Version(f"{need[0]}.{need[1]}") > glibc:
            return False, f"{need[0]}.{need[1]}"
        return True, None
    if platform == "windows":
        return tag_platform.startswith("win"), None
    if platform == "macos":
        return tag_platform.startswith("macosx"), None
    return False, None


_WHEELS: dict[tuple[int, str, str | None, Version | None], tuple[Release, str | None]] = {}


def _wheel_problem(rel: Release, platform: str, python: str | None, glibc: Version | None) -> str | None:
    """Why none of the release's files installs here (memoised per release and host), or ``None``."""
    key = (id(rel), platform, python, glibc)
    hit = _WHEELS.get(key)
    if hit is not None and hit[0] is rel:
        return hit[1]
    answer = _wheel_problem_uncached(rel, platform, python, glibc)
    _WHEELS[key] = (rel, answer)
    return answer


def _wheel_problem_uncached(
    rel: Release, platform: str, python: str | None, glibc: Version | None
) -> str | None:
    if not rel.wheels:
        return None
    if any(w.filename.endswith((".tar.gz", ".zip")) for w in rel.wheels):
        return None  # an sdist can build (slowly) anywhere
    py = Version(python) if python else None
    glibc_needed: set[str] = set()
    any_platform = False
    for w in rel.wheels:
        tags = [t for tag in _tags(w.filename) for t in [tag]]
        for interp, abi, plat in tags:
            ok, needs = _platform_ok(plat, platform, glibc)
            if needs:
                glibc_needed.add(needs)
            if not ok:
                continue
            any_platform = True
            if py is None or _python_tag_ok(interp, abi, py):
                return None
    if glibc_needed and not any_platform:
        return f"its wheels need glibc >= {min(glibc_needed, key=Version)} (host {glibc})"
    if not any_platform:
        return f"it has no wheel for {platform}"
    return f"it has no wheel for Python {python} on {platform}"


def _tags(filename: str) -> list[tuple[str, str, str]]:
    if not filename.endswith(".whl"):
        return []
    parts = filename[:-4].split("-")
    if len(parts) < 5:
        return []
    # a compressed tag set expanded as packaging.tags.parse_tag does (lower case, each combination once),
    # without importing packaging.tags (logging, subprocess, platform) for it
    interpreters, abis, platforms = (p.lower() for p in parts[-3:])
    return list(
        dict.fromkeys(
            (i, a, p) for i in interpreters.split(".") for a in abis.split(".") for p in platforms.split(".")
        )
    )


def _python_tag_ok(interp: str, abi: str, py: Version) -> bool:
    if interp.startswith("py"):
        digits = interp[2:]
        return not digits or digits[0] == str(py.major)
    m = re.match(r"cp(\d)(\d+)", interp)
    if not m:
        return False
    tag = (int(m.group(1)), int(m.group(2)))
    if abi == "abi3":
        return (py.major, py.minor) >= tag
    return (py.major, py.minor) == tag


def no_wheel_for_platform(ctx: Context) -> Iterator[Hit]:
    """A package of the stack cannot install here: wrong Python, CPU architecture, glibc, or no such variant.

    **What it checks.** Each resolved release in the PyPI snapshot: ``Requires-Python`` against the host
    Python, and its wheel tags (CPython version, ``manylinux_2_XX`` glibc, ``x86_64``/``aarch64``)
    against the host; and that the chosen torch variant is published for that torch.

    **Why.** pip answers ``No matching distribution found`` or falls back to building from source (which
    needs a compiler, CUDA toolkit and hours).

    **How to fix.** Use a Python the release supports (the message names the range), a base image with a
    newer glibc (Ubuntu 22.04: 2.35), or a release published for the platform.

    **Example.** vLLM 0.13.0 on Python 3.14 (requires <3.14): fails.
    """
    glibc = None
    if ctx.host.os.glibc:
        try:
            glibc = Version(ctx.host.os.glibc)
        except InvalidVersion:
            glibc = None
    platform = ctx.stack.platform or query.platform_key(ctx.host)
    torch = ctx.stack.component("torch")
    if torch is not None and torch.variant and not foreign_index_variant(torch.index_url):
        published = _variants(ctx, torch.version)  # PyTorch's variants; another index builds its own
        if published and torch.variant not in published and torch.variant != "cpu":
            yield Hit(
                f"torch {torch.version} has no {torch.variant} build (published: {', '.join(published)}).",
                f"Choose one of {', '.join(published)} (or another torch release).",
                tuple(
                    r
                    for r in ctx.stack.facts
                    if r.id in ctx.facts and ctx.facts.get(r.id).kind == "torch_series"
                ),
            )
    if ctx.stack.origin == "installed":
        return
    yield from _vllm_variant(ctx)
    snapshot = ctx.facts.snapshot
    for c in ctx.stack.components:
        rel = snapshot.release(c.name, c.version)
        if rel is None:
            continue
        ref = FactRef(f"pypi:{c.name}=={c.version}", f"{snapshot.index.rstrip('/')}/pypi/{c.name}/json")
        if ctx.host.python and rel.requires_python:
            try:
                ok = SpecifierSet(rel.requires_python).contains(Version(ctx.host.python), prereleases=True)
            except (InvalidVersion, ValueError):
                ok = True
            if not ok:
                yield Hit(
                    f"{c.name} {c.version} requires Python {rel.requires_python}; the host has Python "
                    f"{ctx.host.python}.",
                    f"Use a Python in {rel.requires_python}, or a {c.name} release that supports "
                    f"{ctx.host.python}.",
                    (ref,),
                )
                continue
        if c.name == "torch" and c.index_url:
            continue  # the PyTorch index's wheels are not in the PyPI snapshot
        problem = _wheel_problem(rel, platform, ctx.host.python, glibc)
        if problem:
            yield Hit(
                f"{c.name} {c.version} cannot install here: {problem}.",
                f"Use a platform, Python or base image {c.name} {c.version} publishes wheels for, or "
                "another release.",
                (ref,),
            )


def _vllm_variant(ctx: Context) -> Iterator[Hit]:
    """A CUDA variant of vLLM (``vllm==0.20.0+cu126``) that the release was not published with: its PyPI
    wheel's CUDA plus the ``variants`` of its series fact. A series fact without ``variants`` leaves it
    undecided (unknown), unless the variant is the PyPI wheel's own CUDA."""
    vllm = ctx.stack.component("vllm")
    if vllm is None or not vllm.variant or not vllm.variant.startswith("cu"):
        return
    series = query.vllm_series(ctx.facts, vllm.version)
    if series is None:
        return  # no series fact at all: the series rules already report the release as unknown
    default = "cu" + str(series["wheel_cuda"]).replace(".", "")
    if vllm.variant == default:
        return
    listed = series.get("variants")
    public = Version(vllm.version).public
    if listed is None:
        yield Hit(
            f"Whether vllm {public} was published as a {vllm.variant} build is not known (its series fact "
            f"lists no CUDA variant wheels; the PyPI wheel is {default}).",
            f"Check vLLM's release page for a {vllm.variant} wheel, or use the PyPI build ({default}).",
            (series.ref,),
            severity=Severity.INFO,
            unknown=f"vllm_series.variants for vllm {public}",
        )
        return
    if vllm.variant not in listed:
        published = [default, *listed]
        yield Hit(
            f"vllm {public} has no {vllm.variant} build (published: {', '.join(published)}; "
            f"{default} is the PyPI wheel).",
            f"Choose one of {', '.join(published)}, another vllm release, or build vLLM from source "
            f"against CUDA {query.variant_cuda(vllm.variant)}.",
            (series.ref,),
        )


def nccl_mismatch(ctx: Context) -> Iterator[Hit]:
    """Packages pin different NCCL versions, or the installed NCCL differs from the one torch pins.

    **What it checks.** Exact ``nvidia-nccl-cuXX==`` pins across the stack's packages, and for installed
    stacks the NCCL found against torch's pin.

    **Why.** pip cannot satisfy two exact pins (``ResolutionImpossible``); a replaced NCCL gives
    ``undefined symbol: ncclCommRegister`` / ``NCCL version mismatch`` or hangs in multi-GPU runs.

    **How to fix.** Let torch's pin win: remove the other pin, or reinstall ``nvidia-nccl-cuXX`` at the
    version torch pins.

    **Example.** torch 2.9.0 pins nvidia-nccl-cu12==2.27.5 while 2.21.5 is installed: caveat.
    """
    pins: dict[str, dict[str, str]] = {}
    for c in ctx.stack.components:
        for text in c.pins:
            pin = _exact_pin(text)
            if pin is None:
                continue
            name, exact = pin
            if _is_nccl(ctx, name) and exact is not None:
                pins.setdefault(name, {})[c.name] = exact
    for c in ctx.stack.components:
        if _is_nccl(ctx, c.name):
            pins.setdefault(c.name, {})[f"the requirement {c.name}=={c.version}"] = c.version
    if len(pins) > 1:
        names = ", ".join(sorted(pins))
        yield Hit(
            f"Several NCCL packages would be installed ({names}); which libnccl.so.2 loads depends on "
            "import order.",
            "Keep only the NCCL package of torch's CUDA major (pip uninstall the others).",
        )
    for name, by in pins.items():
        versions = sorted(set(by.values()))
        if len(versions) > 1:
            who = ", ".join(f"{pkg} pins {v}" for pkg, v in by.items())
            yield Hit(f"{name}: {who}; pip cannot install both.", "Drop the extra NCCL pin and keep torch's.")
        elif (
            ctx.stack.origin == "installed"
            and ctx.stack.nccl
            and _public(ctx.stack.nccl) != _public(versions[0])
        ):
            yield Hit(
                f"torch expects {name}=={versions[0]} but NCCL {ctx.stack.nccl} is installed.",
                f"Reinstall {name}=={versions[0]} (pip install --force-reinstall {name}=={versions[0]}).",
                severity=Severity.WARNING,
            )


_PINS: dict[str, tuple[str, str | None] | None] = {}


def _exact_pin(text: str) -> tuple[str, str | None] | None:
    """A requirement's canonical name and its first ``==`` version (``None`` without one); ``None`` when the
    text does not parse. Once per text: every candidate of a plan carries the same release's pins."""
    if text not in _PINS:
        req = _requirement(text)
        if req is None:
            _PINS[text] = None
        else:
            exact = [s.version for s in req.specifier if s.operator == "=="]
            _PINS[text] = (str(canonicalize_name(req.name)), exact[0] if exact else None)
    return _PINS[text]


def _is_nccl(ctx: Context, name: str) -> bool:
    wheel = query.cuda_library_wheel(ctx.facts, name)
    return wheel is not None and wheel[0]["library"] == "nccl"
