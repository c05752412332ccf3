"""Repo rules on images: base image vs torch CUDA (CA603), GPU reservation (CA607), fleet driver (CA608)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from packaging.version import Version

from cudalign.model import Severity
from cudalign.rules.repo import RepoContext, RepoHit, driver_text

__all__ = [
    "base_image_cuda_mismatch",
    "gpu_service_without_reservation",
    "image_needs_newer_driver_than_fleet",
]


def base_image_cuda_mismatch(ctx: RepoContext) -> Iterable[RepoHit]:
    """A service's base image declares another CUDA than the torch wheel installed into it.

    The torch wheel brings its own CUDA runtime (the ``nvidia-*`` wheels); the image's toolkit is not
    what torch loads. What matters is the driver: the image's ``NVIDIA_REQUIRE_CUDA`` makes the
    container runtime check the driver for the *image's* CUDA, so a wheel built for a newer CUDA than
    the image passes that check on a driver too old for the wheel and fails only at the first CUDA
    call (``CUDA driver version is insufficient``). A wheel for an older CUDA than the image works but
    the image's toolkit is dead weight. Different majors (an 11.8 image with a cu121 wheel) also mean
    two cuBLAS/cuDNN majors in one image.

    Fix: use a base image whose CUDA matches the wheel (``nvidia/cuda:12.8.1-runtime-…`` for ``+cu128``)
    or install the torch variant that matches the image.
    """
    from cudalign.facts import query

    for v in ctx.views:
        image_cuda, torch_cuda = v.image_cuda, v.torch_cuda
        if image_cuda is None or torch_cuda is None or image_cuda == torch_cuda or v.service.image is None:
            continue
        torch = v.stack.component("torch") if v.stack else None
        label = f"torch {torch.version}+{torch.variant}" if torch and torch.variant else "torch"
        source = v.torch_source
        loc = source.location if source else v.service.image.location
        image = (
            f"{v.service.image.reference} ({v.service.image.location.file}:{v.service.image.location.line})"
        )
        need = query.min_driver_for_cuda(ctx.facts, torch_cuda)
        floor = query.mvc_floor(ctx.facts, torch_cuda.major)
        refs = need.refs + floor.refs + (v.image.facts if v.image else ())
        full = f"driver {driver_text(need.value)}" if need.value else f"a driver for CUDA {torch_cuda}"
        mvc = f"driver >= {driver_text(floor.value)}" if floor.value else "a driver of the same CUDA major"
        if torch_cuda.major > image_cuda.major:
            yield RepoHit(
                f"base image {image} declares CUDA {image_cuda}, but {label} brings its own CUDA "
                f"{torch_cuda} runtime, which needs {mvc} ({full} for full support); "
                "the image's NVIDIA_REQUIRE_CUDA "
                f"only checks for CUDA {image_cuda}, so a driver too old for torch passes the container "
                "start and fails at the first CUDA call",
                f"use a CUDA {torch_cuda} base image, or install the torch build for CUDA {image_cuda}",
                loc,
                v.service.name,
                refs,
                Severity.WARNING,
            )
        elif torch_cuda > image_cuda and torch_cuda.major == image_cuda.major:
            yield RepoHit(
                f"base image {image} declares CUDA {image_cuda}, but {label} brings its own CUDA "
                f"{torch_cuda} runtime: the container starts on any driver for CUDA {image_cuda}, "
                f"yet below {full} "
                f"(CUDA {torch_cuda}) torch runs only through minor-version compatibility ({mvc}), without "
                "PTX JIT; the driver is what matters, not the image's toolkit",
                f"use a CUDA {torch_cuda} base image so the image's driver check matches torch, or install "
                f"the torch build for CUDA {image_cuda}",
                loc,
                v.service.name,
                refs,
                Severity.WARNING,
            )
        else:
            yield RepoHit(
                f"base image {image} ships CUDA {image_cuda}, but {label} loads its own CUDA {torch_cuda} "
                "runtime; the image's toolkit is unused by torch "
                f"(it runs on any driver for CUDA {image_cuda})",
                f"use a CUDA {torch_cuda} (or a -base) image to drop the unused toolkit",
                loc,
                v.service.name,
                refs,
                Severity.INFO,
            )


def gpu_service_without_reservation(ctx: RepoContext) -> Iterable[RepoHit]:
    """A compose service runs a GPU stack but asks for no GPU.

    Without ``deploy.resources.reservations.devices`` (``capabilities: [gpu]``), ``runtime: nvidia`` or
    ``gpus:``, Docker starts the container without the NVIDIA devices and driver libraries (unless the
    daemon's default runtime is ``nvidia``), and torch reports ``CUDA available: False``. A GPU stack here
    means a CUDA base image, a GPU-only package (vLLM, flash-attn …), a ``+cuXYZ`` torch or CUDA index,
    or ``nvidia-*`` packages.

    Fix: add a device reservation to the service (``deploy: resources: reservations: devices:
    [{driver: nvidia, count: all, capabilities: [gpu]}]``).
    """
    from cudalign.scan.analysis import image_cuda

    for v in ctx.views:
        reserved = {cs.location.file for cs in v.service.compose if cs.gpu}
        for cs in v.service.compose:
            # a helper of the same build (a chown or migration job) beside the service that reserves
            # the GPU in the same compose file does not run the GPU stack
            if cs.gpu or cs.extended or cs.location.file in reserved:
                continue
            image = cs.base_image or v.service.image
            if not v.declares_gpu and (image is None or image_cuda(ctx.facts, image.reference) is None):
                continue
            visible = next((e for e in cs.env if e.name == "NVIDIA_VISIBLE_DEVICES"), None)
            extra = " (NVIDIA_VISIBLE_DEVICES alone needs the nvidia runtime)" if visible else ""
            yield RepoHit(
                f"compose service {cs.name} runs a GPU stack but reserves no GPU{extra}; it starts "
                "without the NVIDIA devices unless the Docker daemon's default runtime is nvidia",
                "add deploy.resources.reservations.devices with capabilities: [gpu] (or gpus: all)",
                cs.location,
                v.service.name,
            )


def image_needs_newer_driver_than_fleet(ctx: RepoContext) -> Iterable[RepoHit]:
    """A service's image needs a newer driver than the lowest driver of the target fleet.

    The image's CUDA (``nvidia/cuda:12.9.1-…``, ``vllm/vllm-openai:v0.20.0``) sets its
    ``NVIDIA_REQUIRE_CUDA``; the container toolkit refuses to start it on a driver that supports an older
    CUDA, unless a ``brand=…,driver>=…`` clause of that variable admits the driver's branch (datacenter
    GPUs through the image's forward-compatibility libraries) or ``NVIDIA_DISABLE_REQUIRE`` is set.
    The fleet's lowest driver comes from ``--fleet-driver``, ``--driver`` or ``[tool.cudalign]
    fleet-driver``; without one this rule is silent.

    Fix: use an image of a CUDA the fleet's driver supports, or upgrade the fleet's driver first.
    """
    from cudalign.facts import query

    if ctx.fleet_driver is None:
        return
    for v in ctx.views:
        svc = v.service
        if (
            svc.image is None
            or v.image_cuda is None
            # the engine judged the image on a described GPU: its CA401/CA402 say more than this rule
            or ctx.engine_codes.get(svc.name, frozenset()) & {"CA401", "CA402"}
        ):
            continue
        # the container toolkit checks cuda>=major.minor: the minor's first (GA) driver is what it needs
        need = query.min_driver_for_cuda(ctx.facts, v.image_cuda)
        if need.value is None or need.value <= ctx.fleet_driver:
            continue
        refs = need.refs + (v.image.facts if v.image else ())
        disabled = any(
            e.name == "NVIDIA_DISABLE_REQUIRE" and e.value.lower() in ("1", "true", "yes") for e in svc.env
        )
        # an ENV NVIDIA_REQUIRE_CUDA in the Dockerfile replaces the base image's
        own = next((e.value for e in reversed(svc.env) if e.name == "NVIDIA_REQUIRE_CUDA"), None)
        admitted = _branch_admitted(own or (v.image.require if v.image else None), ctx.fleet_driver)
        base = (
            f"{svc.image.reference} needs driver >= {driver_text(need.value)} (CUDA {v.image_cuda}); "
            f"the fleet's lowest driver is {driver_text(ctx.fleet_driver)}"
        )
        if disabled:
            yield RepoHit(
                base + "; NVIDIA_DISABLE_REQUIRE lets it start, and it runs only through minor-version "
                "compatibility (no PTX JIT)",
                "use an image of a CUDA the fleet's driver supports, or upgrade the fleet's driver",
                svc.image.location,
                svc.name,
                refs,
                Severity.WARNING,
            )
        elif admitted:
            floor = query.mvc_floor(ctx.facts, v.image_cuda.major)
            refs += floor.refs
            compat = bool(v.image and v.image.compat)
            how = (
                "the image's forward-compatibility libraries, which only datacenter GPUs (and select "
                "NGC-ready RTX cards) support; other GPUs fail with CUDA error 804"
                if compat or floor.value is None or ctx.fleet_driver < floor.value
                else "minor-version compatibility (no PTX JIT)"
            )
            yield RepoHit(
                base + f"; its NVIDIA_REQUIRE_CUDA admits that branch ({admitted}), so the container starts, "
                f"and CUDA {v.image_cuda} code then runs there only through {how}",
                "upgrade the fleet's driver to lift the caveat, or use an image of a CUDA the driver "
                "supports",
                svc.image.location,
                svc.name,
                refs,
                Severity.WARNING,
            )
        else:
            yield RepoHit(
                base
                + "; the container toolkit refuses to start it there ('unsatisfied condition: cuda>=…')"
                + (
                    ""
                    if v.image and v.image.require
                    else " unless the image's NVIDIA_REQUIRE_CUDA (not in the knowledge base) admits that "
                    "driver branch"
                ),
                "use an image of a CUDA the fleet's driver supports, or upgrade the fleet's driver first",
                svc.image.location,
                svc.name,
                refs,
            )


def _branch_admitted(require: str | None, driver: Version) -> str | None:
    if not require:
        return None
    for word in require.split():
        m = re.search(r"driver>=(\d+)", word)
        m2 = re.search(r"driver<(\d+)", word)
        if m and m2 and int(m.group(1)) <= driver.major < int(m2.group(1)):
            return f"driver>={m.group(1)},driver<{m2.group(1)}"
    return None
