"""Conditions on host values the user did not state: the stack is judged on every driver branch (or every
known GPU architecture) in turn, and what makes it run becomes the condition.

``check torch==2.6.0+cu124 --gpu T4`` states no driver: rather than ``unknown``, the verdict is decided on
what was stated and the driver becomes a condition (``driver >= 525.60.13``). The same host-dependent rules
the verdict runs decide the condition, so a condition never says more than the rules would.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from packaging.version import Version

from cudalign._dataclass import replace
from cudalign.facts import query
from cudalign.model import ComputeCapability, Condition, DriverInfo, FactRef, Finding, Gpu, Host, Severity
from cudalign.rules.common import Hit, driver_os

if TYPE_CHECKING:
    from cudalign.rules import Context

__all__ = ["cc_ranges", "driver_condition", "gpu_condition"]

DRIVER_RULES = ("CA101", "CA102", "CA103", "CA401", "CA402")
"""The rules whose outcome depends on the driver: a driver condition is what makes them all pass."""
GPU_RULES = ("CA101", "CA103", "CA201", "CA202", "CA203", "CA402")
"""The rules whose outcome depends on the GPU."""


def _judge(ctx: Context, host: Host, codes: tuple[str, ...]) -> list[Finding]:
    from cudalign.rules import ENGINE_RULES, Context

    sub = Context(host, ctx.stack, ctx.facts, ctx.features)
    return [f for r in ENGINE_RULES if r.code in codes for f in r.run(sub)]


def _with_driver(ctx: Context, version: Version) -> Host:
    text = query.driver_text(version)
    top = query.max_cuda_for_driver(ctx.facts, version).value
    drv = DriverInfo(version=text, cuda=str(top) if top is not None else None, source="described")
    return replace(ctx.host, driver=drv)


def _candidates(ctx: Context) -> list[Version]:
    """Drivers worth trying: every branch's first release, the toolkit drivers of the stack's CUDA
    versions, and the GPUs' first drivers."""
    out: set[Version] = set()
    for f in query.facts_of_kind(ctx.facts, "driver_branch"):
        first = query.branch_first_release(ctx.facts, f["branch"]).value
        if first is not None:
            out.add(first)
    for _, cuda in ctx.cuda_needs:
        full = query.min_driver_for_cuda(ctx.facts, query.cuda_minor(cuda), driver_os(ctx.host)).value
        floor = query.mvc_floor(ctx.facts, cuda.major, driver_os(ctx.host)).value
        out.update(v for v in (full, floor) if v is not None)
    for _, fact in ctx.gpus:
        if fact is not None and fact.get("min_driver") is not None:
            out.add(fact["min_driver"])
    return sorted(out)


def _refs(findings: Iterable[Finding]) -> tuple[FactRef, ...]:
    return tuple(dict.fromkeys(r for f in findings for r in f.facts))


def _decided(findings: list[Finding], severity: Severity) -> bool:
    """No finding at or above ``severity`` (undecided findings aside: they say what the facts lack)."""
    return not any(f.severity.rank >= severity.rank and not f.unknown for f in findings)


def driver_condition(ctx: Context) -> Iterator[Hit]:
    """The lowest driver that runs the stack (and the lowest that runs it without caveats) on the stated
    GPUs, with the still-supported branches that do; an error when no driver branch runs it."""
    compat = ctx.host.container.compat_libs
    if not ctx.cuda_needs and not ctx.stack.image and not compat:
        return
    what = (
        ctx.cuda_needs[0][0]
        if ctx.cuda_needs
        else f"image {ctx.stack.image}"
        if ctx.stack.image
        else f"the container's CUDA {ctx.host.container.compat_cuda or '?'} compat libraries"
    )
    minimum: Version | None = None
    full: Version | None = None
    below: list[Finding] = []
    caveats: list[Finding] = []
    last: list[Finding] = []
    for d in _candidates(ctx):
        found = _judge(ctx, _with_driver(ctx, d), DRIVER_RULES)
        last = found
        if minimum is None:
            if not _decided(found, Severity.ERROR):
                below = [f for f in found if f.severity is Severity.ERROR]
                continue
            minimum = d
        if _decided(found, Severity.WARNING):
            full = d
            break
        caveats = caveats or [f for f in found if f.severity is Severity.WARNING]
    if minimum is None:
        errors = [f for f in last if f.severity is Severity.ERROR]
        why = errors[0].message if errors else "every driver branch the knowledge base knows fails"
        yield Hit(
            f"No driver branch runs {what}: even on the newest, {why}",
            errors[0].fix if errors else "Choose another build ('cudalign plan').",
            _refs(errors),
            severity=Severity.ERROR,
        )
        return
    runs = []
    for b in query.supported_branches(ctx.facts).value:
        first = query.branch_first_release(ctx.facts, b).value or Version(str(b))
        if first >= minimum and _decided(_judge(ctx, _with_driver(ctx, first), DRIVER_RULES), Severity.ERROR):
            runs.append(b)
    text = f"driver >= {query.driver_text(minimum)} ({query.branch_text(ctx.facts, minimum)})"
    if full is not None and full != minimum:
        text += f"; >= {query.driver_text(full)} ({query.branch_text(ctx.facts, full)}) without caveats"
    elif full is None:
        text += "; no driver runs it without caveats"
    reasons = below or caveats
    because = f" ({reasons[0].code} {reasons[0].name} below it)" if below else ""
    branches = ", ".join(f"R{b}" for b in runs) or "none"
    yield Hit(
        f"The driver was not given: {what} needs {text}{because}; supported branches that run it: "
        f"{branches}.",
        "Check the host's driver (nvidia-smi) against this, or give --driver VERSION (or a branch, "
        "--driver 580) to judge it.",
        (
            *_refs([*below, *caveats]),
            *(f.ref for f in query.supported_branches(ctx.facts).facts if f["branch"] in runs),
        ),
        severity=Severity.WARNING,
        condition=Condition(
            subject="driver",
            text=text,
            minimum=query.driver_text(minimum),
            full=query.driver_text(full) if full is not None else None,
            branches=tuple(f"R{b}" for b in runs),
        ),
    )


def _known_ccs(ctx: Context) -> list[ComputeCapability]:
    return sorted({f["cc"] for f in query.facts_of_kind(ctx.facts, "gpu")})


def cc_ranges(ccs: Iterable[ComputeCapability], known: list[ComputeCapability]) -> str:
    """``sm_75 to sm_103, sm_120 to sm_121``: runs of consecutive known capabilities, as ranges."""
    have = set(ccs)
    parts: list[list[ComputeCapability]] = []
    prev_in = False
    for cc in known:
        if cc in have:
            if prev_in:
                parts[-1].append(cc)
            else:
                parts.append([cc])
        prev_in = cc in have
    return ", ".join(p[0].sm if len(p) == 1 else f"{p[0].sm} to {p[-1].sm}" for p in parts)


def gpu_condition(ctx: Context) -> Iterator[Hit]:
    """The GPU architectures (of the GPUs the knowledge base knows) that run the stack on the stated
    driver; an error when none does."""
    known = _known_ccs(ctx)
    good: list[ComputeCapability] = []
    refs: list[Finding] = []
    # what fails whatever the GPU (a driver below the CUDA major's floor) is not the GPU's doing
    base = tuple(c for c in GPU_RULES if c != "CA201")  # CA201 on this host is the caller
    anyway = {(f.code, f.message) for f in _judge(ctx, ctx.host, base)}
    for cc in known:
        host = replace(ctx.host, gpus=(Gpu(index=0, name=cc.sm, cc=cc),))
        found = [f for f in _judge(ctx, host, GPU_RULES) if (f.code, f.message) not in anyway]
        if _decided(found, Severity.ERROR):
            good.append(cc)
        else:
            refs.extend(f for f in found if f.severity is Severity.ERROR)
    if not good:
        first = refs[0] if refs else None
        yield Hit(
            "No GPU the knowledge base knows runs it" + (f": {first.message}" if first is not None else "."),
            first.fix if first is not None else "Choose another build ('cudalign plan').",
            _refs(refs[:3]),
            severity=Severity.ERROR,
        )
        return
    ranges = cc_ranges(good, known)

    on = f" on driver {ctx.driver_text}" if ctx.driver is not None else ""
    yield Hit(
        f"No GPU was given: it runs on GPUs {ranges}{on}.",
        "Check the host's GPUs against this (nvidia-smi --query-gpu=name,compute_cap --format=csv), or give "
        "--gpu NAME to judge them.",
        # the build facts first: they say what the build has; arch facts say why old GPUs are out
        tuple(sorted(_refs(refs), key=lambda r: r.id.startswith(("arch.", "gpu."))))[:4],
        severity=Severity.WARNING,
        condition=Condition(subject="gpu", text=f"a GPU of {ranges}", archs=tuple(good)),
    )
