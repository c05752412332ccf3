"""Repo rules on pins: unpinned CUDA packages (CA604), +cuXYZ without an index (CA605), duplicates (CA606)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from cudalign.model import Severity
from cudalign.rules.repo import RepoContext, RepoHit

if TYPE_CHECKING:
    from cudalign.scan.model import Declared

__all__ = ["duplicate_pin", "unpinned_cuda_package", "variant_without_index"]


def unpinned_cuda_package(ctx: RepoContext) -> Iterable[RepoHit]:
    """A CUDA-sensitive package (torch, vLLM, ``nvidia-*``, flash-attn, xformers, ctranslate2 …) is
    not pinned to one version.

    A range (``vllm>=0.12``) or no version at all resolves to whatever is newest on the day of the
    build; for these packages that also changes the CUDA runtime, the driver it needs and the GPU
    architectures compiled in. A lock file (``uv.lock``, ``pylock.toml``) that pins the package in the
    same service counts as a pin.

    Fix: pin the exact version (``vllm==0.13.0``) or install from a lock file.
    """
    from cudalign.facts import query
    from cudalign.scan.analysis import cuda_sensitive

    for v in ctx.views:
        if v.accelerator not in (None, "nvidia"):
            continue  # no CUDA runtime to drift: a CPU, ROCm, NPU or XPU build
        # an exact pin or lock anywhere in the service decides the version: `pip install torch` after
        # `torch==2.6.0` is already satisfied
        locked = {d.name for d in v.service.requirements if d.locked or (d.pinned_version and not d.url)}
        torch_fixed = "torch" in locked
        seen: set[tuple[str, int | None]] = set()
        for d in v.service.requirements:
            if (
                d.locked
                or d.url
                or d.name in locked
                or d.pinned_version
                or not cuda_sensitive(d.name, ctx.facts)
                # torchvision, torchaudio, xformers: built per torch release on its index and pinning it
                # exactly, so with torch pinned the resolver picks the build of that torch
                or (
                    torch_fixed
                    and d.name != "torch"
                    and query.package_flag(ctx.facts, d.name, "torch_index")
                    and query.package_flag(ctx.facts, d.name, "pins_torch")
                )
            ):
                continue
            key = (d.location.file, d.location.line)
            if (d.name, key[1]) in seen:
                continue
            seen.add((d.name, key[1]))
            what = f"'{d.text.split(';')[0].strip()}'"
            yield RepoHit(
                f"{what} is not pinned: each build may resolve another {d.name} release, with another CUDA "
                "runtime and driver requirement",
                f"pin it exactly ({d.name}==<version>) or install from a lock file",
                d.location,
                v.service.name,
            )


_VARIANT_INDEX = r"/(cu\d+|cpu|rocm[\d.]+)/?$"  # compiled on first use, by re's cache


def _serves(url: str, kind: str, variant: str) -> bool:
    if kind == "torch-backend":
        return url in (variant, "auto")
    m = re.search(_VARIANT_INDEX, url.split("?", 1)[0])
    if m:
        return m.group(1).lower() == variant
    return kind == "find-links" and (
        "torch_stable" in url or "download.pytorch.org" in url or "://" not in url
    )


def variant_without_index(ctx: RepoContext) -> Iterable[RepoHit]:
    """A pin names a CUDA build by its local label (``torch==2.9.0+cu128``) but no index of the service
    serves that build.

    PyPI does not host local-label builds; pip and uv find them only on the PyTorch index for that
    variant (``https://download.pytorch.org/whl/cu128``), a find-links page, uv's ``--torch-backend``
    or a ``[tool.uv.sources]`` entry. Without one the install fails with "No matching distribution
    found for torch==2.9.0+cu128". An index for another variant (``…/whl/cu121``) does not serve it.

    Fix: add the variant's index where the pin is installed (``--extra-index-url
    https://download.pytorch.org/whl/cu128``, or a ``[[tool.uv.index]]`` with ``[tool.uv.sources]``).
    """
    for v in ctx.views:
        svc = v.service
        for d in svc.requirements:
            if d.locked or not d.pinned_version:
                continue
            try:
                local = Version(d.pinned_version).local
            except InvalidVersion:
                continue
            if not local or not re.fullmatch(r"cu\d+", local):
                continue
            served = any(
                _serves(i.url, i.kind, local) and (not i.packages or d.name in i.packages)
                for i in svc.indexes
            ) or any(
                e.locked and e.name == d.name and e.index_url and _serves(e.index_url, "", local)
                for e in svc.requirements
            )
            if served:
                continue
            named = sorted({i.url for i in svc.indexes})
            yield RepoHit(
                f"{d.text.split(';')[0].strip()} names the {local} build, which PyPI does not serve, and "
                "no index of this service serves it "
                f"({'indexes: ' + ', '.join(named) if named else 'no index is named'}); "
                "the install fails with 'No matching distribution found'",
                f"add --extra-index-url https://download.pytorch.org/whl/{local} where it is installed "
                "(or a [[tool.uv.index]] and [tool.uv.sources] entry)",
                d.location,
                svc.name,
                severity=Severity.ERROR,
            )


def duplicate_pin(ctx: RepoContext) -> Iterable[RepoHit]:
    """One service pins the same CUDA-sensitive package to different versions in two of its files, or
    its lock file disagrees with its pins.

    Which pin wins depends on install order (a Dockerfile ``pip install`` after ``-r requirements.txt``
    silently replaces the first), so the file a reviewer reads is not what runs. A pin that disagrees
    with the service's lock file (``uv.lock``, ``pylock.toml``) means the lock is out of date and
    installs something else. Pins that apply under different environment markers are not duplicates.

    Fix: keep the pin in one file and let the others include it (``-r``/``-c``); re-lock after
    changing a pin.
    """
    from cudalign.scan.analysis import cuda_sensitive, locks_it

    for v in ctx.views:
        lock_files = sorted({f for f in v.service.files if f.endswith((".lock", "pylock.toml"))})
        for d in v.stale_lock:
            yield RepoHit(
                f"{d.text.split(';')[0].strip()} is declared here but {', '.join(lock_files) or 'the lock'} "
                "does not lock it: the lock is out of date (a frozen install leaves it out, a fresh lock "
                "resolves it anew)",
                "re-lock (uv lock / poetry lock) and commit the lock",
                d.location,
                v.service.name,
            )
        by_name: dict[str, list[Declared]] = {}
        locks: dict[str, list[Declared]] = {}
        for d in v.service.requirements:
            if not cuda_sensitive(d.name, ctx.facts):
                continue  # pins of other packages are another tool's business
            if d.locked and d.pinned_version:
                locks.setdefault(d.name, []).append(d)
            elif d.pinned_version:
                by_name.setdefault(d.name, []).append(d)
        pins_of_lock = {id(d) for ds in by_name.values() for d in ds if locks_it(v.service, d)}
        for name, decls in by_name.items():
            entries = locks.get(name, [])
            if entries:  # a lock may hold one entry per source or marker: the pin must match one
                lock = entries[0]
                for d in decls:
                    if id(d) not in pins_of_lock:
                        continue
                    if not any(_same_version(d.pinned_version, e.pinned_version) for e in entries):
                        yield RepoHit(
                            f"{name} is pinned to {d.pinned_version} here, but "
                            f"{lock.location.file}:{lock.location.line} locks {lock.pinned_version}: "
                            "the lock is out of date and installs the locked version",
                            "update the lock (uv lock) or the pin so that they agree",
                            d.location,
                            v.service.name,
                        )
            first = decls[0]
            for d in decls[1:]:
                if d.location.file == first.location.file or d.marker != first.marker:
                    continue
                if _same_version(d.pinned_version, first.pinned_version):
                    continue
                yield RepoHit(
                    f"{name} is pinned to {d.pinned_version} here and to {first.pinned_version} in "
                    f"{first.location.file}:{first.location.line}",
                    "keep one pin and include that file from the other (-r / -c)",
                    d.location,
                    v.service.name,
                )


def _same_version(a: str | None, b: str | None) -> bool:
    try:
        return Version(a or "") == Version(b or "")
    except InvalidVersion:
        return a == b
