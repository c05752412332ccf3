"""Repo rules across services: torch drift (CA601) and CUDA drift (CA602)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from packaging.version import Version

from cudalign.model import Location, Severity
from cudalign.rules.repo import RepoContext, RepoHit

if TYPE_CHECKING:
    from cudalign.scan.analysis import ServiceView

__all__ = ["cuda_drift", "torch_drift"]


def _drift(
    values: dict[str, tuple[Version, Location | None]], what: str
) -> Iterable[tuple[str, Version, Location | None, str]]:
    """(service, its value, location, the others in words) for each service off the most common value."""
    if len({v for v, _ in values.values()}) < 2:
        return
    counts = Counter(v for v, _ in values.values())
    common = max(counts, key=lambda v: (counts[v], v))
    for name, (value, loc) in values.items():
        if value == common:
            continue
        others = sorted(n for n, (v, _) in values.items() if v == common)
        yield name, value, loc, f"{', '.join(others)} use{'s' if len(others) == 1 else ''} {what} {common}"


_VARIANT = r"(?:^|[-_./ (])(?:cu(?:da)?\d{2,3}|pt\d{2,3}|torch\d|rocm\d*|xpu|npu|cpu|gpu|cuda)(?:$|[-_./ )])"


def _groups(ctx: RepoContext) -> dict[tuple[str, str], list[ServiceView]]:
    """Services that run together, by accelerator. Together: the services of one compose file, the
    workloads of one Kubernetes deployment unit (a manifest file, or every manifest of one Helm chart or
    kustomization), and the standalone builds of a repository of services (no compose or Kubernetes file
    deploys them) where each folder holds one Dockerfile. Not together: Dockerfiles that share a folder
    (``Dockerfile``, ``Dockerfile_llamacpp``, ``Dockerfile.rocm``: alternative builds, one of which is
    deployed) and folders or Dockerfiles named for a CUDA, torch or accelerator variant."""
    import posixpath
    import re

    per_folder: Counter[str] = Counter(
        posixpath.dirname(v.service.dockerfile) or "." for v in ctx.views if v.service.dockerfile
    )
    out: dict[tuple[str, str], list[ServiceView]] = {}
    for v in ctx.views:
        kind = v.accelerator or ("nvidia" if v.torch_cuda is not None else "none")
        files = {f"compose:{cs.location.file}" for cs in v.service.compose} | {
            f"k8s:{c.deployment or c.location.file}" for c in v.service.containers
        }
        if files:
            for f in sorted(files):
                out.setdefault((kind, f), []).append(v)
            continue
        dockerfile = v.service.dockerfile
        if dockerfile is not None and per_folder[posixpath.dirname(dockerfile) or "."] > 1:
            continue  # one of several builds of its folder: an alternative, not a neighbour
        where = f"{v.service.context}/{dockerfile or ''}".lower()
        if re.search(_VARIANT, where):
            continue
        out.setdefault((kind, ""), []).append(v)
    return out


def torch_drift(ctx: RepoContext) -> Iterable[RepoHit]:
    """Services of one repository run different torch versions.

    Services that exchange tensors, checkpoints or compiled extensions (a worker and an API, an LLM
    and an embedding service) behave differently across torch versions, and each torch version brings
    its own CUDA runtime. The finding points at each service that is off the most common version.
    Only versions the repository fixes count (an exact pin, a lock, an image tag): a range is reported
    by CA604, not compared.

    Fix: pin one torch version for all services (a shared constraints file helps), or suppress the
    finding on the line with ``# cudalign: ignore=CA601`` where the difference is intended.
    """
    seen: set[str] = set()
    for group in _groups(ctx).values():
        values: dict[str, tuple[Version, Location | None]] = {}
        for v in group:
            if v.torch_version is not None and v.torch_pinned:
                source = v.torch_source
                where = source.location if source else (v.service.image.location if v.service.image else None)
                values[v.service.name] = (v.torch_version, where)
        for name, value, loc, others in _drift(values, "torch"):
            if name in seen:
                continue
            seen.add(name)
            yield RepoHit(
                f"{name} runs torch {value} while {others}",
                "pin the same torch version in every service (one shared constraints file), or mark the "
                "difference as intended with '# cudalign: ignore=CA601'",
                loc,
                name,
            )


def cuda_drift(ctx: RepoContext) -> Iterable[RepoHit]:
    """Services of one repository load different CUDA runtimes (major.minor).

    The CUDA runtime of a service is that of its torch build (``+cu128``, the PyPI default of its
    version, or the index it installs from; only when the repository fixes torch's version), else its
    base image's CUDA. Every runtime needs its own
    minimum driver, so the fleet's driver must satisfy the newest one; different majors also mean
    different cuBLAS/cuDNN majors that cannot share one image.

    Fix: move the services to one CUDA minor (the same torch variant and base image CUDA).
    """
    for (kind, _), group in _groups(ctx).items():
        if kind == "nvidia":
            yield from _cuda_drift(group)


def _cuda_drift(group: list[ServiceView]) -> Iterable[RepoHit]:
    values: dict[str, tuple[Version, Location | None]] = {}
    for v in group:
        cuda = v.cuda
        if cuda is None or (v.torch_cuda is not None and not v.torch_pinned):
            continue
        source = v.torch_source
        loc = source.location if (v.torch_cuda is not None and source) else None
        if loc is None and v.service.image is not None:
            loc = v.service.image.location
        values[v.service.name] = (cuda, loc)
    for name, value, loc, others in _drift(values, "CUDA"):
        counts = Counter(c for c, _ in values.values())
        common = max(counts, key=lambda c: (counts[c], c))
        yield RepoHit(
            f"{name} loads CUDA {value} while {others}"
            + (
                "; the CUDA majors differ, so the driver must support the newest major"
                if value.major != common.major
                else ""
            ),
            "move all services to one CUDA minor: the same torch variant (+cuXYZ or index) and base "
            "image CUDA",
            loc,
            name,
            severity=Severity.WARNING,
        )
