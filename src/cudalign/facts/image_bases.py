"""The nvidia/cuda base an image release is built on, read from the project's own Dockerfile.

A serving project's image (``ghcr.io/huggingface/text-generation-inference:1.3.4``) inherits
``NVIDIA_REQUIRE_CUDA``, ``CUDA_VERSION`` and the cuda-compat libraries from the ``nvidia/cuda`` image its
final stage is built ``FROM``. :func:`dockerfile_base` finds that image in a Dockerfile (following stage
names and ``ARG`` defaults); :func:`release_facts` turns the bases of a project's release tags into
``[[image_release]]`` facts, one per run of releases on the same base (``scripts/derive_image_bases.py``
reads the tags from a clone of the project).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from packaging.version import InvalidVersion, Version

__all__ = ["dockerfile_base", "release_facts", "tag_bases"]

_FROM = r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$"
_ARG = r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S*)\s*$"
_VAR = r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
_CUDA_TAG = r"^(\d+\.\d+(?:\.\d+)?)-"


def _expand(text: str, args: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3)
        return args.get(name, m.group(2) or "")

    return re.sub(_VAR, sub, text)


def dockerfile_base(text: str) -> str | None:
    """The ``nvidia/cuda:<tag>`` image the Dockerfile's last stage descends from (through ``FROM <stage>``
    lines), with ``ARG`` defaults declared before it expanded; None when it does not descend from one."""
    args: dict[str, str] = {}
    stages: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines():
        m = re.match(_ARG, line)
        if m:
            args.setdefault(m.group(1), m.group(2).strip("\"'"))
            continue
        m = re.match(_FROM, line, flags=re.IGNORECASE)
        if m:
            image = _expand(m.group(1), args)
            last = image
            if m.group(2):
                stages[m.group(2).lower()] = image
    seen: set[str] = set()
    while last is not None and last.lower() in stages and last.lower() not in seen:
        seen.add(last.lower())
        last = stages[last.lower()]
    if last is None:
        return None
    ref = last.split("@", 1)[0]
    for prefix in ("docker.io/", "nvcr.io/"):
        ref = ref.removeprefix(prefix)
    return ref if ref.startswith("nvidia/cuda:") and re.match(_CUDA_TAG, ref.split(":", 1)[1]) else None


def _version(tag: str) -> Version | None:
    try:
        return Version(tag.lstrip("v"))
    except InvalidVersion:
        return None


def release_facts(
    bases: Sequence[tuple[str, str | None]],
    *,
    repository: str,
    fact_prefix: str,
    source: str,
    checked: str,
    latest: bool = True,
) -> str:
    """``[[image_release]]`` TOML for ``(tag, nvidia/cuda base)`` pairs of release tags: one fact per run of
    consecutive releases (by version) on the same base, its ``tag_pattern`` naming every release
    (``1.3.4``, with or without ``v``) and each ``X.Y`` whose releases all share the base; the newest run
    also matches ``latest`` when ``latest`` is set. Releases without an nvidia/cuda base are left out."""
    rows = sorted(((v, t, b) for t, b in bases if (v := _version(t)) is not None and not v.is_prerelease))
    runs: list[tuple[str, list[Version]]] = []
    for v, _t, base in rows:
        if base is None:
            runs.append(("", [v]))
            continue
        if runs and runs[-1][0] == base:
            runs[-1][1].append(v)
        else:
            runs.append((base, [v]))
    minors: dict[tuple[int, int], set[str]] = {}
    for v, _t, base in rows:
        minors.setdefault((v.major, v.minor), set()).add(base or "")
    out: list[str] = []
    kept = [(b, vs) for b, vs in runs if b]
    for i, (base, versions) in enumerate(kept):
        names = [re.escape(str(v)) for v in versions]
        names += [
            re.escape(f"{mm[0]}.{mm[1]}")
            for mm in dict.fromkeys((v.major, v.minor) for v in versions)
            if minors[mm] == {base}
        ]
        alts = "|".join(names)
        pattern = f"v?(?:{alts})" + ("|latest" if latest and i == len(kept) - 1 else "")
        cuda = base.split(":", 1)[1].split("-", 1)[0]
        first, final = versions[0], versions[-1]
        span = str(first) if first == final else f"{first} to {final}"
        out.append(
            "\n".join(
                (
                    "[[image_release]]",
                    f'id = "{fact_prefix}.{first}"',
                    f'repository = "{repository}"',
                    f'tag_pattern = "{_toml(pattern)}"',
                    f'cuda = "{cuda}"',
                    "compat_libs = true",
                    'based_on = "nvidia/cuda"',
                    f"note = \"Releases {span} are built FROM {base} (the final stage's base in the "
                    "project's Dockerfile at each release tag; scripts/derive_image_bases.py)"
                    + (", and latest is the newest release when derived" if "|latest" in pattern else "")
                    + '."',
                    f'source = "{source}"',
                    f"checked = {checked}",
                )
            )
        )
    return "\n\n".join(out) + ("\n" if out else "")


def _toml(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def tag_bases(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str | None]]:
    """``(tag, Dockerfile text)`` -> ``(tag, base)``."""
    return [(tag, dockerfile_base(text)) for tag, text in pairs]
