"""Which tags an image repository publishes: derived from the vendor's own tag lists, judged offline.

NVIDIA lists every ``nvidia/cuda`` tag it publishes in two files of its image repository
(gitlab.com/nvidia/container-images/cuda): ``doc/supported-tags.md`` (tags with security updates) and
``doc/unsupported-tags.md`` (tags that "still exist" but get no updates); tags are deleted under
``doc/support-policy.md``. :func:`parse_tag_lists` reads those Markdown lists and :func:`fact_toml`
writes them as one ``image_tags`` fact (``scripts/derive_image_tags.py`` runs both), so a tag is judged
without asking the registry:

- a tag whose CUDA is not written the way every listed tag writes it (``X.Y.Z``: ``12.1-devel`` is no
  tag, ``12.1.1-devel`` is) does not exist, whatever the version;
- a tag of a CUDA release the lists cover that neither list holds does not exist;
- a tag of a newer CUDA release than the lists cover is not judged (the lists predate it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from cudalign._dataclass import dataclass

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts

__all__ = ["TagJudgement", "fact_toml", "judge_tag", "parse_tag_lists", "split_tag"]

_LISTED = r"`(\d+(?:\.\d+)+)-([a-z0-9.-]+)`"
"""A tag as the lists write it: `` `12.1.1-cudnn8-devel-ubuntu22.04` ``."""


def parse_tag_lists(documents: Iterable[str]) -> dict[str, set[str]]:
    """CUDA version -> the rest of every tag listed for it (``cudnn8-devel-ubuntu22.04``)."""
    out: dict[str, set[str]] = {}
    pattern = re.compile(_LISTED)
    for text in documents:
        for m in pattern.finditer(text):
            out.setdefault(m.group(1), set()).add(m.group(2))
    return out


def _by_os(rests: Iterable[str]) -> str:
    """``base-ubuntu22.04 devel-ubuntu22.04`` -> ``ubuntu22.04: base devel`` (one TOML string)."""
    groups: dict[str, list[str]] = {}
    for rest in sorted(rests):
        flavour, _, os = rest.rpartition("-")
        groups.setdefault(os, []).append(flavour)
    return "; ".join(f"{os}: {' '.join(sorted(fl))}" for os, fl in sorted(groups.items()))


def _from_os(text: str) -> frozenset[str]:
    out: set[str] = set()
    for part in text.split(";"):
        os, _, flavours = part.partition(":")
        out.update(f"{fl}-{os.strip()}" for fl in flavours.split())
    return frozenset(out)


def fact_toml(
    tags: Mapping[str, set[str]], *, repository: str, fact_id: str, source: str, checked: str, note: str
) -> str:
    """The ``[[image_tags]]`` fact for a parsed listing, newest version first."""
    versions = sorted(tags, key=Version, reverse=True)
    forms = {len(Version(v).release) for v in versions}
    lines = [
        "[[image_tags]]",
        f'id = "{fact_id}"',
        f'repository = "{repository}"',
        f'versions = "<={versions[0]}"',
        f"version_parts = {forms.pop() if len(forms) == 1 else 0}",
        f'note = "{note}"',
        f'source = "{source}"',
        f"checked = {checked}",
        "",
        "[image_tags.tags]",
    ]
    lines += [f'"{v}" = "{_by_os(tags[v])}"' for v in versions]
    return "\n".join(lines) + "\n"


def split_tag(tag: str) -> tuple[str, str] | None:
    """``12.1.1-cudnn8-devel-ubuntu22.04`` -> (``12.1.1``, ``cudnn8-devel-ubuntu22.04``)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)*)-([a-z0-9.-]+)", tag)
    return (m.group(1), m.group(2)) if m else None


@dataclass(frozen=True, slots=True)
class TagJudgement:
    """Whether a tag is published, and the nearest one that is."""

    exists: bool | None
    """False: the vendor's lists say no such tag; None: the lists do not cover its version."""
    reason: str = ""
    suggestion: str | None = None
    fact: Fact | None = None


_PUBLISHED: dict[int, tuple[Mapping[str, str], dict[str, frozenset[str]]]] = {}
"""id of a fact's tag table -> (that table, what :func:`_published` read from it): read once a process."""


def _published(fact: Fact) -> dict[str, frozenset[str]]:
    tags = fact["tags"]
    hit = _PUBLISHED.get(id(tags))
    if hit is None or hit[0] is not tags:  # the table itself is held, so its id is not reused
        hit = _PUBLISHED[id(tags)] = (tags, {v: _from_os(text) for v, text in tags.items()})
    return hit[1]


def tags_fact(facts: Facts, repository: str) -> Fact | None:
    """The ``image_tags`` fact of a repository (``nvidia/cuda``), if the knowledge base has one."""
    return next((f for f in facts.of_kind("image_tags") if str(f["repository"]) == repository), None)


def judge_tag(facts: Facts, repository: str, tag: str) -> TagJudgement:
    """Whether ``repository:tag`` is a tag the vendor publishes (see the module)."""
    fact = tags_fact(facts, repository)
    if fact is None:
        return TagJudgement(None)
    parts = split_tag(tag)
    if parts is None:
        return TagJudgement(
            False,
            f"NVIDIA's tag lists hold no {repository} tag without its CUDA version, so {repository}:{tag} "
            "does not exist",
            fact=fact,
        )
    version, rest = parts
    try:
        v = Version(version)
    except InvalidVersion:
        return TagJudgement(None)
    listed = _published(fact)
    want = int(fact.get("version_parts") or 0)
    if want and len(v.release) != want:
        same_minor = sorted(
            (Version(x) for x in listed if Version(x).release[:2] == v.release[:2] and rest in listed[x]),
            reverse=True,
        )
        hint = f"{same_minor[0]}-{rest}" if same_minor else None
        releases = [] if hint else _toolkit_releases(facts, v, want)
        full = f" (CUDA {v} releases: {', '.join(releases)})" if releases else ""
        return TagJudgement(
            False,
            f"{repository} tags always name the full CUDA version ({'.'.join(['X', 'Y', 'Z'][:want])}), "
            f"so {repository}:{tag} does not exist{full}",
            hint,
            fact,
        )
    if not fact["versions"].contains(v, prereleases=True):
        return TagJudgement(None, fact=fact)
    if rest in listed.get(str(v), frozenset()):
        return TagJudgement(True, fact=fact)
    return TagJudgement(
        False,
        f"{repository}:{tag} is in neither of NVIDIA's tag lists (supported and unsupported tags, up to "
        f"CUDA {max(map(Version, listed))})",
        _nearest(listed, v, rest),
        fact,
    )


def _toolkit_releases(facts: Facts, version: Version, parts: int) -> list[str]:
    """The toolkit releases of a CUDA minor the knowledge base knows (whether each has images is not)."""
    from cudalign.facts import query

    return [
        str(f["version"])
        for f in query.toolkits(facts)
        if f["version"].release[:2] == version.release[:2] and len(f["version"].release) == parts
    ]


def _nearest(listed: Mapping[str, frozenset[str]], version: Version, rest: str) -> str | None:
    """The published tag closest to a missing one: the same flavour and OS at the nearest version of
    that CUDA minor, else another tag of that version with the closest spelling."""
    same = sorted(
        (Version(x) for x in listed if rest in listed[x] and Version(x).release[:2] == version.release[:2]),
        key=lambda x: (abs(x.release[-1] - version.release[-1]), -x.release[-1]),
    )
    if same:
        return f"{same[0]}-{rest}"
    import difflib

    options = sorted(listed.get(str(version), frozenset()))
    close = difflib.get_close_matches(rest, options, n=1, cutoff=0.6)
    if close:
        return f"{version}-{close[0]}"
    newest = sorted((Version(x) for x in listed if rest in listed[x]), reverse=True)
    return f"{newest[0]}-{rest}" if newest else None
