"""Typed questions over the knowledge base; every answer carries the facts it rests on."""

from __future__ import annotations

import datetime as dt
import re
import weakref
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from packaging.version import InvalidVersion, Version

from cudalign._dataclass import dataclass
from cudalign.model import ComputeCapability, FactRef, Gpu, Host

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts

__all__ = [
    "Answer",
    "ImageMatch",
    "RequireClause",
    "branch_fact",
    "branch_first_release",
    "branch_supported",
    "branch_text",
    "cuda_library_wheel",
    "cuda_minor",
    "driver_text",
    "facts_of_kind",
    "feature",
    "gpu_brands",
    "gpu_fact",
    "host_cuda",
    "image_match",
    "image_release_torch",
    "image_require",
    "image_torch_variant",
    "last_branch_for",
    "max_cuda_for_driver",
    "min_driver_for_cuda",
    "mvc_floor",
    "next_branch_first_release",
    "package_builds",
    "package_fact",
    "package_flag",
    "package_names",
    "packages_with",
    "parse_require",
    "parse_version",
    "platform_key",
    "recommended_driver",
    "require_satisfied",
    "series_assumed",
    "supported_branches",
    "targetable",
    "toolkits",
    "torch_build",
    "torch_companions",
    "torch_series",
    "variant_cuda",
    "vllm_series",
    "vllm_variant_index",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Answer(Generic[T]):
    """A value read from the knowledge base and the facts that say so (``None`` when they do not)."""

    value: T
    facts: tuple[Fact, ...] = ()

    @property
    def refs(self) -> tuple[FactRef, ...]:
        """The facts as a finding cites them."""
        return tuple(f.ref for f in self.facts)


@lru_cache(maxsize=4096)
def parse_version(text: str) -> Version:
    """``Version(text)``, parsed once per text (versions are immutable); raises ``InvalidVersion`` alike."""
    return Version(text)


@lru_cache(maxsize=1024)
def cuda_minor(version: Version | str) -> Version:
    """``12.8.1`` -> ``12.8``: the major.minor a CUDA version belongs to."""
    v = version if isinstance(version, Version) else Version(str(version))
    rel = (*v.release, 0)[:2]
    return Version(f"{rel[0]}.{rel[1]}")


def driver_text(version: Version | str | None) -> str:
    """A driver version as NVIDIA writes it: ``580.65.06``, not ``packaging``'s ``580.65.6``."""
    if version is None:
        return "?"
    v = version if isinstance(version, Version) else Version(str(version))
    parts = list(v.release)
    return ".".join([str(parts[0]), *(f"{p:02d}" for p in parts[1:])])


@lru_cache(maxsize=256)
def variant_cuda(variant: str | None) -> Version | None:
    """``cu128`` -> ``12.8``, ``cu130`` -> ``13.0``, ``cu118`` -> ``11.8``; ``cpu``/``rocm…`` -> ``None``."""
    if not variant:
        return None
    m = re.fullmatch(r"cu(\d{2,3})", variant.strip().lower())
    if not m:
        return None
    digits = m.group(1)
    return Version(f"{digits[:-1]}.{digits[-1]}")


def platform_key(host: Host) -> str:
    """The snapshot's platform key for a host: ``linux_x86_64``, ``linux_aarch64``, ``windows``, ``macos``."""
    system = (host.os.system or "Linux").lower()
    if system.startswith("win"):
        return "windows"
    if system == "darwin":
        return "macos"
    arch = (host.os.arch or "x86_64").lower()
    return "linux_aarch64" if arch in ("aarch64", "arm64") else "linux_x86_64"


# --------------------------------------------------------------------------- toolkits and drivers


_MEMO: weakref.WeakKeyDictionary[Facts, dict[object, object]] = weakref.WeakKeyDictionary()
_LAST: list[tuple[weakref.ref[Facts], dict[object, object]]] = []
"""The knowledge base asked last and its memo: a command asks about one, thousands of times."""


def _memo(facts: Facts) -> dict[object, object]:
    """Per-knowledge-base cache of derived indexes (facts are immutable once loaded)."""
    if _LAST and _LAST[0][0]() is facts:
        return _LAST[0][1]
    memo = _MEMO.get(facts)
    if memo is None:
        memo = {}
        _MEMO[facts] = memo
    _LAST[:] = [(weakref.ref(facts), memo)]
    return memo


def toolkits(facts: Facts) -> list[Fact]:
    """Every toolkit release, oldest first."""
    memo = _memo(facts)
    if "toolkits" not in memo:
        memo["toolkits"] = sorted(facts.of_kind("toolkit"), key=lambda f: f["version"])
    result = memo["toolkits"]
    assert isinstance(result, list)
    return result


def facts_of_kind(facts: Facts, kind: str) -> list[Fact]:
    """``facts.of_kind(kind)``, computed once per knowledge base."""
    memo = _memo(facts)
    key = ("kind", kind)
    if key not in memo:
        memo[key] = facts.of_kind(kind)
    result = memo[key]
    assert isinstance(result, list)
    return result


def _toolkit_driver(fact: Fact, os: str) -> Version | None:
    key = "driver_windows" if os.lower().startswith("win") else "driver_linux"
    drv = fact.get(key)
    if drv is not None:
        assert isinstance(drv, Version)
        return drv
    branch = fact.get("driver_branch")
    return Version(str(branch)) if branch is not None else None


def min_driver_for_cuda(facts: Facts, cuda: Version | str, os: str = "linux") -> Answer[Version | None]:
    """The lowest driver a CUDA runtime needs without minor-version compatibility.

    ``12.8`` means the 12.8 GA release (its driver is the minor's lowest); ``12.8.1`` the release itself
    (or the newest one at or below it within the minor). From 13.4 NVIDIA lists branches only: the
    answer is the branch number (driver >= 615)."""
    v = cuda if isinstance(cuda, Version) else Version(str(cuda))
    key = ("min_driver", v, os)
    memo = _memo(facts)
    if key not in memo:
        memo[key] = _min_driver_for_cuda(facts, v, os)
    result = memo[key]
    assert isinstance(result, Answer)
    return result


def _min_driver_for_cuda(facts: Facts, v: Version, os: str) -> Answer[Version | None]:
    minor = cuda_minor(v)
    same = [f for f in toolkits(facts) if cuda_minor(f["version"]) == minor]
    if len(v.release) >= 3:
        upto = [f for f in same if f["version"] <= v]
        same = upto[-1:] or same[:1]
    for f in same:  # oldest first: the GA release of the minor
        drv = _toolkit_driver(f, os)
        if drv is not None:
            return Answer(drv, (f,))
    return Answer(None)


def mvc_floor(facts: Facts, major: int, os: str = "linux") -> Answer[Version | None]:
    """The lowest driver that runs any ``major.x`` runtime through minor-version compatibility."""
    memo = _memo(facts)
    key = ("mvc_floor", major, os.lower().startswith("win"))
    if key not in memo:
        memo[key] = _mvc_floor(facts, major, key[2])
    return cast("Answer[Version | None]", memo[key])


def _mvc_floor(facts: Facts, major: int, windows: bool) -> Answer[Version | None]:
    for f in facts_of_kind(facts, "cuda_major"):
        if f["major"] == major:
            drv = f.get("mvc_floor_windows" if windows else "mvc_floor_linux")
            return Answer(drv, (f,))
    return Answer(None)


def max_cuda_for_driver(facts: Facts, driver: Version | str) -> Answer[Version | None]:
    """The highest CUDA (major.minor) a driver supports: the branch table first, then the toolkit table."""
    d = driver if isinstance(driver, Version) else Version(str(driver))
    for f in facts_of_kind(facts, "driver_branch"):
        if f["branch"] == d.major and f.get("max_cuda") is not None:
            return Answer(cuda_minor(f["max_cuda"]), (f,))
    best: Fact | None = None
    for f in toolkits(facts):
        drv = _toolkit_driver(f, "linux")
        if drv is not None and drv <= d and (best is None or f["version"] >= best["version"]):
            best = f
    if best is None:
        return Answer(None)
    return Answer(cuda_minor(best["version"]), (best,))


def branch_fact(facts: Facts, branch: int) -> Fact | None:
    """The ``driver_branch`` fact of a branch (580 -> R580), if the knowledge base has it."""
    memo = _memo(facts)
    if "branch_index" not in memo:
        index: dict[int, Fact] = {}
        for f in facts_of_kind(facts, "driver_branch"):
            index.setdefault(f["branch"], f)  # the first fact of a branch, as a scan in file order finds
        memo["branch_index"] = index
    return cast("dict[int, Fact]", memo["branch_index"]).get(branch)


def branch_first_release(facts: Facts, branch: int) -> Answer[Version | None]:
    """The first release of a branch: its ``first_version``, else the oldest toolkit driver on it."""
    f = branch_fact(facts, branch)
    if f is not None and f.get("first_version") is not None:
        return Answer(f["first_version"], (f,))
    for t in toolkits(facts):
        drv = _toolkit_driver(t, "linux")
        if drv is not None and drv.major == branch and len(drv.release) > 1:
            return Answer(drv, (t,))
    return Answer(None, (f,) if f is not None else ())


def last_branch_for(facts: Facts, gpu: Fact | None) -> Answer[int | None]:
    """The last driver branch that supports a GPU's architecture (Volta -> 580), where a fact says."""
    if gpu is None:
        return Answer(None)
    arch = str(gpu["arch"]).lower()
    memo = _memo(facts)
    key = ("last_branch_for", arch)
    if key not in memo:
        memo[key] = next(
            (
                Answer(f["branch"], (f,))
                for f in facts_of_kind(facts, "driver_branch")
                if arch in (str(a).lower() for a in f.get("last_for", ()))
            ),
            Answer(None),
        )
    return cast("Answer[int | None]", memo[key])


_SUPPORTED_DESIGNATIONS = frozenset({"LTSB", "PB", "NFB"})
"""NVIDIA's lifecycle designations of supported branches: long-term, production, new feature."""


def next_branch_first_release(facts: Facts, branch: int) -> Version | None:
    """The first release of the branch after ``branch`` (580 -> R590's 590.44.01), where a fact gives it."""
    memo = _memo(facts)
    key = ("next_branch_first_release", branch)
    if key not in memo:
        memo[key] = _next_branch_first_release(facts, branch)
    return cast("Version | None", memo[key])


def _next_branch_first_release(facts: Facts, branch: int) -> Version | None:
    later = sorted(f["branch"] for f in facts_of_kind(facts, "driver_branch") if f["branch"] > branch)
    for b in later:
        first = branch_first_release(facts, b).value
        if first is not None:
            return first
    return None


def _today(on: dt.date | None) -> str:
    return (on or dt.date.today()).isoformat()[:7]


def branch_supported(facts: Facts, branch: int, on: dt.date | None = None) -> Answer[bool | None]:
    """Whether NVIDIA still supports a driver branch on a date (default today): not designated EOL and
    its EOL month not passed. ``None`` where no fact gives its designation or EOL."""
    memo = _memo(facts)
    key = ("branch_supported", branch, _today(on))
    if key not in memo:
        memo[key] = _branch_supported(facts, branch, key[2])
    return cast("Answer[bool | None]", memo[key])


def _branch_supported(facts: Facts, branch: int, today: str) -> Answer[bool | None]:
    f = branch_fact(facts, branch)
    if f is None:
        return Answer(None)
    eol = f.get("eol")
    designation = str(f["designation"]).upper()
    if eol is not None and str(eol) < today:
        return Answer(False, (f,))
    if designation in _SUPPORTED_DESIGNATIONS:
        return Answer(True, (f,))
    if designation == "EOL" or "EVALUATION" in designation or "DEVELOPER" in designation:
        return Answer(False, (f,))  # end of life, or never meant for production
    return Answer(None, (f,))  # designation not stated


def supported_branches(facts: Facts, on: dt.date | None = None) -> Answer[tuple[int, ...]]:
    """The driver branches NVIDIA still supports on a date (default today), oldest first.

    This is the fact to recommend branches from: an upgrade target, a plan's branch, an explanation's fix
    never names an end-of-life branch when a supported one would do."""
    memo = _memo(facts)
    key = ("supported_branches", _today(on))
    if key not in memo:
        found = [(f, branch_supported(facts, f["branch"], on)) for f in facts_of_kind(facts, "driver_branch")]
        ok = sorted((f for f, a in found if a.value is True), key=lambda f: f["branch"])
        memo[key] = Answer(tuple(f["branch"] for f in ok), tuple(ok))
    return cast("Answer[tuple[int, ...]]", memo[key])


def recommended_driver(
    facts: Facts, need: Version | str, on: dt.date | None = None
) -> Answer[Version | None]:
    """The lowest driver on a still-supported branch that is at least ``need`` (575.51.03 -> 580.65.06).

    ``None`` when no supported branch reaches it (then the caller names ``need`` itself)."""
    v = need if isinstance(need, Version) else Version(str(need))
    memo = _memo(facts)
    key = ("recommended_driver", str(v), _today(on))
    if key not in memo:
        memo[key] = _recommended_driver(facts, v, on)
    return cast("Answer[Version | None]", memo[key])


def _recommended_driver(facts: Facts, v: Version, on: dt.date | None) -> Answer[Version | None]:
    for branch in supported_branches(facts, on).value:
        if branch < v.major:
            continue
        first = branch_first_release(facts, branch)
        floor = first.value if first.value is not None else Version(str(branch))
        return Answer(v if branch == v.major else floor, first.facts)
    return Answer(None)


def branch_text(facts: Facts, driver: Version | str, on: dt.date | None = None) -> str:
    """``R575`` with ``, end-of-life`` when NVIDIA no longer supports it (``R575, end-of-life``)."""
    v = driver if isinstance(driver, Version) else Version(str(driver))
    sup = branch_supported(facts, v.major, on).value
    return f"R{v.major}" + (", end-of-life" if sup is False else "")


def host_cuda(facts: Facts, host: Host) -> Answer[Version | None]:
    """The highest CUDA the host's driver supports: what the probe read, else derived from the version."""
    if host.driver is None or host.driver.version is None:
        return Answer(None)
    if host.driver.cuda:
        try:
            return Answer(cuda_minor(Version(host.driver.cuda)))
        except InvalidVersion:
            pass
    return max_cuda_for_driver(facts, host.driver.version)


# --------------------------------------------------------------------------- GPUs and architectures


def gpu_fact(facts: Facts, gpu: Gpu) -> Fact | None:
    """The knowledge-base entry of a GPU, by its recorded fact id or its name."""
    if gpu.fact_id and gpu.fact_id in facts:
        return facts.get(gpu.fact_id)
    return facts.find_gpu(gpu.name)


def gpu_brands(facts: Facts, fact: Fact | None) -> Answer[frozenset[str]]:
    """The NVML brands (as ``NVIDIA_REQUIRE_CUDA`` spells them) a GPU of that segment reports."""
    if fact is None:
        return Answer(frozenset())
    memo = _memo(facts)
    key = ("gpu_brands", str(fact["segment"]).lower())
    if key not in memo:
        memo[key] = next(
            (
                Answer(frozenset(str(b).lower() for b in f["brands"]), (f,))
                for f in facts_of_kind(facts, "gpu_segment")
                if str(f["segment"]).lower() == key[1]
            ),
            Answer(frozenset()),
        )
    result = memo[key]
    assert isinstance(result, Answer)
    return result


def targetable(facts: Facts, cc: ComputeCapability, cuda: Version | str) -> Answer[bool | None]:
    """Whether a CUDA toolkit (major.minor) can compile for an architecture (``arch_support``)."""
    minor = cuda_minor(cuda)
    for f in facts_of_kind(facts, "arch_support"):
        if f["cc"] == cc.device:  # sm_90a, sm_100f: the toolkit must target 9.0, 10.0
            first = cuda_minor(f["first_cuda"])
            last = f.get("last_cuda")
            ok = first <= minor and (last is None or minor <= cuda_minor(last))
            return Answer(ok, (f,))
    return Answer(None)


def feature(facts: Facts, name: str, installed: Mapping[str, str] | None = None) -> Fact | None:
    """A feature (``bf16``, ``fp8``, ``flash-attn-3`` …) by name or alias.

    A feature one package provides can have one fact per release range of that package (``package``,
    ``versions``): with ``installed`` (package -> version in the stack) the fact for that release is
    returned, ``None`` when the release has none (the feature is not in it). Without the package's
    version the first fact listed stands (the data lists the newest range first).
    """
    want = name.strip().lower()
    first: Fact | None = None
    ranged = False  # the installed release of the providing package is known, and has range facts
    for f in facts_of_kind(facts, "feature"):
        names = {str(f["name"]).lower(), *(str(a).lower() for a in f.get("aliases", ()))}
        if want not in names:
            continue
        version = (installed or {}).get(str(f.get("package"))) if f.get("versions") is not None else None
        public = _public(version) if version is not None else None
        if public is None:
            first = first or f
            continue
        ranged = True
        if f["versions"].contains(public, prereleases=True):
            return f
    return None if ranged else first


# --------------------------------------------------------------------------- frameworks


@lru_cache(maxsize=1024)
def _public(version: str) -> Version | None:
    """The public release a version belongs to (``2.7.0.dev20250310+cu124`` -> ``2.7.0``); ``None`` when
    it does not parse."""
    try:
        return Version(Version(version).base_version)
    except InvalidVersion:
        return None


def _first_matching(candidates: Iterable[Fact], version: str) -> Fact | None:
    try:
        v = Version(version)
    except InvalidVersion:
        return None
    public = Version(v.base_version)  # 2.7.0.dev20250310+cu124 belongs to the 2.7 series
    items = list(candidates)
    for f in items:
        if f["versions"].contains(public, prereleases=True):
            return f
    return _predecessor(items, public)


def _lower_bound(fact: Fact) -> Version | None:
    bounds = [Version(s.version) for s in fact["versions"] if s.operator in (">=", "==", "~=", ">")]
    return max(bounds) if bounds else None


def _predecessor(candidates: list[Fact], version: Version) -> Fact | None:
    """For a release newer than every series the facts cover: the newest series, whose facts it inherits
    as an assumption (:func:`series_assumed` tells such an answer apart). A release in a gap between
    series, or older than all of them, inherits nothing."""
    lows = [(low, f) for f in candidates if (low := _lower_bound(f)) is not None]
    if not lows or any(low > version for low, _ in lows):
        return None
    newest = max(lows, key=lambda item: item[0])[1]
    upper = [Version(s.version) for s in newest["versions"] if s.operator in ("<", "<=")]
    return newest if upper and all(version >= u for u in upper) else None


def series_assumed(fact: Fact, version: str) -> bool:
    """Whether a series fact was inherited by a newer release rather than stated for it: the fact's own
    range does not contain the release (:func:`vllm_series` and the like fall back to the newest series)."""
    public = _public(version)
    if public is None:
        return False
    versions = fact.get("versions")
    return versions is not None and not versions.contains(public, prereleases=True)


def _memo_match(facts: Facts, key: tuple[str, ...], candidates: Callable[[], Iterable[Fact]]) -> Fact | None:
    memo = _memo(facts)
    if key not in memo:
        memo[key] = _first_matching(candidates(), key[-1])
    return cast("Fact | None", memo[key])


def torch_series(facts: Facts, version: str) -> Fact | None:
    """The torch series (``2.9``) a version belongs to."""
    return _memo_match(facts, ("torch_series", version), lambda: facts_of_kind(facts, "torch_series"))


def index_build(facts: Facts, url: str | None, package: str) -> Fact | None:
    """The ``index_build`` fact of a third-party index's own builds of ``package``, by the index URL's
    host and first path segment (``https://pypi.jetson-ai-lab.dev/jp6/cu126`` -> host, ``jp6``)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit((url or "").strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    segments = [p for p in parts.path.split("/") if p]
    if not host or not segments:
        return None
    family = segments[0].lower()
    for f in facts_of_kind(facts, "index_build"):
        if f["package"] == package and f["family"] == family and host in f["hosts"]:
            return f
    return None


def torch_build(facts: Facts, version: str, variant: str, platform: str) -> Fact | None:
    """The build facts (archs, PTX) of one torch version, variant and platform."""

    def cands() -> list[Fact]:
        builds = facts_of_kind(facts, "torch_build")
        return [f for f in builds if f["variant"] == variant and f["platform"] == platform]

    return _memo_match(facts, ("torch_build", variant, platform, version), cands)


def vllm_series(facts: Facts, version: str) -> Fact | None:
    """The vLLM series facts (wheel CUDA, min capability, archs) for a version."""
    return _memo_match(facts, ("vllm_series", version), lambda: facts_of_kind(facts, "vllm_series"))


def vllm_variant_index(facts: Facts, version: str, variant: str) -> tuple[str, Fact] | None:
    """The index URL that serves vLLM ``version``'s ``variant`` wheel (``+cu129``) and the fact saying so;
    ``None`` when no fact covers the release (never inherited from an older range)."""
    memo = _memo(facts)
    key = ("vllm_variant_index", version, variant)
    if key not in memo:
        memo[key] = _vllm_variant_index(facts, version, variant)
    return cast("tuple[str, Fact] | None", memo[key])


def _vllm_variant_index(facts: Facts, version: str, variant: str) -> tuple[str, Fact] | None:
    public = _public(version)
    if public is None:
        return None
    for f in facts_of_kind(facts, "vllm_variant_index"):
        if f["versions"].contains(public, prereleases=True) and variant in f["variants"]:
            url = (
                str(f["url"]).replace("{version}", str(Version(version).public)).replace("{variant}", variant)
            )
            return url, f
    return None


def package_builds(facts: Facts, package: str, version: str) -> list[Fact]:
    """Build facts of a neighbouring package (ctranslate2, onnxruntime-gpu …) at a version."""
    name = package.lower().replace("_", "-")
    memo = _memo(facts)
    if "package_builds" not in memo:
        index: dict[str, list[Fact]] = {}
        for f in facts_of_kind(facts, "package_build"):
            index.setdefault(str(f["package"]).lower(), []).append(f)
        memo["package_builds"] = index
    by_name = memo["package_builds"]
    assert isinstance(by_name, dict)
    cands = by_name.get(name, [])
    if not cands:
        return []
    key = ("package_builds", name, version)
    if key not in memo:
        public = _public(version)
        memo[key] = (
            ()
            if public is None
            else tuple(f for f in cands if f["versions"].contains(public, prereleases=True))
        )
    found = memo[key]
    assert isinstance(found, tuple)
    return list(found)


# --------------------------------------------------------------------------- package knowledge


def _package_index(facts: Facts) -> tuple[dict[str, Fact], list[Fact]]:
    """``package`` facts by exact name, and the prefix entries, longest prefix first."""
    memo = _memo(facts)
    if "package_index" not in memo:
        exact: dict[str, Fact] = {}
        prefixes: list[Fact] = []
        for f in facts_of_kind(facts, "package"):
            if f.get("prefix"):
                prefixes.append(f)
            else:
                exact[str(f["name"])] = f
        prefixes.sort(key=lambda f: -len(str(f["name"])))
        memo["package_index"] = (exact, prefixes)
    result = memo["package_index"]
    assert isinstance(result, tuple)
    return result


def package_fact(facts: Facts, name: str) -> Fact | None:
    """The ``package`` fact for a name: its own entry, else the longest prefix entry that covers it."""
    exact, prefixes = _package_index(facts)
    hit = exact.get(name)
    if hit is not None:
        return hit
    return next((f for f in prefixes if name.startswith(str(f["name"]))), None)


def package_flag(facts: Facts, name: str, flag: str) -> bool:
    """Whether a package has a flag of the ``package`` facts (``tracked``, ``gpu_only`` …); absent: false."""
    memo = _memo(facts)
    key = ("package_flag", name, flag)
    if key not in memo:
        f = package_fact(facts, name)
        memo[key] = bool(f is not None and f.get(flag))
    return memo[key] is True


def packages_with(facts: Facts, flag: str) -> tuple[str, ...]:
    """The packages (by exact name, in file order) that have a flag of the ``package`` facts."""
    memo = _memo(facts)
    key = ("packages_with", flag)
    if key not in memo:
        memo[key] = tuple(n for n, f in _package_index(facts)[0].items() if f.get(flag))
    result = memo[key]
    assert isinstance(result, tuple)
    return result


def package_names(facts: Facts) -> frozenset[str]:
    """Every package the knowledge base names: ``package`` facts and ``package_build`` facts."""
    names = set(_package_index(facts)[0])
    names.update(str(f["package"]) for f in facts_of_kind(facts, "package_build"))
    return frozenset(names)


def torch_companions(facts: Facts) -> frozenset[str]:
    """The packages released in step with torch (torchvision, torchaudio), as ``torch_series`` names them."""
    memo = _memo(facts)
    if "torch_companions" not in memo:
        memo["torch_companions"] = frozenset(
            k for f in facts_of_kind(facts, "torch_series") for k in f.get("companions", {})
        )
    return cast("frozenset[str]", memo["torch_companions"])


def cuda_library_wheel(facts: Facts, name: str) -> tuple[Fact, int] | None:
    """``nvidia-cudnn-cu12`` -> (the cuDNN ``cuda_library`` fact, CUDA major 12); ``None`` for others."""
    memo = _memo(facts)
    key = ("cuda_library_wheel", name)
    if key not in memo:
        memo[key] = next(
            (
                (f, int(digits))
                for f in facts_of_kind(facts, "cuda_library")
                if (digits := name.removeprefix(f"{f['wheel']}-cu")) != name and digits.isdigit()
            ),
            None,
        )
    return cast("tuple[Fact, int] | None", memo[key])


# --------------------------------------------------------------------------- images


@dataclass(frozen=True, slots=True)
class ImageMatch:
    """An image reference matched to its family: the groups its tag pattern captured."""

    reference: str
    repository: str
    tag: str
    family: Fact
    groups: dict[str, str]


def image_match(facts: Facts, reference: str) -> ImageMatch | None:
    """Match ``repo:tag`` (a registry prefix such as ``docker.io/`` is dropped) to an image family."""
    ref = reference.strip()
    ref = ref.split("@", 1)[0]
    repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    for prefix in ("docker.io/", "index.docker.io/", "registry.hub.docker.com/"):
        if repo.startswith(prefix):
            repo = repo[len(prefix) :]
    for f in facts.of_kind("image_family"):
        if str(f["repository"]).lower() != repo.lower():
            continue
        m = f["tag_pattern"].fullmatch(tag)
        if m:
            groups = {k: v for k, v in m.groupdict().items() if v is not None}
            return ImageMatch(reference, repo, tag, f, groups)
    return None


def image_torch_variant(facts: Facts, repository: str, version: str, suffix: str) -> Answer[str | None]:
    """The torch build an image really ships, where a fact says it differs from the image's CUDA."""
    try:
        v = Version(version)
    except InvalidVersion:
        return Answer(None, ())
    for f in facts.of_kind("image_torch"):
        if f["repository"] != repository or not f["versions"].contains(v, prereleases=True):
            continue
        if "torch_variant" not in f.values:
            continue
        if "suffix" in f.values and f["suffix"].lstrip("-") != suffix.lstrip("-"):
            continue
        return Answer(f["torch_variant"], (f,))
    return Answer(None, ())


def image_release_torch(facts: Facts, repository: str, tag: str) -> Fact | None:
    """The ``image_torch`` fact of the torch release a serving project's image tag installs: a release tag
    (``3.3.0``, ``v3.3.0``) within its ``versions``, or a moving tag it lists (``latest``, ``3.2``). A
    shortened version (``3.3``) is matched only through ``tags``: it moves with the newest ``3.3.x``."""
    try:
        v: Version | None = Version(tag.removeprefix("v"))
    except InvalidVersion:
        v = None
    if v is not None and (len(v.release) < 3 or v.local):
        v = None
    for f in facts.of_kind("image_torch"):
        if str(f["repository"]).lower() != repository.lower() or "torch" not in f.values:
            continue
        if tag in (f.get("tags") or ()) or tag.removeprefix("v") in (f.get("tags") or ()):
            return f
        if v is not None and f["versions"].contains(v, prereleases=True):
            return f
    return None


def image_require(facts: Facts, repository: str, cuda: Version | str) -> Answer[str | None]:
    """The ``NVIDIA_REQUIRE_CUDA`` an image of that repository and CUDA version carries."""
    v = cuda if isinstance(cuda, Version) else Version(str(cuda))
    for f in facts.of_kind("image_require"):
        if str(f["repository"]).lower() == repository.lower() and f["cuda"].contains(v, prereleases=True):
            return Answer(str(f["require"]), (f,))
    return Answer(None)


@dataclass(frozen=True, slots=True)
class RequireClause:
    """One space-separated alternative of ``NVIDIA_REQUIRE_CUDA``: comma-separated conditions, ANDed."""

    conditions: tuple[tuple[str, str, str], ...]
    """``(key, operator, value)``, e.g. ``("cuda", ">=", "12.8")``, ``("brand", "=", "tesla")``."""

    def __str__(self) -> str:
        return ",".join(f"{k}{op}{v}" for k, op, v in self.conditions)


_COND = r"^\s*([a-z]+)\s*(>=|<=|==|!=|=|<|>)\s*([\w.\-]+)\s*$"  # compiled on first use


@lru_cache(maxsize=256)
def parse_require(text: str) -> tuple[RequireClause, ...]:
    """Parse ``NVIDIA_REQUIRE_CUDA``: space-separated clauses are ORed, comma-separated conditions ANDed."""
    clauses = []
    for word in text.split():
        conds = []
        for part in word.split(","):
            m = re.match(_COND, part)
            if m:
                conds.append((m.group(1).lower(), m.group(2), m.group(3)))
        if conds:
            clauses.append(RequireClause(tuple(conds)))
    return tuple(clauses)


def _compare(left: Version, op: str, right: Version) -> bool:
    return {
        ">=": left >= right,
        "<=": left <= right,
        ">": left > right,
        "<": left < right,
        "=": left == right,
        "==": left == right,
        "!=": left != right,
    }[op]


def require_satisfied(
    clause: RequireClause, *, cuda: Version | None, driver: Version | None, brands: frozenset[str]
) -> bool | None:
    """Whether the host meets one clause as ``nvidia-container-cli`` evaluates it (``None``: unknown)."""
    for key, op, value in clause.conditions:
        if key == "brand":
            if not brands:
                return None
            if (value.lower() in brands) != (op in ("=", "==")):
                return False
            continue
        have = cuda if key == "cuda" else driver if key == "driver" else None
        if key not in ("cuda", "driver"):
            continue  # arch= and other keys do not concern the driver check
        if have is None:
            return None
        try:
            want = Version(value)
        except InvalidVersion:
            return None
        if key == "driver":
            # nvidia-container-cli compares the driver's major.minor
            have = Version(".".join(str(p) for p in have.release[:2]))
        if not _compare(have, op, want):
            return False
    return True
