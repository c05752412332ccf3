"""The stack a probed host has installed, read from its package metadata."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from packaging.version import InvalidVersion, Version

from cudalign._pep508 import canonicalize_name
from cudalign.facts import query
from cudalign.model import Component, FactRef, Host, Stack

if TYPE_CHECKING:
    from cudalign.facts import Facts

from cudalign.stack.releases import (
    _env,
    _pins,
    _pypi_default,
    _requirement,
)
from cudalign.stack.request import Request
from cudalign.stack.resolve import _component

__all__ = ["from_installed"]


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
        if not query.package_flag(facts, name, "through_torch") and not query.package_builds(
            facts, name, pkg.version
        ):
            continue
        pins = _pins(pkg.requires, env)
        comp = _component(facts, name, pkg.version, request, tvariant, pins, None, refs)
        if name == "torch":
            comp = Component(
                comp.name, comp.version, tvariant, None, None, comp.facts, cuda_runtime, (), (), comp.pins
            )
        components.append(comp)
    major = _major(cuda_runtime)
    cudnn = host.cudnn.get("torch") or _library_version(facts, host, "cudnn", major)
    nccl = host.nccl.get("torch") or _library_version(facts, host, "nccl", major)
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


def _major(version: str | None) -> int | None:
    try:
        return Version(version).major if version else None
    except InvalidVersion:
        return None


def _library_version(facts: Facts, host: Host, library: str, cuda_major: int | None) -> str | None:
    """The version of an installed CUDA library wheel (``nvidia-cudnn-cu12``): the one of torch's CUDA
    major first, then the newest major's."""
    found: list[tuple[bool, int, str]] = []
    for pkg in host.packages:
        wheel = query.cuda_library_wheel(facts, canonicalize_name(pkg.name))
        if wheel is not None and wheel[0]["library"] == library:
            found.append((wheel[1] == cuda_major, wheel[1], pkg.version))
    return max(found)[2] if found else None
