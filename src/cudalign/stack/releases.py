"""The PyPI snapshot as the resolver reads it: fitting releases, exact pins, torch's runtime and default."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from cudalign._pep508 import Requirement, canonicalize_name
from cudalign.facts import query
from cudalign.model import FactRef, Host

if TYPE_CHECKING:
    from cudalign.facts import Facts
    from cudalign.facts.snapshot import Release


__all__ = ["torch_variants"]


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
    except ValueError:  # InvalidRequirement, or a bare ValueError from older packaging
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
        if "==" not in line:
            continue  # no ``==``/``===`` operator, so no pin: not worth parsing (most of a release's lines)
        req = _requirement(line)
        if req is None:
            continue
        exact = [s.version for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
        if len(exact) != 1:
            continue
        if req.marker is not None and not req.marker.evaluate(dict(env)):
            continue
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
    for text in rels:  # the version and the requirement first: a release is decoded only when they fit
        try:
            v = Version(text)
        except InvalidVersion:
            continue
        if v.is_prerelease and not (req and req.specifier.prereleases):
            continue
        if req is not None and not req.specifier.contains(v, prereleases=True):
            continue
        rel = rels[text]
        if rel.yanked or not _python_ok(rel, python):
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
    from cudalign.facts import derive

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
