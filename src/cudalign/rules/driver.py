"""Driver rules: the driver against the stack's CUDA, PTX JIT, missing or mismatched drivers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from packaging.version import Version

from cudalign.facts import query
from cudalign.facts.query import driver_text
from cudalign.model import ComputeCapability, Severity
from cudalign.rules.common import Hit, driver_os, jit_only, label, topic_refs

if TYPE_CHECKING:
    from cudalign.rules import Context

__all__ = [
    "driver_too_old",
    "minor_version_compat",
    "no_driver",
    "nvml_driver_mismatch",
    "ptx_jit_unsupported",
]


def _upgrade(ctx: Context, need: Version) -> tuple[str, Version]:
    """``>= 580.65.06 (R580; R575 from 575.51.03 would do but is end-of-life)``: the driver to upgrade to,
    on a branch NVIDIA still supports, and the version recommended."""
    rec = query.recommended_driver(ctx.facts, need).value
    if rec is None or rec.major == need.major:
        return f">= {driver_text(need)} ({query.branch_text(ctx.facts, need)})", need
    return (
        f">= {driver_text(rec)} (R{rec.major}; R{need.major} from {driver_text(need)} would do but is "
        "end-of-life)",
        rec,
    )


def _no_mvc(floor: query.Answer[Version | None]) -> bool:
    """The major of this floor has no minor-version compatibility (10.x): each release needs its driver."""
    return any(f.get("minor_version_compat") is False for f in floor.facts)


def driver_too_old(ctx: Context) -> Iterator[Hit]:
    """The driver is older than any driver that can run the stack's CUDA major, or than the GPU needs
    (or is of a branch after the last one that supports the GPU's architecture).

    **What it checks.** For each part of the stack with compiled CUDA code (torch's runtime from its
    variant, vLLM's wheel, neighbouring packages), the host driver against the minor-version-compatibility
    floor of that CUDA major (``cuda_major`` facts: 12.x needs >= 525.60.13, 13.x >= 580.65.06), unless the
    driver is at least the one that CUDA minor shipped with (``toolkit`` facts: CUDA 11.0 runs natively from
    450.36.06, below the 11.x floor 450.80.02). It also
    checks each GPU's first supported driver (``gpu.min_driver``) and the last branch for its
    architecture (``driver_branch.last_for``: R580 is the last for Maxwell, Pascal and Volta).

    **Why.** Below the floor of a major nothing of that major runs: ``CUDA driver version is insufficient
    for CUDA runtime version`` (cudaErrorInsufficientDriver, error 35). A GPU newer than the driver is not
    even listed by ``nvidia-smi``.

    **How to fix.** Upgrade the driver to at least the named version (``cudalign runbook --driver
    <branch>``), or choose builds for a CUDA major the driver supports
    (``cudalign plan … --no-driver-change``).

    **Example.** torch 2.11 (PyPI, CUDA 13.0) on driver 575.57.08: fails; torch 2.10 (cu128) runs.
    """
    if ctx.driver is None:
        return
    d = ctx.driver
    user = ctx.user_driver or d
    for what, cuda in ctx.cuda_needs:
        floor = query.mvc_floor(ctx.facts, cuda.major, driver_os(ctx.host))
        if floor.value is None:
            yield Hit(
                f"No fact gives the lowest driver for CUDA {cuda.major}.x ({what}).",
                "Add a cuda_major fact or run 'cudalign facts update'.",
                unknown=f"cuda_major fact for CUDA {cuda.major}",
            )
            continue
        if _no_mvc(floor):
            need = query.min_driver_for_cuda(ctx.facts, query.cuda_minor(cuda), driver_os(ctx.host))
            if need.value is not None and user < need.value:
                upgrade, target = _upgrade(ctx, need.value)
                yield Hit(
                    f"{what} needs CUDA {query.cuda_minor(cuda)}, whose driver is >= "
                    f"{driver_text(need.value)}; {ctx.user_driver_text} is older, and CUDA "
                    f"{cuda.major}.x has no minor-version compatibility (host CUDA {ctx.user_cuda or '?'}).",
                    f"Upgrade the driver to {upgrade} ('cudalign runbook --driver {target.major}'), or "
                    f"choose builds for CUDA {ctx.host_cuda.value or 'the driver supports'}.",
                    (*need.refs, *floor.refs, *ctx.host_cuda.refs),
                )
            continue
        if user < floor.value:
            need = query.min_driver_for_cuda(ctx.facts, query.cuda_minor(cuda), driver_os(ctx.host))
            if need.value is not None and user >= need.value:
                continue  # below the major's compatibility floor, but at least this minor's own driver (11.0)
            upgrade, target = _upgrade(ctx, need.value or floor.value)
            yield Hit(
                f"{what} needs CUDA {cuda}, but {ctx.user_driver_text} is older than "
                f"{driver_text(floor.value)}, the lowest driver for any "
                f"CUDA {cuda.major}.x (host CUDA {ctx.user_cuda or '?'}).",
                f"Upgrade the driver to {upgrade} ('cudalign runbook --driver {target.major}'), or choose "
                f"builds for CUDA {ctx.host_cuda.value or 'the driver supports'}.",
                (*floor.refs, *need.refs, *ctx.host_cuda.refs),
            )
    for gpu, fact in ctx.gpus:
        last = query.last_branch_for(ctx.facts, fact)
        after = query.next_branch_first_release(ctx.facts, last.value) if last.value is not None else None
        # compared with the next branch's first release, not the major number: Windows numbers R580 58x.xx
        if last.value is not None and after is not None and d >= after:
            yield Hit(
                f"Driver {ctx.driver_text} (after R{last.value}) no longer supports {gpu.name}: "
                f"R{last.value} is the last driver branch for {fact['arch'] if fact else 'its'} GPUs.",
                f"Stay on (or go back to) R{last.value} ('cudalign runbook --driver {last.value}').",
                (*last.refs, *((fact.ref,) if fact is not None else ())),
            )
        if fact is None or fact.get("min_driver") is None:
            continue
        if d < fact["min_driver"]:
            upgrade, target = _upgrade(ctx, fact["min_driver"])
            yield Hit(
                f"{gpu.name} needs driver >= {driver_text(fact['min_driver'])}; driver {ctx.driver_text} "
                "does not support it.",
                f"Upgrade the driver to {upgrade} ('cudalign runbook --driver {target.major}').",
                (fact.ref,),
            )


def minor_version_compat(ctx: Context) -> Iterator[Hit]:
    """The stack's CUDA is newer than the driver's, within one major: it runs through minor-version compat.

    **What it checks.** For each part of the stack with compiled CUDA code whose CUDA minor is newer than
    the driver supports, while the driver is at or above the major's floor (12.x: 525.60.13).

    **Why.** NVIDIA's minor-version compatibility lets a 12.8 runtime run on a 12.4 (R550) driver "with a
    limited feature-set": APIs newer than the driver return ``cudaErrorCallRequiresNewerDriver``, and PTX
    produced by the newer toolkit cannot be JIT-compiled (see ``ptx-jit-unsupported``). This is a caveat,
    not a failure: ordinary kernels with machine code for the GPU run.

    **How to fix.** Nothing is required. To lift the caveat, upgrade the driver to the toolkit's own
    driver (the message names it), or pick a build for the driver's CUDA.

    **Example.** torch 2.9.0 (PyPI, cu128) on driver 550.107.02 (CUDA 12.4): caveats.
    """
    if ctx.driver is None:
        return
    d = ctx.user_driver or ctx.driver
    for what, cuda in ctx.cuda_needs:
        floor = query.mvc_floor(ctx.facts, cuda.major, driver_os(ctx.host))
        if floor.value is None or d < floor.value or _no_mvc(floor):
            continue  # below the floor, or a major without MVC: driver-too-old's
        need = query.min_driver_for_cuda(ctx.facts, query.cuda_minor(cuda), driver_os(ctx.host))
        if need.value is None:
            yield Hit(
                f"No toolkit fact gives the driver CUDA {query.cuda_minor(cuda)} needs ({what}).",
                "Add the toolkit's release-notes driver to the knowledge base or run 'cudalign facts "
                "update'.",
                floor.refs,
                unknown=f"toolkit fact for CUDA {query.cuda_minor(cuda)}",
            )
            continue
        if d < need.value:
            yield Hit(
                f"{what} is built with CUDA {query.cuda_minor(cuda)} but {ctx.user_driver_text} supports "
                "CUDA "
                f"{ctx.user_cuda or '?'}: it runs through minor-version compatibility (limited "
                "features, "
                f"no PTX JIT of CUDA {query.cuda_minor(cuda)} code).",
                "Fine to run as is; to lift the caveat upgrade the driver to "
                f"{_upgrade(ctx, need.value)[0]}.",
                (*need.refs, *floor.refs, *topic_refs(ctx.facts, "cuda.rule.minor-version-compatibility")),
            )


def ptx_jit_unsupported(ctx: Context) -> Iterator[Hit]:
    """A GPU runs part of the stack only through PTX that the driver is too old to JIT-compile.

    **What it checks.** For each GPU and each build with an architecture list (torch, vLLM): when the GPU
    has no machine code (SASS) in the build but PTX it can JIT, the driver must be at least the driver of
    the toolkit that produced the PTX (CUDA 12.9 PTX needs R575 / 575.51.03).

    **Why.** Minor-version compatibility does not cover PTX: an older driver's JIT rejects newer PTX with
    ``cudaErrorUnsupportedPtxVersion`` ("the provided PTX was compiled with an unsupported toolchain").

    **How to fix.** Upgrade the driver to the named version, or use a build with machine code for the
    GPU's architecture.

    **Example.** A GPU covered only by ``12.0+PTX`` of a CUDA 12.9 build, on driver 570: fails.
    """
    if ctx.driver is None:
        return
    builds: list[tuple[str, str | None, tuple[ComputeCapability, ...], tuple[ComputeCapability, ...]]] = []
    torch = ctx.stack.component("torch")
    if torch is not None and ctx.stack.archs:
        builds.append((f"torch {label(torch)}", ctx.stack.cuda_runtime, ctx.stack.archs, ctx.stack.ptx))
    for c in ctx.stack.components:
        if c.name != "torch" and c.archs:
            builds.append((f"{c.name} {c.version}", c.cuda, c.archs, c.ptx))
        for ref in c.facts:
            kf = ctx.facts.get(ref.id) if ref.id in ctx.facts else None
            if kf is not None and kf.kind == "package_build" and kf.get("component") and kf.get("ptx"):
                what = f"{c.name} {c.version} {kf['component']}"
                builds.append((what, c.cuda, tuple(kf.get("archs", ())), tuple(kf["ptx"])))
    for gpu, fact in ctx.gpus:
        cc = ctx.cc_of(gpu, fact)
        if cc is None:
            continue
        for what, cuda, archs, ptx in builds:
            if not jit_only(cc, archs, ptx) or cuda is None:
                continue
            need = query.min_driver_for_cuda(ctx.facts, query.cuda_minor(Version(cuda)), driver_os(ctx.host))
            if need.value is None:
                yield Hit(
                    f"{gpu.name} runs {what} through PTX JIT, and no fact gives the driver CUDA {cuda} PTX "
                    "needs.",
                    "Add the toolkit fact, or upgrade the driver to the toolkit's own driver.",
                    unknown=f"toolkit fact for CUDA {cuda}",
                )
            elif (ctx.user_driver or ctx.driver) < need.value:
                refs = tuple(
                    r for c in ctx.stack.components for r in c.facts if what.startswith(f"{c.name} ")
                )
                yield Hit(
                    f"{gpu.name} ({cc.sm}) has no machine code in {what}, only CUDA {cuda} PTX, which "
                    f"{ctx.user_driver_text} cannot JIT-compile (cudaErrorUnsupportedPtxVersion).",
                    f"Upgrade the driver to {_upgrade(ctx, need.value)[0]}, or use a build with {cc.sm} "
                    "machine code.",
                    (*refs, *need.refs, *topic_refs(ctx.facts, "cuda.rule.ptx-jit-not-covered")),
                )


def no_driver(ctx: Context) -> Iterator[Hit]:
    """No NVIDIA driver on a host whose stack needs one; on a described host, the driver it needs.

    **What it checks.** The stack has CUDA code and the host has no driver: the probe found none
    (error). A described host given without ``--driver`` is judged on what was stated, and the driver
    becomes a condition: every driver branch's first release is tried in turn with the driver rules
    (CA101-CA103, CA401, CA402), and the lowest that runs the stack, the lowest that runs it without
    caveats and the still-supported branches that do are the condition (verdict ``caveats``). When no
    branch runs it, that is an error.

    **Why.** Without the driver, ``torch.cuda.is_available()`` is False and CUDA calls fail with
    ``Found no NVIDIA driver on your system``.

    **How to fix.** Install the NVIDIA driver (the message names the lowest that runs the stack), or pass
    ``--driver VERSION`` (or a branch, ``--driver 580``) when describing a host.

    **Example.** ``cudalign check torch==2.6.0+cu124 --gpu T4``: caveats, needs driver >= 525.60.13
    (>= 550.54.14 without caveats).
    """
    if ctx.host.driver is not None and ctx.host.driver.version:
        return
    compat = ctx.stack.image or ctx.host.container.compat_libs
    if not ctx.cuda_needs and not (ctx.host.origin == "described" and compat):
        return
    if ctx.host.origin == "described":
        from cudalign.rules.conditions import driver_condition

        yield from driver_condition(ctx)
        return
    what, cuda = ctx.cuda_needs[0]
    need = query.min_driver_for_cuda(ctx.facts, query.cuda_minor(cuda), driver_os(ctx.host))
    reason = ctx.host.unknown.get("driver", "no NVIDIA driver found")
    yield Hit(
        f"{what} needs an NVIDIA driver, and this host has none ({reason}).",
        "Install the NVIDIA driver >= "
        f"{driver_text(need.value) if need.value else 'of a branch that supports CUDA ' + str(cuda)}.",
        need.refs,
        severity=Severity.ERROR,
    )


def nvml_driver_mismatch(ctx: Context) -> Iterator[Hit]:
    """The loaded kernel module and the user-space driver libraries are different versions.

    **What it checks.** The probe saw NVML answer "Driver/library version mismatch".

    **Why.** After a driver package upgrade without a reboot the old kernel module stays loaded; every
    CUDA program then fails to initialise (``nvidia-smi``: "Failed to initialize NVML: Driver/library
    version mismatch").

    **How to fix.** Reboot, or unload and reload the ``nvidia`` kernel modules with no GPU process running.

    **Example.** Module 550.90.07 loaded, libraries 550.127.05 installed: fails until reboot.
    """
    drv = ctx.host.driver
    if drv is None or not drv.nvml_mismatch:
        return
    lib = f" vs user-space {drv.library_version}" if drv.library_version else ""
    yield Hit(
        f"NVML reports a driver/library version mismatch (kernel module {drv.version or '?'}{lib}): "
        "no CUDA program can start.",
        "Reboot (or reload the nvidia kernel modules with no GPU process running) so the module matches the "
        "libraries.",
    )
