"""Runtime rules: libraries a package loads that nothing provides; NVSwitch systems without Fabric Manager."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from cudalign.model import Severity
from cudalign.rules.common import Hit, cuda_majors_provided, cudnn_majors_provided, neighbour_needs

if TYPE_CHECKING:
    from cudalign.rules import Context

__all__ = ["fabric_manager_missing", "library_not_on_path"]


def library_not_on_path(ctx: Context) -> Iterator[Hit]:
    """A package loads CUDA libraries (cuBLAS, cuDNN of a CUDA major) that nothing in the stack provides.

    **What it checks.** Neighbouring packages that link the CUDA libraries dynamically instead of
    bringing them (CTranslate2, onnxruntime-gpu, per ``package_build.cuda_major``): is there a provider of
    that major: torch's CUDA variant and its ``nvidia-*`` wheels, installed ``nvidia-cublas-cuXX``
    wheels, a system CUDA toolkit, or a CUDA runtime image?

    **Why.** The package imports, then fails at first use: ``Library libcublas.so.12 is not found or
    cannot be loaded`` (faster-whisper), ``Failed to load libonnxruntime_providers_cuda.so``.

    In an image whose tag names its flavour the answer is no guess: ``nvidia/cuda``'s ``-base`` images
    hold no CUDA libraries and its ``-runtime``/``-devel`` images without ``cudnn`` hold no cuDNN, so a
    package that loads them there fails (error), where on a described host it is a warning.

    **How to fix.** Install the libraries as wheels (``pip install nvidia-cublas-cu12
    nvidia-cudnn-cu12==9.*``) and put their ``lib`` directories on ``LD_LIBRARY_PATH``, or use a
    ``nvidia/cuda:<major>.x-cudnn-runtime`` image.

    **Example.** faster-whisper (ctranslate2 4.6, CUDA 12) next to torch 2.11 (CUDA 13): fails;
    faster-whisper 1.0.3 (ctranslate2 4.4, cuDNN 8) in ``nvidia/cuda:12.0.0-runtime-ubuntu22.04``: fails.
    """
    # an image whose tag names its flavour says what it holds: its contents are no guess about the host
    in_image = bool(ctx.stack.image and ctx.stack.image_cuda)
    yield from _cudnn_not_in_image(ctx)
    provided = cuda_majors_provided(ctx)
    if provided:
        return  # another CUDA major is present: cuda-major-mismatch / cuda-library-mismatch say so
    for c, f in neighbour_needs(ctx):
        major = f.get("cuda_major")
        if major is None:
            continue
        described = ctx.host.origin == "described" and not in_image
        yield Hit(
            f"{c.name} {c.version} loads CUDA {major} libraries (libcublas.so.{major}) that pip does not "
            "install with "
            f"it, and {'the described host does not say it has them' if described else 'none were found'}.",
            f"pip install nvidia-cublas-cu{major} nvidia-cudnn-cu{major} and put their lib directories on "
            f"LD_LIBRARY_PATH, or use a CUDA {major} runtime image.",
            (f.ref,),
            severity=Severity.WARNING if described else None,
        )


def _cudnn_not_in_image(ctx: Context) -> Iterator[Hit]:
    """A package needs cuDNN, the stack runs in an image whose flavour has none (``nvidia/cuda:…-runtime``,
    ``-base``, ``-devel`` without ``cudnn``), and nothing else (torch, an ``nvidia-cudnn`` wheel, the
    host) provides it."""
    if ctx.stack.cudnn != "" or not ctx.stack.image or cudnn_majors_provided(ctx):
        return
    for c, f in neighbour_needs(ctx):
        need = f.get("cudnn_major")
        if need is None:
            continue
        cuda = f.get("cuda_major") or (ctx.stack.image_cuda or "").split(".", 1)[0]
        yield Hit(
            f"{c.name} {c.version} loads cuDNN {need} (libcudnn*.so.{need}), and {ctx.stack.image} is a "
            "flavour without cuDNN: nothing in the stack provides it (Could not load library "
            f"libcudnn_ops*.so.{need}).",
            f"Use the image's cudnn flavour (a '-cudnn-runtime' tag of the same CUDA), or pip install "
            f"nvidia-cudnn-cu{cuda}=={need}.* and put its lib directory on LD_LIBRARY_PATH.",
            (f.ref,),
        )


def fabric_manager_missing(ctx: Context) -> Iterator[Hit]:
    """An NVSwitch system (HGX/DGX) whose NVIDIA Fabric Manager is not running.

    **What it checks.** The probe saw NVSwitches and Fabric Manager's state is not ``running``.

    **Why.** On NVSwitch systems CUDA initialisation fails until Fabric Manager has configured the
    fabric: ``cudaErrorSystemNotReady`` (error 802, "system not yet initialized").

    **How to fix.** Install ``nvidia-fabricmanager-<branch>`` matching the driver exactly and
    ``systemctl enable --now nvidia-fabricmanager``.

    **Example.** An 8x H100 SXM host after a driver upgrade without the matching fabric manager: fails.
    """
    if not ctx.host.nvswitch:
        return
    state = (ctx.host.fabric_manager or "").lower()
    if state in ("running", "n/a", "success", "completed"):
        return
    yield Hit(
        f"This host has NVSwitches but Fabric Manager is {state or 'not reported'}: CUDA fails with error "
        "802 "
        "(system not yet initialized).",
        f"Install nvidia-fabricmanager matching driver {ctx.host.driver.version if ctx.host.driver else ''} "
        "and "
        "run 'systemctl enable --now nvidia-fabricmanager'.",
    )
