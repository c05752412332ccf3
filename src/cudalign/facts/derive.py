"""Facts that follow from a snapshot release: torch's CUDA runtime, cuDNN and NCCL, exact pins, glibc floors.

Pure functions of a :class:`~cudalign.facts.snapshot.Release` (and a platform key). Requirements are
read with ``packaging`` and their environment markers evaluated for the platform, so a pin guarded by
``platform_system == "Linux" and platform_machine == "x86_64"`` counts on Linux x86_64 only. Every
derived value carries the URL of the metadata it was read from and the date the snapshot checked it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from cudalign._dataclass import dataclass
from cudalign._pep508 import Requirement, canonicalize_name
from cudalign.facts.snapshot import MetadataRecord, Release, Snapshot

__all__ = [
    "PLATFORM_ENVIRONMENTS",
    "Derived",
    "TorchRuntime",
    "checked_of",
    "cuda_pins",
    "environment",
    "exact_pin",
    "glibc_floor",
    "metadata_for",
    "package_view",
    "pin_of",
    "platform_key",
    "python_range",
    "release_view",
    "requirements",
    "torch_runtime",
    "wheel_platforms",
]

PLATFORM_ENVIRONMENTS: Mapping[str, Mapping[str, str]] = {
    "linux_x86_64": {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
    },
    "linux_aarch64": {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "aarch64",
        "os_name": "posix",
    },
    "windows": {
        "sys_platform": "win32",
        "platform_system": "Windows",
        "platform_machine": "AMD64",
        "os_name": "nt",
    },
    "macos": {
        "sys_platform": "darwin",
        "platform_system": "Darwin",
        "platform_machine": "arm64",
        "os_name": "posix",
    },
}
"""Marker variables of each platform key (what ``packaging.markers.default_environment()`` says there)."""

_LEGACY_GLIBC = {
    "manylinux1": Version("2.5"),
    "manylinux2010": Version("2.12"),
    "manylinux2014": Version("2.17"),
}


@dataclass(frozen=True, slots=True)
class Derived:
    """One derived value with its provenance, as ``facts show`` prints it."""

    name: str
    """What it is: ``torch pin``, ``CUDA runtime``, ``cuDNN``, ``NCCL``, ``glibc floor`` …"""
    platform: str
    value: str
    source: str
    """The metadata file (``<wheel>.metadata``) or wheel URL the value was read from."""
    checked: str | None
    """When the snapshot read it from PyPI (ISO date)."""


@dataclass(frozen=True, slots=True)
class TorchRuntime:
    """The CUDA stack a torch wheel pulls in on one platform; iterates as ``(cuda, cudnn, nccl)``."""

    platform: str
    cuda: Version | None
    """CUDA runtime major.minor, from ``nvidia-cuda-runtime-cuNN`` or ``cuda-toolkit`` pins."""
    cudnn: Version | None
    nccl: Version | None
    variant: str
    """``cu128`` …, ``cpu`` (no CUDA pins), or ``bundled`` (torch < 1.13 on Linux shipped CUDA inside)."""
    source: str | None
    checked: str | None

    def __iter__(self) -> Iterator[Version | None]:
        yield self.cuda
        yield self.cudnn
        yield self.nccl


def platform_key(platform: str) -> str | None:
    """The platform key of one wheel platform tag (``manylinux_2_28_x86_64`` -> ``linux_x86_64``)."""
    if platform == "any":
        return "any"
    if platform.startswith(("manylinux", "musllinux", "linux")):
        if platform.endswith("x86_64"):
            return "linux_x86_64"
        if platform.endswith("aarch64"):
            return "linux_aarch64"
        return None
    if platform.startswith("win"):
        return "windows" if platform in ("win_amd64", "win_arm64", "win32") else None
    if platform.startswith("macosx"):
        return "macos"
    return None


def checked_of(snapshot: Snapshot, package: str) -> str | None:
    """The date the snapshot last read ``package`` from the index."""
    history = snapshot.packages.get(package)
    return history.checked[:10] if history else None


def _python_of(record: MetadataRecord) -> str:
    m = re.search(r"-cp3(\d+)-", record.file)
    return f"3.{m.group(1)}" if m else "3.12"


def environment(platform: str, python: str = "3.12") -> dict[str, str]:
    """Marker environment for a platform key and Python version (``extra`` empty)."""
    env = dict(PLATFORM_ENVIRONMENTS.get(platform, PLATFORM_ENVIRONMENTS["linux_x86_64"]))
    env.update(
        python_version=python,
        python_full_version=f"{python}.0",
        implementation_name="cpython",
        platform_python_implementation="CPython",
        extra="",
    )
    return env


def metadata_for(release: Release, platform: str) -> MetadataRecord | None:
    """The metadata read for ``platform`` (or from the pure ``any`` wheel); ``None`` if none was read."""
    for key in (platform, "any"):
        record = release.metadata.get(key)
        if record is not None and record.via != "sdist":
            return record
    return None


def _applies(req: Requirement, env: Mapping[str, str]) -> bool:
    if req.marker is None:
        return True
    try:
        return bool(req.marker.evaluate(dict(env)))
    except ValueError:  # packaging's UndefinedComparison, UndefinedEnvironmentName, InvalidMarker
        return False


def requirements(requires_dist: Iterable[str], env: Mapping[str, str] | None = None) -> list[Requirement]:
    """Parsed requirements that apply in ``env`` (all without ``env``); unparseable ones are skipped."""
    out = []
    for line in requires_dist:
        req = _parse(line)
        if req is not None and (env is None or _applies(req, env)):
            out.append(req)
    return out


@functools.lru_cache(maxsize=4096)
def _parse(line: str) -> Requirement | None:
    """One requirement line, parsed once (a release view asks about the same lines many times)."""
    try:
        return Requirement(line)
    except ValueError:  # InvalidRequirement, or a bare ValueError from older packaging
        return None


def _exact(spec: SpecifierSet) -> Version | None:
    for s in spec:
        if s.operator in ("==", "===") and "*" not in s.version:
            try:
                return Version(s.version)
            except InvalidVersion:
                return None
    return None


def exact_pin(
    requires_dist: Iterable[str], name: str, *, environment: Mapping[str, str] | None = None
) -> Version | None:
    """The version ``name`` is pinned to with ``==`` (``vllm 0.13.0`` -> ``torch==2.9.0``), else ``None``."""
    req = pin_of(requires_dist, name, environment=environment)
    return _exact(req.specifier) if req is not None else None


def pin_of(
    requires_dist: Iterable[str], name: str, *, environment: Mapping[str, str] | None = None
) -> Requirement | None:
    """The first requirement on ``name`` that applies (any specifier)."""
    want = canonicalize_name(name)
    env = dict(environment) if environment is not None else {"extra": ""}
    for req in requirements(requires_dist):
        if canonicalize_name(req.name) == want and (req.marker is None or _applies(req, env)):
            return req
    return None


def cuda_pins(release: Release, platform: str) -> dict[str, Version]:
    """Exact pins on CUDA libraries (``nvidia-*``, ``cuda-toolkit``) that apply on ``platform``."""
    record = metadata_for(release, platform)
    if record is None:
        return {}
    env = environment(platform, _python_of(record))
    out: dict[str, Version] = {}
    for req in requirements(record.requires_dist, env):
        name = canonicalize_name(req.name)
        if name.startswith(("nvidia-", "cuda-")):
            version = _exact(req.specifier)
            if version is not None:
                out[name] = version
    return out


def _major_minor(v: Version) -> Version:
    return Version(f"{v.major}.{v.minor}")


def torch_runtime(
    release: Release, platform: str = "linux_x86_64", *, checked: str | None = None
) -> TorchRuntime:
    """CUDA runtime, cuDNN and NCCL of torch's PyPI wheel on ``platform``, from its pins.

    ``nvidia-cuda-runtime-cu12==12.8.90`` -> CUDA 12.8; from torch 2.11 ``cuda-toolkit[…]==13.0.2`` ->
    13.0; ``nvidia-cudnn-cu12==9.10.2.21`` -> cuDNN 9.10.2.21; ``nvidia-nccl-cu12==2.27.5`` -> NCCL 2.27.5.
    """
    record = metadata_for(release, platform)
    if record is None:
        return TorchRuntime(platform, None, None, None, "unknown", None, checked)
    pins = cuda_pins(release, platform)
    cuda = next(
        (_major_minor(v) for n, v in pins.items() if re.fullmatch(r"nvidia-cuda-runtime(-cu\d+)?", n)), None
    )
    if cuda is None and "cuda-toolkit" in pins:
        cuda = _major_minor(pins["cuda-toolkit"])
    cudnn = next((v for n, v in pins.items() if re.fullmatch(r"nvidia-cudnn(-cu\d+)?", n)), None)
    nccl = next((v for n, v in pins.items() if re.fullmatch(r"nvidia-nccl(-cu\d+)?", n)), None)
    if cuda is not None:
        variant = f"cu{cuda.major}{cuda.minor}"
    elif platform.startswith("linux") and Version(release.version) < Version("1.13"):
        variant = "bundled"
    else:
        variant = "cpu"
    return TorchRuntime(platform, cuda, cudnn, nccl, variant, record.url, checked)


def python_range(release: Release) -> SpecifierSet | None:
    """The release's ``Requires-Python``; ``None`` when it states none (or states garbage)."""
    if not release.requires_python:
        return None
    try:
        return SpecifierSet(release.requires_python)
    except InvalidSpecifier:
        return None


def wheel_platforms(release: Release) -> dict[str, tuple[str, ...]]:
    """Platform key -> the wheel platform tags published for it."""
    out: dict[str, set[str]] = {}
    for wheel in release.wheels:
        for tag in wheel.platforms:
            key = platform_key(tag)
            if key is not None:
                out.setdefault(key, set()).add(tag)
    return {k: tuple(sorted(v)) for k, v in sorted(out.items())}


def glibc_floor(release: Release, platform: str = "linux_x86_64") -> Version | None:
    """The lowest glibc any of the platform's manylinux wheels accepts (``manylinux_2_28`` -> 2.28)."""
    floors = []
    for tag in wheel_platforms(release).get(platform, ()):
        m = re.match(r"manylinux_(\d+)_(\d+)_", tag)
        if m:
            floors.append(Version(f"{m.group(1)}.{m.group(2)}"))
        else:
            legacy = _LEGACY_GLIBC.get(tag.split("_", 1)[0])
            if legacy is not None:
                floors.append(legacy)
    return min(floors) if floors else None


# the pins ``facts show`` lists for a release: on torch and its companions, wherever they appear
_SHOWN_PINS = ("torch", "torchvision", "torchaudio", "triton", "xformers", "flashinfer-python", "sgl-kernel")


def release_view(snapshot: Snapshot, package: str, release: Release) -> dict[str, Any]:
    """Everything ``facts show PACKAGE==VERSION`` prints: index data and derived values with sources."""
    checked = checked_of(snapshot, package)
    history = snapshot.packages[package]
    rng = python_range(release)
    derived: list[Derived] = []
    platforms: dict[str, Any] = {}
    tags = wheel_platforms(release)
    for key in sorted(set(tags) | set(release.metadata)):
        record = release.metadata.get(key)
        glibc = glibc_floor(release, key) if key.startswith("linux") else None
        platforms[key] = {
            "tags": list(tags.get(key, ())),
            "wheels": sum(1 for w in release.wheels if any(t in tags.get(key, ()) for t in w.platforms)),
            "glibc": str(glibc) if glibc else None,
            "metadata": {"file": record.file, "url": record.url, "via": record.via} if record else None,
        }
        meta = metadata_for(release, key) if key != "any" else release.metadata.get("any")
        if meta is None or meta.via == "sdist":
            continue
        env = environment(key, _python_of(meta))

        def add(name: str, value: str, platform: str = key, source: str = meta.url) -> None:
            derived.append(Derived(name, platform, value, source, checked))

        for dep in _SHOWN_PINS:
            req = pin_of(meta.requires_dist, dep, environment=env) if dep != package else None
            if req is not None:
                add(f"{dep} pin", str(Requirement(f"{req.name}{req.specifier}")))
        if package == "torch" and key != "any":
            rt = torch_runtime(release, key, checked=checked)
            add("variant", rt.variant)
            for label, value in (("CUDA runtime", rt.cuda), ("cuDNN", rt.cudnn), ("NCCL", rt.nccl)):
                if value is not None:
                    add(label, str(value))
        else:
            for name, version in cuda_pins(release, key).items():
                add(name, str(version))
        if glibc is not None:
            add("glibc floor", f">={glibc}", source=history.source)
    return {
        "kind": "release",
        "package": package,
        "version": release.version,
        "uploaded": release.uploaded,
        "yanked": release.yanked,
        "requires_python": str(rng) if rng is not None else release.requires_python,
        "source": history.source,
        "checked": checked,
        "platforms": platforms,
        "derived": [
            {
                "name": d.name,
                "platform": d.platform,
                "value": d.value,
                "source": d.source,
                "checked": d.checked,
            }
            for d in derived
        ],
    }


def package_view(snapshot: Snapshot, package: str) -> dict[str, Any]:
    """Every release of a package, newest first, with its platforms and headline derived value."""
    history = snapshot.packages[package]
    checked = checked_of(snapshot, package)

    def order(v: str) -> tuple[int, Version | str]:
        try:
            return 1, Version(v)
        except InvalidVersion:
            return 0, v

    rows = []
    for ver in sorted(history.releases, key=order, reverse=True):
        rel = history.releases[ver]
        headline = None
        if package == "torch":
            rt = torch_runtime(rel, "linux_x86_64")
            headline = rt.variant if rt.cuda is None else f"CUDA {rt.cuda} (linux_x86_64)"
        else:
            meta = metadata_for(rel, "linux_x86_64")
            pin = (
                exact_pin(meta.requires_dist, "torch", environment=environment("linux_x86_64"))
                if meta
                else None
            )
            headline = f"torch=={pin}" if pin is not None else None
        rows.append(
            {
                "version": ver,
                "uploaded": rel.uploaded,
                "yanked": rel.yanked,
                "requires_python": rel.requires_python,
                "platforms": sorted(wheel_platforms(rel)),
                "headline": headline,
            }
        )
    return {
        "kind": "package",
        "package": package,
        "source": history.source,
        "checked": checked,
        "releases": rows,
    }
