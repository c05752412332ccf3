"""Neighbouring extensions judged by their wheel labels, against the torch of the stack.

flash-attn's prebuilt wheels (GitHub releases, pinned as direct URLs) and the extensions that copy its
scheme (mamba-ssm, causal-conv1d …) carry ``+cu12torch2.5cxx11abiFALSE`` in their version: the CUDA they
were built with, the torch major.minor they were compiled against and the C++ ABI of that torch. The
checks here are called by the package rules (CA302 for torch and ABI, CA303 for the CUDA major).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from cudalign._dataclass import dataclass
from cudalign.facts import query
from cudalign.model import Component, Severity
from cudalign.rules.common import Hit, label

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts
    from cudalign.rules import Context

__all__ = [
    "WheelLabel",
    "label_abi_mismatch",
    "label_cuda_mismatch",
    "parse_label",
    "torch_cxx11abi",
    "wheel_abi",
]

# linear: anchored, no nested quantifiers
_LABEL = r"cu(\d{2,3})torch(\d+)\.(\d+)cxx11abi(true|false)"


@dataclass(frozen=True, slots=True)
class WheelLabel:
    """What a ``cu{XY}torch{X.Y}cxx11abi{TRUE|FALSE}`` label says about a wheel."""

    cuda: str
    """The CUDA it names: ``12`` (a major, as flash-attn >= 2.7 writes it) or ``11.8``."""
    cuda_major: int
    torch: tuple[int, int]
    cxx11abi: bool

    def text(
        self, cuda: str | None = None, torch: tuple[int, int] | None = None, abi: bool | None = None
    ) -> str:
        """The label with some parts replaced (the label of the wheel that would fit)."""
        t = torch or self.torch
        a = self.cxx11abi if abi is None else abi
        return f"cu{cuda or self.cuda.replace('.', '')}torch{t[0]}.{t[1]}cxx11abi{str(a).upper()}"


def parse_label(variant: str | None) -> WheelLabel | None:
    """``cu12torch2.5cxx11abiFALSE`` -> its parts; anything else -> ``None``."""
    if not variant or len(variant) > 40:
        return None
    m = re.fullmatch(_LABEL, variant.lower())
    if m is None:
        return None
    digits = m.group(1)
    if len(digits) == 2:
        cuda, major = digits, int(digits)
    else:
        cuda, major = f"{digits[:-1]}.{digits[-1]}", int(digits[:-1])
    return WheelLabel(cuda, major, (int(m.group(2)), int(m.group(3))), m.group(4) == "true")


def torch_cxx11abi(
    facts: Facts, version: str, variant: str | None, platform: str
) -> query.Answer[bool | None]:
    """The C++ ABI of torch's wheel (``torch._C._GLIBCXX_USE_CXX11_ABI``), or ``None`` where no fact says."""
    try:
        v = Version(Version(version).base_version)
    except InvalidVersion:
        return query.Answer(None)
    for f in query.facts_of_kind(facts, "torch_abi"):
        if f["platform"] != platform:
            continue
        spec: SpecifierSet = f["versions"]
        if not spec.contains(v, prereleases=True):
            continue
        variants = f.get("variants")
        if variants is not None and (variant or "") not in variants:
            continue
        return query.Answer(bool(f["cxx11abi"]), (f,))
    return query.Answer(None)


def wheel_abi(facts: Facts, package: str, version: str, lab: WheelLabel) -> Fact | None:
    """The ``wheel_abi`` fact of a labelled wheel whose extension links another C++ ABI than its label."""
    try:
        v = Version(version.split("+", 1)[0])
        t = Version(f"{lab.torch[0]}.{lab.torch[1]}")
    except InvalidVersion:
        return None
    for f in query.facts_of_kind(facts, "wheel_abi"):
        if (
            f["package"] == package
            and bool(f["label_cxx11abi"]) == lab.cxx11abi
            and f["versions"].contains(v, prereleases=True)
            and f["label_torch"].contains(t, prereleases=True)
        ):
            return f
    return None


def _labelled(ctx: Context) -> Iterator[tuple[Component, WheelLabel]]:
    for c in ctx.stack.components:
        if c.name == "torch":
            continue
        parsed = parse_label(c.variant)
        if parsed is not None:
            yield c, parsed


def _torch(ctx: Context) -> tuple[Component, Version] | None:
    torch = ctx.stack.component("torch")
    if torch is None:
        return None
    try:
        return torch, Version(Version(torch.version).base_version)
    except InvalidVersion:
        return None


def _package_refs(ctx: Context, c: Component) -> tuple[Fact, ...]:
    return tuple(f for f in query.package_builds(ctx.facts, c.name, c.version) if not f.get("component"))


def label_abi_mismatch(ctx: Context) -> Iterator[Hit]:
    """A labelled wheel compiled against another torch major.minor, or the other C++ ABI, than torch's."""
    found = _torch(ctx)
    if found is None:
        return
    torch, tv = found
    platform = ctx.stack.platform or query.platform_key(ctx.host)
    from_image = (
        bool(ctx.stack.image) and not torch.requirement
    )  # the image's own torch: its ABI is its build's
    for c, lab in _labelled(ctx):
        refs = tuple(f.ref for f in _package_refs(ctx, c))
        shown = f"{c.name} {c.version}+{lab.text()}" if "+" not in c.version else f"{c.name} {c.version}"
        if lab.torch != (tv.major, tv.minor):
            yield Hit(
                f"{shown} is built for torch {lab.torch[0]}.{lab.torch[1]}, but torch {label(torch)} is in "
                "the stack: its extension module links torch's C++ symbols and fails at import with "
                "'undefined symbol: _ZN3c10…'.",
                f"Use the wheel labelled {lab.text(torch=(tv.major, tv.minor))} (where the release publishes "
                f"one), or torch {lab.torch[0]}.{lab.torch[1]}.*, or build {c.name} from source against this "
                "torch.",
                refs,
            )
            continue
        if ctx.stack.origin == "installed" or from_image or not platform.startswith("linux"):
            continue
        abi = torch_cxx11abi(ctx.facts, torch.version, torch.variant, platform)
        links = wheel_abi(ctx.facts, c.name, c.version, lab)
        if links is not None and abi.value is not None:
            if abi.value == links["cxx11abi"]:
                continue  # the ABI it really links is torch's: it loads despite its label
            yield Hit(
                f"{shown} is labelled cxx11abi{str(lab.cxx11abi).upper()} but its extension links the "
                f"{'new C++11' if links['cxx11abi'] else 'old pre-C++11'} ABI (a build defect reported for "
                f"these {c.name} wheels), and torch {label(torch)} on {platform} uses the "
                f"{'new C++11' if abi.value else 'old pre-C++11'} ABI: import fails with 'undefined symbol: "
                "_ZN3c105ErrorC2ENS_14SourceLocation…'.",
                f"Use a {c.name} release the defect does not affect (it covers {c.name}{links['versions']}) "
                f"with the label {lab.text()}, or build {c.name} from source against this torch.",
                (*refs, *abi.refs, links.ref),
            )
            continue
        if abi.value is None:
            yield Hit(
                f"{shown} is built with cxx11abi{str(lab.cxx11abi).upper()}; which C++ ABI torch "
                f"{label(torch)} on {platform} uses is not in the knowledge base.",
                "Check python -c 'import torch; print(torch._C._GLIBCXX_USE_CXX11_ABI)' and pick the wheel "
                "whose cxx11abi label matches.",
                refs,
                severity=Severity.INFO,
                unknown=f"C++ ABI of torch {torch.version} ({torch.variant or 'default'} build) on "
                f"{platform}",
            )
        elif abi.value != lab.cxx11abi:
            fitting = WheelLabel(lab.cuda, lab.cuda_major, lab.torch, abi.value)
            other = wheel_abi(ctx.facts, c.name, c.version, fitting)
            yield Hit(
                f"{shown} is built with cxx11abi{str(lab.cxx11abi).upper()}, but torch {label(torch)} on "
                f"{platform} uses the {'new C++11' if abi.value else 'old pre-C++11'} ABI: import fails with "
                "'undefined symbol: _ZN3c105ErrorC2ENS_14SourceLocation…'.",
                f"Use the wheel labelled {lab.text(abi=abi.value)}."
                if other is None
                else f"Use a {c.name} release outside {c.name}{other['versions']} (whose "
                f"{lab.text(abi=abi.value)} wheel links the other ABI) with the label "
                f"{lab.text(abi=abi.value)}, or build {c.name} from source against this torch.",
                refs + abi.refs + ((other.ref,) if other is not None else ()),
            )


def label_cuda_mismatch(ctx: Context) -> Iterator[Hit]:
    """A labelled wheel built for another CUDA major than the torch variant of the stack."""
    torch = ctx.stack.component("torch")
    if torch is None or not torch.variant or not torch.variant.startswith("cu"):
        return
    try:
        tcuda = (
            Version(ctx.stack.cuda_runtime) if ctx.stack.cuda_runtime else query.variant_cuda(torch.variant)
        )
    except InvalidVersion:
        return
    if tcuda is None:
        return
    for c, lab in _labelled(ctx):
        if lab.cuda_major == tcuda.major:
            continue
        refs = tuple(f.ref for f in _package_refs(ctx, c))
        yield Hit(
            f"{c.name} {c.version}+{lab.text()} is built for CUDA {lab.cuda}, but torch {label(torch)} "
            f"brings CUDA {tcuda} (libcudart.so.{lab.cuda_major} will not be found).",
            f"Use the wheel labelled {lab.text(cuda=str(tcuda.major))}, or torch's CUDA {lab.cuda_major} "
            "variant.",
            refs,
        )
