"""GPU names as people and tools write them, folded to the keys the knowledge base is indexed by.

``NVIDIA GeForce RTX 4090``, ``RTX 3060 12GB``, ``Tesla V100-PCIE-32GB``, ``A100-SXM4-80GB``, ``NVIDIA GeForce
RTX 2080 with Max-Q Design``: a name is tried as written (vendor words, case, spaces and dashes folded), then
without its memory size, then without laptop and Max-Q/Max-P wording (a laptop part has its desktop
sibling's compute capability). A name none of these finds gets the closest known names as a hint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cudalign.facts import Fact

__all__ = ["candidate_keys", "did_you_mean", "fold"]

_VENDOR = r"\b(?:nvidia|geforce|tesla|quadro|jetson)\b"
_SEPARATORS = r"[\s_\-]+"
_MEMORY = r"\b\d+(?:\.\d+)?\s?(?:gb|gib|g)\b|\bhbm\d?e?\b"
_VARIANT = r"\b(?:with|design|max[\s\-]?[qp]|laptop|mobile|notebook|gpu)\b"


def fold(text: str) -> str:
    """Fold a GPU name for matching: case, vendor and family words (NVIDIA, GeForce, Tesla, Quadro, Jetson),
    spaces and dashes."""
    t = re.sub(_VENDOR, " ", text.lower())
    return re.sub(_SEPARATORS, "", t)


def candidate_keys(text: str) -> list[str]:
    """The keys to try, most specific first: as written, without the memory size, without laptop and
    Max-Q wording (each key folded)."""
    low = re.sub(_SEPARATORS, " ", text.lower())
    no_memory = re.sub(_MEMORY, " ", low)
    plain = re.sub(_VARIANT, " ", no_memory)
    keys: list[str] = []
    for variant in (text, no_memory, plain):
        key = fold(variant)
        if key and key not in keys:
            keys.append(key)
    return keys


def did_you_mean(text: str, gpus: Iterable[Fact], n: int = 3) -> list[str]:
    """Up to ``n`` product names closest to ``text`` among the GPUs' names, aliases and NVML names."""
    import difflib

    index: dict[str, str] = {}
    for f in gpus:
        for name in (f["name"], *f.get("aliases", ()), *f.get("nvml_names", ())):
            for key in (fold(name), re.sub(_SEPARATORS, "", str(name).lower())):
                index.setdefault(key, str(f["name"]))
    wanted = [*candidate_keys(text), re.sub(_SEPARATORS, "", text.lower())]
    found: list[str] = []
    for key in wanted:
        for hit in difflib.get_close_matches(key, list(index), n=n, cutoff=0.5):
            if index[hit] not in found:
                found.append(index[hit])
    return found[:n]
