"""Runtime rules: libraries a package loads that nothing provides, and NVSwitch systems without Fabric Manager."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from cudalign.rules.common import Hit

if TYPE_CHECKING:
    from cudalign.rules import Context

__all__ = ["fabric_manager_missing", "library_not_on_path"]

_PROVIDERS = ("nvidia-cublas-cu{m}", "nvidia-cuda-runtime-cu{m}")


def _majors_provided(ctx: Context) -> set[int]:
    out: set[int] = set()
    torch = ctx.stack.component("torch")
    if torch is not None and torch.variant and torch.variant.startswith("cu") and ctx.stack.cuda_runtime:
        out.add(Version(ctx.stack.cuda_runtime).major)
    for tk in ctx.host.cuda_toolkits:
        try:
            out.add(Version(tk).major)
        except InvalidVersion:
            continue
    if ctx.stack.image_cuda and ctx.stack.image and "-base-" not in ctx.stack.image:
        out.add(Version(ctx.stack.image_cuda).major)
    for p in ctx.host.packages:
        for m in (11, 12, 13):
            if p.name in (t.format(m=m) for t in _PROVIDERS):
                out.add(m)
        if p.name in ("nvidia-cublas", "nvidia-cuda-runtime"):
            try:
                out.add(Version(p.version).major)
            except InvalidVersion:
                pass
    return out


def library_not_on_path(ctx: Context) -> Iterator[Hit]:
    """A package loads CUDA libraries (cuBLAS, cuDNN of a CUDA major) that nothing in the stack or host provides.

    **What it checks.** Neighbouring packages that link the CUDA libraries dynamically instead of
    bringing them (CTranslate2, onnxruntime-gpu, per ``package_build.cuda_major``): is there a provider of
    that major: torch's CUDA variant and its ``nvidia-*`` wheels, installed ``nvidia-cublas-cuXX``
    wheels, a system CUDA toolkit, or a CUDA runtime image?

    **Why.** The package imports, then fails at first use: ``Library libcublas.so.12 is not found or
    cannot be loaded`` (faster-whisper), ``Failed to load libonnxruntime_providers_cuda.so``.

    **How to fix.** Install the libraries as wheels (``pip install nvidia-cublas-cu12 nvidia-cudnn-cu12==9.*``)
    and put their ``lib`` directories on ``LD_LIBRARY_PATH``, or use a ``nvidia/cuda:<major>.x-cudnn-runtime`` image.

    **Example.** faster-whisper (ctranslate2 4.6, CUDA 12) next to torch 2.11 (CUDA 13): fails.
    """
    provided = _majors_provided(ctx)
    for c in ctx.stack.components:
        if c.name in (
            "torch",
            "vllm",
            "xformers",
            "torchvision",
            "torchaudio",
            "flashinfer-python",
            "flash-attn",
        ):
            continue
        for ref in c.facts:
            if ref.id not in ctx.facts:
                continue
            f = ctx.facts.get(ref.id)
            major = f.get("cuda_major") if f.kind == "package_build" else None
            if major is None or major in provided:
                continue
            if ctx.host.origin == "described" and not provided:
                yield Hit(
                    f"{c.name} {c.version} loads CUDA {major} libraries (libcublas.so.{major}); whether the host "
                    "provides them is not described.",
                    f"Add nvidia-cublas-cu{major} (and cuDNN) wheels to the stack, or check the host's CUDA toolkit.",
                    (ref,),
                    unknown=f"system CUDA {major} libraries",
                )
                continue
            yield Hit(
                f"{c.name} {c.version} loads CUDA {major} libraries (libcublas.so.{major}), and nothing in this stack "
                f"provides CUDA {major} (provided: {', '.join(map(str, sorted(provided))) or 'none'}).",
                f"pip install nvidia-cublas-cu{major} nvidia-cudnn-cu{major} and put their lib directories on "
                f"LD_LIBRARY_PATH, or use a CUDA {major} runtime image.",
                (ref,),
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
        f"This host has NVSwitches but Fabric Manager is {state or 'not reported'}: CUDA fails with error 802 "
        "(system not yet initialized).",
        f"Install nvidia-fabricmanager matching driver {ctx.host.driver.version if ctx.host.driver else ''} and "
        "run 'systemctl enable --now nvidia-fabricmanager'.",
    )
