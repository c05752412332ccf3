"""Requirement rules: releases the index does not have, and requirements of one package that cannot both hold.

Both read the requirements and constraints as the user wrote them (``Stack.requested``), so nothing the
user wrote is dropped on the way: direct references count by the version in their file name.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from cudalign._pep508 import canonicalize_name
from cudalign.model import Component, FactRef, Severity, Stack
from cudalign.rules.common import Hit
from cudalign.stack.releases import _env, _requirement
from cudalign.stack.request import Request, Written, parse_requirements

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts
    from cudalign.rules import Context

__all__ = ["known_packages", "requirements_conflict", "unknown_release"]


def _request(stack: Stack) -> Request | None:
    if not stack.requested and not stack.constraints:
        return None
    return parse_requirements(stack.requested, constraints=stack.constraints)


def _applies(ctx: Context, w: Written) -> bool:
    marker = w.requirement.marker
    if marker is None:
        return True
    from cudalign.facts import query

    env = _env(ctx.host, ctx.stack.platform or query.platform_key(ctx.host))
    try:
        return bool(marker.evaluate(dict(env)))
    except Exception:  # an undefined marker variable: the requirement may apply
        return True


def known_packages(facts: Facts) -> list[str]:
    """Every package name the knowledge base knows: the snapshot's and the package facts'."""
    from cudalign.facts import query

    return sorted({*facts.snapshot.packages, *query.package_names(facts)})


def _did_you_mean(name: str, known: Sequence[str]) -> str | None:
    """A known name close to ``name``; names that differ only in digits (``cu11``/``cu12``) are others."""
    import difflib
    import re

    for cand in difflib.get_close_matches(name, known, n=3, cutoff=0.85):
        if re.sub(r"\d", "", cand) != re.sub(r"\d", "", name):
            return cand
    return None


def _versions(facts: Facts, name: str) -> list[Version]:
    """The snapshot's releases of a package, oldest first (computed once per knowledge base)."""
    from cudalign.facts import query

    memo = query._memo(facts)
    key = ("release_versions", name)
    if key not in memo:
        out = []
        for text in facts.snapshot.releases(name):
            try:
                out.append(Version(text))
            except InvalidVersion:
                continue
        memo[key] = sorted(out)
    result = memo[key]
    assert isinstance(result, list)
    return result


def _version_set(facts: Facts, name: str) -> frozenset[Version]:
    """:func:`_versions` as a set, for membership tests (computed once per knowledge base)."""
    from cudalign.facts import query

    memo = query._memo(facts)
    key = ("release_version_set", name)
    if key not in memo:
        memo[key] = frozenset(_versions(facts, name))
    result = memo[key]
    assert isinstance(result, frozenset)
    return result


def _nearest(version: str, versions: Sequence[Version]) -> str:
    """The releases around a missing one (difflib on the text first: ``2.5.9`` -> ``2.5.1``)."""
    import difflib

    texts = [str(v) for v in versions]
    close = difflib.get_close_matches(version, texts, n=2, cutoff=0.6)
    if not close:
        close = [texts[-1]]
    return " or ".join(close)


def _ref(ctx: Context, name: str) -> FactRef:
    snap = ctx.facts.snapshot
    return FactRef(f"pypi:{name}", f"{snap.index.rstrip('/')}/pypi/{name}/json")


def _future(spec: SpecifierSet, newest: Version) -> bool:
    """Whether a release newer than every known one could satisfy the specifier."""
    probe = Version(f"{newest.major + 1000}")
    return spec.contains(probe, prereleases=True) or any(
        s.operator in ("==", "===") and _newer(s.version, newest) for s in spec
    )


def _newer(text: str, newest: Version) -> bool:
    try:
        return Version(text.replace(".*", "")) > newest
    except InvalidVersion:
        return False


def unknown_release(ctx: Context) -> Iterator[Hit]:
    """A requirement names a package or release the index does not have, or a release pins one.

    **What it checks.** Each requirement the user wrote (a direct reference by the version in its wheel
    file name) against the releases of the tracked packages in the PyPI snapshot, and each exact ``==``
    pin in a resolved release's metadata on another tracked package. A name close to a known one
    (``vlm``) is answered with "did you mean", a missing release with the nearest ones. A release newer
    than every one in the snapshot may be newer than the snapshot: that is ``unknown``, not an error.
    A VCS or local-directory reference names no version: ``unknown``, saying so. A package the snapshot
    does not track is reported as unchecked (``info``): its Python range and pins are judged only by
    ``--resolve``.

    **Why.** pip stops with ``No matching distribution found for torch==2.5.9``; a release whose
    metadata pins a version the index never had (``vllm 0.34.0`` pins ``flashinfer-python==0.7.3``)
    cannot be installed at all. Judging the stack anyway would answer ``ok`` for something that never
    installs.

    **How to fix.** Correct the name or version (the message names the nearest), or choose another
    release of the package whose pin exists (``cudalign plan``); run ``cudalign facts update`` when
    the release is newer than the snapshot.

    An image read from its registry (``--registry``) whose tag or digest the registry does not have
    (``404``, ``MANIFEST_UNKNOWN``) is reported the same way: ``docker pull`` fails with ``manifest
    unknown``. So is, offline, an ``nvidia/cuda`` tag that NVIDIA's own tag lists say does not exist
    (``12.1-devel-ubuntu22.04``: the tags always name the full version, ``12.1.1``; or a release such as
    ``12.8.2`` that got no images), with the nearest published tag.

    **Example.** ``torch==2.5.9``: no such release (2.5.1 exists), fails; ``vlm==0.13.0``: did you mean
    vllm, unknown.
    """
    missing_image = ctx.stack.unknown.get("image_tag")
    if missing_image:  # the registry (--registry) or the vendor's tag lists: no such tag or digest
        said, _, nearest = missing_image.partition("; did you mean ")
        yield Hit(
            f"{said}: the image cannot be pulled.",
            f"Use {nearest.rstrip('?')} (the nearest published tag)."
            if nearest
            else "Use a tag the registry lists (its tag list, or 'cudalign plan' for a base image).",
            tuple(
                r
                for r in ctx.stack.facts
                if r.id.startswith("registry.")
                or (r.id in ctx.facts and ctx.facts.get(r.id).kind == "image_tags")
            ),
        )
    request = _request(ctx.stack)
    snap = ctx.facts.snapshot
    stamp = snap.generated[:10]
    if request is not None:
        for key, why in request.unjudged.items():
            yield Hit(
                f"{key} cannot be judged: {why}.",
                "Pin a released version (or a wheel file) so its CUDA build can be checked.",
                unknown=f"the version {key} installs",
            )
        known: list[str] | None = None
        for name in request.order:
            ws = [w for w in request.written.get(name, ()) if not w.constraint and _applies(ctx, w)]
            if not ws:
                continue
            if name not in snap.packages:
                known = known if known is not None else known_packages(ctx.facts)
                cand = None if name in known else _did_you_mean(name, known)
                if cand is not None:
                    yield Hit(
                        f"{name} is not a package cudalign knows; did you mean {cand}?",
                        f"Check the name: pip installs what the index holds under {name!r}, if anything.",
                        unknown=f"whether {name} exists on the index",
                    )
                else:
                    yield Hit(
                        f"{request.asked(name)}: {name} is not a package cudalign tracks, so its releases, "
                        "Python range, pins and CUDA build are unchecked.",
                        "Run 'cudalign check --resolve' (online) to judge the exact closure the installer "
                        "picks, Python ranges included.",
                        severity=Severity.INFO,
                    )
                continue
            yield from _missing_release(ctx, name, ws, stamp)
    if ctx.stack.origin == "installed":
        return  # installed releases were installable where they came from
    yield from _missing_pins(ctx, stamp)


def _missing_release(ctx: Context, name: str, ws: Sequence[Written], stamp: str) -> Iterator[Hit]:
    versions = _versions(ctx.facts, name)
    if not versions:
        return
    for w in ws:
        spec = w.requirement.specifier
        if any(spec.contains(v, prereleases=True) for v in versions):
            continue
        exact = [s.version for s in spec if s.operator in ("==", "===") and "*" not in s.version]
        what = f"{name} {exact[0]}" if len(exact) == 1 else f"a release of {name} in {spec}"
        near = _nearest(exact[0], versions) if len(exact) == 1 else str(versions[-1])
        series = _prerelease_series(ctx, name, exact[0]) if len(exact) == 1 else None
        if series is not None:  # a nightly or release candidate: the index holds releases only
            yield Hit(
                f"{w.text}: {what} is a nightly or pre-release build, which PyPI does not hold; it is judged "
                f"from its series ({series.id}) and variant, as an assumption.",
                "Install it from the project's nightly or test index; pin a release for a stack that must "
                "not change.",
                (series.ref, _ref(ctx, name)),
                severity=Severity.WARNING,
            )
            continue
        if _future(spec, versions[-1]):
            yield Hit(
                f"{w.text}: {what} is not in the snapshot of {stamp}, whose newest {name} is "
                f"{versions[-1]}; did you mean {near}?",
                "If it was released since, run 'cudalign facts update'; else correct the version.",
                (_ref(ctx, name),),
                unknown=f"{what} (newer than the snapshot)",
            )
        else:
            yield Hit(
                f"{w.text}: the index has no {what} (pip: 'No matching distribution found'); did you mean "
                f"{near}?",
                f"Use a release {name} has, e.g. {name}=={near.split(' or ')[0]}.",
                (_ref(ctx, name),),
            )


def _prerelease_series(ctx: Context, name: str, text: str) -> Fact | None:
    """The series fact a nightly or pre-release version (``2.10.0.dev20251001``) belongs to, if any."""
    from packaging.version import InvalidVersion, Version

    from cudalign.facts import query

    try:
        v = Version(text)
    except InvalidVersion:
        return None
    if not (v.is_prerelease or v.is_devrelease):
        return None
    series = {"torch": query.torch_series, "vllm": query.vllm_series}.get(name)  # the series kinds of facts
    return series(ctx.facts, text) if series is not None else None


def _missing_pins(ctx: Context, stamp: str) -> Iterator[Hit]:
    """The findings of each component's exact pins, worked out once per release and knowledge base
    (they depend on the release and the snapshot alone; ``plan`` asks about one release many times)."""
    from cudalign.facts import query

    memo = query._memo(ctx.facts)
    for c in ctx.stack.components:
        key = ("missing_pins", c.name, c.version, c.pins, c.facts, stamp)
        if key not in memo:
            memo[key] = tuple(_component_missing_pins(ctx, c, stamp))
        hits = memo[key]
        assert isinstance(hits, tuple)
        yield from hits


def _component_missing_pins(ctx: Context, c: Component, stamp: str) -> Iterator[Hit]:
    snap = ctx.facts.snapshot
    for text in c.pins:
        req = _requirement(text)
        if req is None:
            continue
        dep = canonicalize_name(req.name)
        exact = [s.version for s in req.specifier if s.operator in ("==", "===")]
        if dep not in snap.packages or len(exact) != 1 or "*" in exact[0]:
            continue
        versions = _versions(ctx.facts, dep)
        try:
            pinned = Version(exact[0])
        except InvalidVersion:
            continue
        if not versions or pinned in _version_set(ctx.facts, dep):
            continue
        near = _nearest(exact[0], versions)
        if pinned > versions[-1]:
            yield Hit(
                f"{c.name} {c.version} pins {text}, which is not in the snapshot of {stamp} (newest "
                f"{dep}: {versions[-1]}).",
                f"Run 'cudalign facts update'; if the index still lacks it, choose another {c.name} release.",
                (_ref(ctx, dep), *c.facts),
                unknown=f"whether {dep} {exact[0]} exists",
            )
            continue
        yield Hit(
            f"{c.name} {c.version} pins {text}, which the index never had ({dep} has {near}): "
            f"pip cannot install {c.name} {c.version} (ResolutionImpossible).",
            f"Choose another {c.name} release ('cudalign plan'); installing it with --no-deps and "
            f"another {dep} is unsupported.",
            (_ref(ctx, dep), *c.facts),
            severity=Severity.ERROR,
        )


def _exact(w: Written) -> Version | None:
    exact = [s.version for s in w.requirement.specifier if s.operator in ("==", "===")]
    if len(exact) != 1 or "*" in exact[0]:
        return None
    try:
        return Version(exact[0])
    except InvalidVersion:
        return None


def _shown(w: Written) -> str:
    return f"{w.text} (a constraint)" if w.constraint else w.text


def requirements_conflict(ctx: Context) -> Iterator[Hit]:
    """Two requirements (or a requirement and a constraint) of one package cannot both hold.

    **What it checks.** Every requirement and ``-c`` constraint the user wrote for a package, under the
    markers that apply on the host: two exact pins of different versions (or local labels: ``+cu124``
    against ``+cu121``), an exact pin outside another's range, or ranges that no release in the
    snapshot meets together while each alone is met.

    **Why.** pip and uv resolve all requirements and constraints of one install together and stop with
    ``ResolutionImpossible`` ("Cannot install torch==2.5.1 and torch==2.6.0 because these package
    versions have conflicting dependencies"); reading only one of them would judge a stack that never
    installs.

    **How to fix.** Keep one requirement per package (include the file that pins it with ``-r``/``-c``
    instead of repeating the pin), or widen the constraint to admit the version required.

    **Example.** ``torch==2.5.1`` in requirements.txt and ``torch==2.6.0`` in its ``-c constraints.txt``:
    fails.
    """
    request = _request(ctx.stack)
    if request is None:
        return
    for name, ws in request.written.items():
        live = [w for w in ws if _applies(ctx, w)]
        if len(live) < 2:
            continue
        pair = _clash(ctx, name, live)
        if pair is None:
            continue
        a, b = pair
        yield Hit(
            f"{_shown(a)} and {_shown(b)} cannot both hold: pip stops with ResolutionImpossible.",
            f"Keep one requirement of {name} (include the file that pins it with -r/-c), or make the "
            "constraint admit the version required.",
        )


def _clash(ctx: Context, name: str, ws: Sequence[Written]) -> tuple[Written, Written] | None:
    """The first two items that cannot both hold, else ``None``."""
    for i, a in enumerate(ws):
        for b in ws[i + 1 :]:
            va, vb = _exact(a), _exact(b)
            if va is not None and vb is not None:
                if va != vb or (a.variant and b.variant and a.variant != b.variant):
                    return a, b
                continue
            if va is not None and not b.requirement.specifier.contains(va, prereleases=True):
                return a, b
            if vb is not None and not a.requirement.specifier.contains(vb, prereleases=True):
                return a, b
    if name not in ctx.facts.snapshot.packages:
        return None
    versions = _versions(ctx.facts, name)
    each = [w for w in ws if any(w.requirement.specifier.contains(v, prereleases=True) for v in versions)]
    if len(each) < 2:
        return None  # a requirement no release meets alone is unknown-release's to say
    combined = SpecifierSet()
    for k, w in enumerate(each):
        combined &= w.requirement.specifier
        if not any(combined.contains(v, prereleases=True) for v in versions) and not _future(
            combined, versions[-1]
        ):
            return each[k - 1], w
    return None
