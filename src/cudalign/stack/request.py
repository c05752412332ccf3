"""What the user asked for: PEP 508 requirements, the variants their local labels name, the index.

A direct reference (``torch @ https://…/torch-2.5.1%2Bcu124-…whl``, a local ``./wheels/….whl``,
``file:///….whl``) stands for the version and local label in its wheel (or sdist) file name; one that
names no version (a VCS URL, a directory) is kept, with why it cannot be judged. Every requirement and
constraint of a package is kept as written, so two that cannot both hold are seen, not overwritten.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from packaging.specifiers import SpecifierSet

from cudalign._dataclass import dataclass, field
from cudalign._pep508 import Requirement, canonicalize_name, error_line
from cudalign.errors import InvalidInput

__all__ = ["TORCH_INDEX", "Request", "Written", "foreign_index_variant", "parse_requirements"]

TORCH_INDEX = "https://download.pytorch.org/whl/"
_INDEX_VARIANT = r"download\.pytorch\.org/whl/(?:nightly/|test/)?(cu\d+|cpu|rocm[\d.]+)"
_INDEX_OPTION = r"^--(?:extra-)?index-url(?:=|\s+)?(\S*)$"
_ARCHIVES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")
_FOREIGN_VARIANT = r"^https?://([^/\s]+)/(?:[^\s]*/)?(cu\d{2,3})(?:/[^\s]*)?$"
_PYPI_HOSTS = ("pypi.org", "files.pythonhosted.org", "download.pytorch.org")


def foreign_index_variant(url: str | None) -> str | None:
    """The CUDA variant an index that is neither PyPI nor PyTorch's names in its path
    (``https://pypi.jetson-ai-lab.io/jp6/cu126`` -> ``cu126``): its torch is that index's own build (NVIDIA's
    Jetson and SBSA indexes build for Orin's sm_87 and GB10's sm_121, PyTorch's aarch64 wheels do not), so
    PyTorch's architecture lists do not apply. ``None`` for PyPI, PyTorch's index, a mirror of either
    (a path naming ``pytorch``, or no CUDA variant in the path)."""
    import re

    m = re.match(_FOREIGN_VARIANT, (url or "").strip(), re.I)
    if not m or "pytorch" in (url or "").lower():
        return None
    host = m.group(1).lower()
    if any(host == h or host.endswith("." + h) for h in _PYPI_HOSTS):
        return None
    return m.group(2).lower()


@dataclass(frozen=True, slots=True)
class Written:
    """One requirement or constraint of a package, as written and as read."""

    text: str
    requirement: Requirement
    """Parsed, with local labels stripped from the specifier (a direct wheel becomes ``==version``)."""
    constraint: bool = False
    """From a constraints file (``-c``): it limits the version, it does not install."""
    variant: str | None = None
    """The local label it names (``cu124``)."""
    direct: str | None = None
    """The URL or path of a direct reference whose file name gave the version."""


@dataclass(frozen=True, slots=True)
class Request:
    """What the user asked for: requirements by name, variants named by local labels, the index."""

    specs: Mapping[str, Requirement]
    """Canonical name -> requirement (local labels stripped; several of one package intersected)."""
    order: tuple[str, ...]
    variants: Mapping[str, str] = field(default_factory=dict)
    """Canonical name -> variant named by a local label (``torch==2.6.0+cu124`` -> ``cu124``)."""
    index_url: str | None = None
    raw: Mapping[str, str] = field(default_factory=dict)
    """Canonical name -> the requirement text as written (the first, when there are several)."""
    written: Mapping[str, tuple[Written, ...]] = field(default_factory=dict)
    """Canonical name -> every requirement and constraint of it, in order."""
    constraints: Mapping[str, Requirement] = field(default_factory=dict)
    """Canonical name -> the constraints on a package no requirement names (they limit what pins it)."""
    unjudged: Mapping[str, str] = field(default_factory=dict)
    """Canonical name (or the text, when it names none) -> why it names no version to judge."""
    items: tuple[str, ...] = ()
    """The requirements as given, index options included."""
    constraint_items: tuple[str, ...] = ()
    """The constraints as given."""

    def asked(self, name: str) -> str:
        """What the user wrote about a package: its requirements and constraints, joined by 'and'."""
        return " and ".join(w.text for w in self.written.get(name, ())) or self.raw.get(name, name)


def _archive_name(location: str) -> str | None:
    """The unquoted file name of a direct reference to a wheel or sdist, else ``None``."""
    from urllib.parse import unquote, urlsplit

    path = urlsplit(location).path if "://" in location else location
    name = unquote(path.rstrip("/").rsplit("/", 1)[-1].rsplit("\\", 1)[-1])
    return name if name.lower().endswith(_ARCHIVES) else None


def _from_file(filename: str) -> tuple[str, str, str | None] | str:
    """(name, public version, local label) from a wheel or sdist file name, or why it gives none."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.lower().endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        return f"its file name {filename!r} names no version ({exc})"
    return str(name), version.public, version.local


def _no_version_reason(location: str) -> str:
    if re.match(r"^(git|hg|svn|bzr)\+", location):
        return f"a VCS reference ({location}) names no version: what it installs is known only once built"
    if location.startswith(("http://", "https://")):
        return f"the URL {location} is not a wheel or sdist file: it names no version"
    return f"the local path {location} is not a wheel or sdist file: it names no version"


def _direct(text: str) -> tuple[str, str] | None:
    """(location, marker text) of a bare path or URL to an archive (``./wheels/torch-….whl``)."""
    location, _, marker = text.partition(";")
    location = location.strip()
    if " " in location or not location:
        return None
    local = re.match(r"^(\.{1,2}/|\.{1,2}$|/|~|file:|(git|hg|svn|bzr)\+)", location)
    if _archive_name(location) is None and not local:
        return None
    return location, marker.strip()


def _written(text: str, *, constraint: bool) -> tuple[Written | None, tuple[str, str] | None]:
    """Parse one item: the Written, or (key, why it cannot be judged)."""
    bare = _direct(text)
    if bare is not None:
        location, marker = bare
        filename = _archive_name(location)
        parsed = _from_file(filename) if filename else _no_version_reason(location)
        if isinstance(parsed, str):
            return None, (text, parsed if filename is None else f"{location}: {parsed}")
        name, version, local = parsed
        req = _parse(f"{name}=={version}" + (f"; {marker}" if marker else ""), text)
        return Written(text, req, constraint, local.lower() if local else None, location), None
    req = _parse(text, text)
    name = canonicalize_name(req.name)
    if req.url:
        filename = _archive_name(req.url)
        parsed = _from_file(filename) if filename else _no_version_reason(req.url)
        if isinstance(parsed, str):
            return None, (name, parsed)
        file_name, version, local = parsed
        if canonicalize_name(file_name) != name:
            return None, (name, f"{req.url} is a file of {file_name}, not of {req.name}")
        req.url = None
        req.specifier = SpecifierSet(f"=={version}")
        return Written(text, req, constraint, local.lower() if local else None, _archive_name_or(text)), None
    variant = None
    kept = []
    for spec in req.specifier:
        version, _, local = spec.version.partition("+")
        if local:
            variant = local.lower()
        kept.append(f"{spec.operator}{version}")
    req.specifier = SpecifierSet(",".join(kept))
    return Written(text, req, constraint, variant), None


def _archive_name_or(text: str) -> str:
    return text.split("@", 1)[1].split(";", 1)[0].strip()


def _parse(text: str, shown: str) -> Requirement:
    try:
        return Requirement(text)
    except ValueError as exc:  # packaging's errors (it reads what the fast parser leaves to it)
        from packaging.markers import InvalidMarker
        from packaging.requirements import InvalidRequirement

        if isinstance(exc, (InvalidRequirement, InvalidMarker)):
            raise InvalidInput(f"requirement {shown!r}: {error_line(exc)}") from None
        # older packaging: a number too long to convert, raised bare
        raise InvalidInput(f"requirement {shown[:80]!r}: a version has a number too long to be one") from None


def parse_requirements(
    requirements: Iterable[str], *, index_url: str | None = None, constraints: Iterable[str] = ()
) -> Request:
    """Parse PEP 508 strings; an ``https://…`` item or ``--index-url URL`` names the index."""
    return _parse_all(tuple(requirements), index_url, tuple(constraints))


@lru_cache(maxsize=512)
def _parse_all(items: tuple[str, ...], index_url: str | None, constraint_items: tuple[str, ...]) -> Request:
    written: dict[str, list[Written]] = {}
    unjudged: dict[str, str] = {}
    order: list[str] = []
    i = 0
    tagged = [(t, False) for t in items] + [(t, True) for t in constraint_items]
    while i < len(tagged):
        text, is_constraint = tagged[i][0].strip(), tagged[i][1]
        i += 1
        if not text or text.startswith("#"):
            continue
        m = re.match(_INDEX_OPTION, text)
        if m:
            url = m.group(1) or (tagged[i][0].strip() if i < len(tagged) else "")
            i += 0 if m.group(1) else 1
            index_url = url or index_url
            continue
        if text.startswith(("http://", "https://")) and _archive_name(text) is None:
            index_url = text
            continue
        item, why = _written(text, constraint=is_constraint)
        if why is not None:
            unjudged[why[0]] = why[1]
            if not is_constraint and why[0] not in order and why[0] == canonicalize_name(why[0]):
                order.append(why[0])
            continue
        assert item is not None
        name = canonicalize_name(item.requirement.name)
        written.setdefault(name, []).append(item)
        if not is_constraint and name not in order:
            order.append(name)
    return _request(written, order, index_url, unjudged, items, constraint_items)


def _request(
    written: Mapping[str, list[Written]],
    order: list[str],
    index_url: str | None,
    unjudged: dict[str, str],
    items: tuple[str, ...],
    constraint_items: tuple[str, ...],
) -> Request:
    specs: dict[str, Requirement] = {}
    constraints: dict[str, Requirement] = {}
    variants: dict[str, str] = {}
    raw: dict[str, str] = {}
    for name, ws in written.items():
        combined = _combine(ws)
        for w in ws:
            if w.variant:
                variants[name] = w.variant
        if name in order:
            specs[name] = combined
            raw[name] = next(w.text for w in ws if not w.constraint)
        else:
            constraints[name] = combined
    if index_url and "torch" not in variants:
        m2 = re.search(_INDEX_VARIANT, index_url, re.I)
        if m2:
            variants["torch"] = m2.group(1).lower()
    return Request(
        specs,
        tuple(n for n in order if n in specs),
        variants,
        index_url,
        raw,
        {n: tuple(ws) for n, ws in written.items()},
        constraints,
        unjudged,
        items,
        constraint_items,
    )


def _combine(items: list[Written]) -> Requirement:
    """One requirement for a package: the specifiers of every item that applies where the first does.

    Items under another environment marker apply elsewhere (``; sys_platform == 'win32'``): the
    first one's marker decides which are combined here, as before.
    """
    first = items[-1] if all(w.constraint for w in items) else next(w for w in items if not w.constraint)
    req = Requirement(str(first.requirement))
    spec = SpecifierSet()
    extras: set[str] = set()
    for w in items:
        if str(w.requirement.marker or "") != str(first.requirement.marker or ""):
            continue
        spec &= w.requirement.specifier
        if not w.constraint:
            extras |= w.requirement.extras
    req.specifier = spec
    req.extras = extras
    return req
