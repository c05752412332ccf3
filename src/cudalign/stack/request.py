"""What the user asked for: PEP 508 requirements, the variants their local labels name, the index."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.markers import InvalidMarker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from cudalign.errors import InvalidInput

if TYPE_CHECKING:
    pass


__all__ = ["TORCH_INDEX", "Request", "parse_requirements"]

TORCH_INDEX = "https://download.pytorch.org/whl/"
_INDEX_VARIANT = re.compile(r"download\.pytorch\.org/whl/(?:nightly/|test/)?(cu\d+|cpu|rocm[\d.]+)", re.I)


@dataclass(frozen=True, slots=True)
class Request:
    """What the user asked for: requirements by name, variants named by local labels, the index."""

    specs: Mapping[str, Requirement]
    """Canonical name -> requirement (local labels stripped from the specifier)."""
    order: tuple[str, ...]
    variants: Mapping[str, str] = field(default_factory=dict)
    """Canonical name -> variant named by a local label (``torch==2.6.0+cu124`` -> ``cu124``)."""
    index_url: str | None = None
    raw: Mapping[str, str] = field(default_factory=dict)
    """Canonical name -> the requirement text as written."""


def parse_requirements(requirements: Iterable[str], *, index_url: str | None = None) -> Request:
    """Parse PEP 508 strings; an ``https://…`` item or ``--index-url URL`` names the index."""
    specs: dict[str, Requirement] = {}
    variants: dict[str, str] = {}
    raw: dict[str, str] = {}
    order: list[str] = []
    items = list(requirements)
    i = 0
    while i < len(items):
        text = items[i].strip()
        i += 1
        if not text or text.startswith("#"):
            continue
        m = re.match(r"^--(?:extra-)?index-url(?:=|\s+)?(\S*)$", text)
        if m:
            url = m.group(1) or (items[i].strip() if i < len(items) else "")
            i += 0 if m.group(1) else 1
            index_url = url or index_url
            continue
        if text.startswith(("http://", "https://")):
            index_url = text
            continue
        try:
            req = Requirement(text)
        except (InvalidRequirement, InvalidMarker) as exc:
            raise InvalidInput(f"requirement {text!r}: {exc}") from None
        name = canonicalize_name(req.name)
        kept = []
        for spec in req.specifier:
            version, _, local = spec.version.partition("+")
            if local:
                variants[name] = local.lower()
            kept.append(f"{spec.operator}{version}")
        req.specifier = SpecifierSet(",".join(kept))
        specs[name] = req
        raw[name] = text
        if name not in order:
            order.append(name)
    if index_url and "torch" not in variants:
        m2 = _INDEX_VARIANT.search(index_url)
        if m2:
            variants["torch"] = m2.group(1).lower()
    return Request(specs, tuple(order), variants, index_url, raw)
