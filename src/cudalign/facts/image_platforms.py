"""The platforms an image tag is published for (``image_platforms`` facts), and the nearest tag of the same
family that publishes a wanted one.

A platform is written as an OCI index writes it: ``linux/amd64``, ``linux/arm64``. A host's machine
(``uname -m``: ``x86_64``, ``aarch64``) is compared by its architecture alone (:func:`oci_platform`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts

__all__ = ["Platforms", "has_platform", "nearest_tag", "oci_platform", "published_platforms"]

_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "ppc64le": "ppc64le"}


def oci_platform(arch: str | None) -> str:
    """A machine (``uname -m``) as an OCI platform: ``aarch64`` -> ``linux/arm64``; default linux/amd64."""
    if arch and "/" in arch:
        return arch
    return f"linux/{_ARCHES.get((arch or 'x86_64').lower(), (arch or 'amd64').lower())}"


def has_platform(platforms: Iterable[str], arch: str | None) -> bool:
    """Whether a host of machine ``arch`` finds its platform among ``platforms`` (os and architecture; an
    arm64 variant such as ``v8`` does not matter to a 64-bit host)."""
    want = oci_platform(arch).split("/")[:2]
    return any(p.split("/")[:2] == want for p in platforms)


class Platforms(NamedTuple):
    """What the knowledge base says about one tag's platforms."""

    platforms: tuple[str, ...]
    """``()`` when no fact covers the tag (not known)."""
    fact: Fact | None = None


def _version(fact: Fact, tag: str) -> tuple[bool, Version | None]:
    """(the fact's pattern takes the tag, the version it names when it names one)."""
    m = fact["tag_pattern"].fullmatch(tag)
    if m is None:
        return False, None
    text = m.groupdict().get("version")
    if not text:
        return True, None
    try:
        return True, Version(text)
    except InvalidVersion:
        return False, None


def _covers(fact: Fact, tag: str) -> bool:
    ok, version = _version(fact, tag)
    if not ok:
        return False
    spec = fact.get("versions")
    return spec is None or version is None or spec.contains(version, prereleases=True)


def _facts(facts: Facts, repository: str) -> list[Fact]:
    out = []
    for f in facts.of_kind("image_platforms"):
        repos = {str(f["repository"]).lower(), *(str(r).lower() for r in f.get("repositories") or ())}
        if repository.lower() in repos:
            out.append(f)
    return out


def published_platforms(facts: Facts, repositories: Iterable[str], tag: str) -> Platforms:
    """The platforms of ``repository:tag`` for the first repository path (a mirror's suffixes too) that a
    fact covers; empty when none does."""
    for repo in repositories:
        for f in _facts(facts, repo):
            if _covers(f, tag):
                return Platforms(tuple(str(p) for p in f["platforms"]), f)
    return Platforms(())


def nearest_tag(facts: Facts, repository: str, tag: str, arch: str | None) -> tuple[str, Fact] | None:
    """The tag of the same family nearest to ``tag`` whose platforms include the host's: the tag with its
    version replaced by the closest release of the fact's ``package`` (the next newer first) that a fact
    publishing that platform covers. None when no fact of the family publishes it."""
    here = published_platforms(facts, (repository,), tag)
    if here.fact is None:
        return None
    m = here.fact["tag_pattern"].fullmatch(tag)
    ok, version = _version(here.fact, tag)
    if m is None or not ok or version is None or "version" not in m.groupdict():
        return None
    start, end = m.span("version")
    best: tuple[tuple[int, Version], str, Fact] | None = None
    for f in _facts(facts, repository):
        package = f.get("package")
        if not package or not has_platform(f["platforms"], arch):
            continue
        for text in facts.snapshot.releases(str(package)):
            try:
                v = Version(text)
            except InvalidVersion:
                continue
            if v.is_prerelease or v.is_devrelease:
                continue
            candidate = tag[:start] + str(v) + tag[end:]
            if not _covers(f, candidate):
                continue
            # newer releases first, the nearest first; then older ones, the nearest (largest) first
            key = (0, v) if v > version else (1, _negate(v))
            if best is None or key < best[0]:
                best = (key, candidate, f)
    return (best[1], best[2]) if best is not None else None


def _negate(v: Version) -> Version:
    """An order-reversing stand-in: larger versions sort first among the older candidates."""
    parts = [10**6 - p for p in (*v.release, 0, 0, 0)[:4]]
    return Version(".".join(str(p) for p in parts))
