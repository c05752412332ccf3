"""Image rules: NVIDIA_REQUIRE_CUDA against the host driver, forward-compat libraries, GPU access."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from cudalign.facts import query
from cudalign.model import Condition, FactRef, Severity
from cudalign.rules.common import Hit, topic_refs

if TYPE_CHECKING:
    from cudalign.rules import Context

__all__ = [
    "container_no_gpu",
    "forward_compat_unsupported",
    "image_platform_missing",
    "image_requires_newer_driver",
]


def _image_refs(ctx: Context) -> tuple[FactRef, ...]:
    return tuple(
        r
        for r in ctx.stack.facts
        if r.id in ctx.facts and ctx.facts.get(r.id).kind in ("image_family", "image_require", "vllm_series")
    )


def _brands(ctx: Context) -> frozenset[str]:
    """Brands every GPU of the host reports (a clause must hold for all of them)."""
    sets = [query.gpu_brands(ctx.facts, f).value for _, f in ctx.gpus]
    if not sets or any(not s for s in sets):
        return frozenset()
    out = sets[0]
    for s in sets[1:]:
        out &= s
    return out or frozenset({"none"})


def require_outcome(ctx: Context) -> tuple[bool | None, bool]:
    """(the requirement holds, it holds only through a brand/driver clause) for the stack's image."""
    text = ctx.stack.image_require
    if not text:
        return None, False
    return _require_outcome(text, ctx.host_cuda.value, ctx.driver, _brands(ctx))


@lru_cache(maxsize=1024)
def _require_outcome(
    text: str, cuda: Version | None, driver: Version | None, brands: frozenset[str]
) -> tuple[bool | None, bool]:
    """:func:`require_outcome` of a requirement on a host's CUDA, driver and brands: once per such four (an
    image's requirement has dozens of brand clauses, and a plan asks about the same image many times)."""
    clauses = query.parse_require(text)
    results = [query.require_satisfied(c, cuda=cuda, driver=driver, brands=brands) for c in clauses]
    if any(r is True for r in results):
        by_cuda = any(
            r is True and all(k == "cuda" for k, _, _ in c.conditions)
            for c, r in zip(clauses, results, strict=True)
        )
        return True, not by_cuda
    if any(r is None for r in results):
        return None, False
    return False, False


def image_requires_newer_driver(ctx: Context) -> Iterator[Hit]:
    """The image's ``NVIDIA_REQUIRE_CUDA`` is not met by the host driver: the container will not start.

    **What it checks.** The image's requirement (from ``image_require`` facts for its CUDA version), the
    way ``nvidia-container-cli`` evaluates it: space-separated clauses are ORed, comma-separated conditions
    ANDed; ``cuda>=X.Y`` is compared with the CUDA version of the host driver (not with minor-version
    compatibility); ``brand=…,driver>=B,driver<B+1`` clauses admit older driver branches of those brands.

    **Why.** Docker answers ``nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.9``
    and the container never starts. ``NVIDIA_DISABLE_REQUIRE=1`` (set by the image's config, read with
    ``--registry``, or in the container's environment) skips the check but not the problem: the container
    starts, and its CUDA calls fail instead: error 35 (``CUDA driver version is insufficient for CUDA
    runtime version``) without compat libraries, 804 (``forward compatibility was attempted on non
    supported HW``) with them on a GPU without forward compatibility, 803 (``system has unsupported
    display driver / cuda driver combination``) with them on a driver branch they do not support.

    **How to fix.** Upgrade the driver to the branch the image's CUDA needs, or use an image built for the
    driver's CUDA (an older tag, or a ``nvidia/cuda:<driver's CUDA>`` base).

    **Example.** ``vllm/vllm-openai:v0.13.0`` (CUDA 12.9) on a GeForce host with driver 550 (CUDA 12.4):
    fails.
    """
    if not ctx.stack.image:
        return
    moving = ctx.stack.unknown.get("image_channel")
    if moving:
        yield Hit(moving + ".", "Pin the image to a release tag so the verdict stays true.", _image_refs(ctx),
                  severity=Severity.INFO)  # fmt: skip
    disabled = ctx.host.container.nvidia_disable_require or ctx.stack.image_require_disabled
    if disabled and not ctx.stack.image_require:
        return  # nothing is checked, and what the image needs is not known: the driver rules judge
    if "image_tag" in ctx.stack.unknown:
        return  # the registry has no such image: the unknown-release rule says so
    if ctx.stack.image_require == "":
        return  # the image sets no requirement: it starts on any driver; the driver rules judge its CUDA
    if not ctx.stack.image_require:
        reason = (
            ctx.stack.unknown.get("image_require") or ctx.stack.unknown.get("image") or "image_require fact"
        )
        yield Hit(
            f"The NVIDIA_REQUIRE_CUDA of {ctx.stack.image} is not known.",
            "Add its image facts, or check the image with 'docker inspect'.",
            _image_refs(ctx),
            unknown=reason,
        )
        return
    if ctx.driver is None:
        return
    holds, _ = require_outcome(ctx)
    cuda_clause = next(
        (
            str(c)
            for c in query.parse_require(ctx.stack.image_require)
            if any(k == "cuda" for k, _, _ in c.conditions)
        ),
        ctx.stack.image_require.split()[0],
    )
    partial = ctx.stack.unknown.get("image_require_brands")
    if holds is None and not ctx.gpus:
        yield _brand_condition(ctx, cuda_clause)
    elif holds is None:
        yield Hit(
            f"Whether {ctx.stack.image} starts on driver {ctx.driver_text} depends on the GPU brand, which "
            "is not known.",
            "Describe the GPUs with --gpu NAME so their brand is known.",
            _image_refs(ctx),
            unknown="GPU brand (gpu fact segment)",
        )
    elif holds is False and partial and not disabled:
        yield Hit(
            f"{ctx.stack.image} requires {cuda_clause}, which driver {ctx.driver_text} (CUDA "
            f"{ctx.host_cuda.value or '?'}) does not meet; whether a brand/driver clause of its "
            "NVIDIA_REQUIRE_CUDA admits this driver branch is not known.",
            "Check the image with 'docker inspect' (Env NVIDIA_REQUIRE_CUDA), read it with --registry, or "
            "upgrade the driver to one that supports the image's CUDA.",
            (*_image_refs(ctx), *topic_refs(ctx.facts, "image.require-unknown-versions")),
            unknown=partial,
        )
    elif holds is False and disabled:
        yield _starts_but_fails(ctx, cuda_clause)
    elif holds is False:
        need = query.min_driver_for_cuda(
            ctx.facts, query.cuda_minor(ctx.stack.image_cuda or cuda_clause.split(">=")[-1])
        )
        target = (
            f">= {query.driver_text(need.value)} (R{need.value.major})"
            if need.value is not None
            else "of a newer branch"
        )
        yield Hit(
            f"{ctx.stack.image} requires {cuda_clause}, but driver {ctx.driver_text} supports CUDA "
            f"{ctx.host_cuda.value or '?'} and no brand/driver clause admits it: the container will not "
            "start "
            f"(unsatisfied condition: {cuda_clause}).",
            f"Upgrade the driver {target}, or use an image built for CUDA "
            f"{ctx.host_cuda.value or 'the driver supports'}.",
            (
                *_image_refs(ctx),
                *need.refs,
                *ctx.host_cuda.refs,
                *topic_refs(ctx.facts, "cuda.rule.require-cuda"),
            ),
        )


def _brand_condition(ctx: Context, clause: str) -> Hit:
    """No GPU given, and the driver starts the image only through a brand clause: the brands it admits on
    this driver branch become the condition."""
    assert ctx.driver is not None and ctx.stack.image_require
    cuda = ctx.host_cuda.value
    admitted = sorted(
        {
            v.lower()
            for c in query.parse_require(ctx.stack.image_require)
            for k, op, v in c.conditions
            if k == "brand"
            and op in ("=", "==")
            and query.require_satisfied(c, cuda=cuda, driver=ctx.driver, brands=frozenset({v.lower()}))
        }
    )
    names = ", ".join(admitted) or "none"
    return Hit(
        f"No GPU was given: {ctx.stack.image} requires {clause}, which driver {ctx.driver_text} (CUDA "
        f"{ctx.host_cuda.value or '?'}) does not meet, so the container starts only on a GPU whose brand "
        f"its NVIDIA_REQUIRE_CUDA admits on R{ctx.driver.major}: {names}.",
        "Check the GPUs' brand (nvidia-smi -q | grep 'Product Brand'), or give --gpu NAME to judge them; "
        "a GeForce card needs a driver that supports the image's CUDA.",
        _image_refs(ctx),
        severity=Severity.INFO,  # the condition makes the verdict caveats; the image is not at fault
        condition=Condition(subject="gpu", text=f"a GPU of brand {names} (its NVIDIA_REQUIRE_CUDA)"),
    )


def _starts_but_fails(ctx: Context, clause: str) -> Hit:
    """``NVIDIA_DISABLE_REQUIRE`` set and the requirement unmet: which CUDA error the first call gives."""
    where = "the image sets" if ctx.stack.image_require_disabled else "the container's environment sets"
    if ctx.stack.image_compat:
        no_fc = sorted({g.name for g, f in ctx.gpus if f is None or f.get("forward_compat") is not True})
        error = (
            f"error 804 (forward compatibility was attempted on non supported HW): {', '.join(no_fc)} "
            "does not support forward compatibility"
            if no_fc
            else f"error 803 (system has unsupported display driver / cuda driver combination): the image's "
            f"compat libraries do not support driver {ctx.driver_text}"
        )
    else:
        error = (
            "error 35 (CUDA driver version is insufficient for CUDA runtime version): the image has no "
            "compat libraries"
        )
    need = query.min_driver_for_cuda(
        ctx.facts, query.cuda_minor(ctx.stack.image_cuda or clause.split(">=")[-1])
    )
    target = f">= {query.driver_text(need.value)}" if need.value is not None else "of a newer branch"
    return Hit(
        f"{ctx.stack.image} requires {clause}, which driver {ctx.driver_text} (CUDA "
        f"{ctx.host_cuda.value or '?'}) does not meet, but {where} NVIDIA_DISABLE_REQUIRE, so the "
        f"container starts and its CUDA calls fail: {error}.",
        f"Upgrade the driver {target}, or use an image built for CUDA "
        f"{ctx.host_cuda.value or 'the driver supports'}; NVIDIA_DISABLE_REQUIRE only hides the check.",
        (
            *_image_refs(ctx),
            *need.refs,
            *topic_refs(ctx.facts, "image.disable-require"),
            *topic_refs(ctx.facts, "cuda.rule.forward-compatibility"),
        ),
    )


def forward_compat_unsupported(ctx: Context) -> Iterator[Hit]:
    """Forward-compat libraries (``cuda-compat``) on a GPU they do not support, or shadowing a newer driver.

    **What it checks.** When the image's CUDA is newer than the host driver's and the image puts
    ``cuda-compat`` libraries on the loader path, each GPU's ``forward_compat`` fact (data-center GPUs and
    select NGC-ready RTX cards only; never GeForce). Inside a container, compat libraries older than the
    host driver.

    **Why.** On an unsupported GPU the compat ``libcuda`` fails: ``CUDA error 804: forward compatibility
    was attempted on non supported HW``; compat libraries older than the host's kernel driver give
    ``error 803: system has unsupported display driver / cuda driver combination``.

    **How to fix.** Upgrade the host driver to the image's CUDA branch (then compat is not used), or take
    ``/usr/local/cuda/compat`` off the loader path so minor-version compatibility applies within the major.

    On a GPU that supports it (data-center GPUs), the container runs through forward compatibility: this
    rule then tells so (info), and the driver rules judge the stack against the compat libraries' driver.

    **Example.** ``vllm/vllm-openai:v0.13.0`` (CUDA 12.9) on an RTX 4090 with driver 550: fails; on an
    H100 with driver 535: runs through forward compatibility (info).
    """
    hc = ctx.host_cuda.value
    container = ctx.host.container
    if container.compat_libs and container.compat_cuda and hc is not None:
        try:
            compat = query.cuda_minor(Version(container.compat_cuda))
        except InvalidVersion:
            compat = None
        if compat is not None and compat < hc:
            yield Hit(
                f"The container's compat libraries (CUDA {compat}) are older than the host driver (CUDA "
                f"{hc}) and "
                "shadow it (CUDA error 803).",
                "Remove /usr/local/cuda/compat from the loader path (LD_LIBRARY_PATH, ld.so.conf.d) in the "
                "image.",
                topic_refs(ctx.facts, "cuda.rule.forward-compatibility"),
            )
            return
    image_cuda = None
    if ctx.stack.image and ctx.stack.image_compat and ctx.stack.image_cuda:
        image_cuda = query.cuda_minor(ctx.stack.image_cuda)
    elif container.compat_libs and container.compat_cuda:
        try:
            image_cuda = query.cuda_minor(container.compat_cuda)
        except InvalidVersion:
            image_cuda = None
    if image_cuda is None or hc is None or image_cuda <= hc:
        return
    starts = ""
    if ctx.stack.image and ctx.stack.image_require:
        holds, by_brand = require_outcome(ctx)
        if holds is False and "image_require_brands" not in ctx.stack.unknown:
            return  # the container does not start at all: image-requires-newer-driver
        if by_brand:
            branch = f"R{ctx.driver.major}" if ctx.driver else "this driver"
            starts = f"NVIDIA_REQUIRE_CUDA admits {branch} by its brand clause, so the container starts: "
    if ctx.compat_cuda is not None:
        names = ", ".join(sorted({g.name for g, _ in ctx.gpus}))
        yield Hit(
            f"{starts + 'the' if starts else 'The'} stack runs through forward compatibility: the image's "
            f"CUDA {image_cuda} compat libraries over driver {ctx.driver_text} (CUDA {hc}), which {names} "
            "supports.",
            f"Fine to run; keep the host on a branch the compat package supports, or upgrade the driver to "
            f"the CUDA {image_cuda} branch to stop depending on it.",
            (
                *(f.ref for _, f in ctx.gpus if f is not None),
                *topic_refs(ctx.facts, "cuda.rule.forward-compatibility"),
            ),
            severity=Severity.INFO,
        )
        return
    for gpu, fact in ctx.gpus:
        if fact is None or fact.get("forward_compat") is None:
            # NVIDIA names data-center GPUs, Jetson and "select NGC Server Ready SKUs of RTX cards"
            # without listing the SKUs: no source says for this one, so it may work or fail
            yield Hit(
                f"{starts + 'the' if starts else 'The'} image's CUDA {image_cuda} compat libraries then run "
                f"over driver CUDA {hc}, and no source says whether {gpu.name} supports forward "
                "compatibility: it may fail with CUDA error 804 (forward compatibility was attempted on "
                "non supported HW).",
                f"Upgrade the driver to the CUDA {image_cuda} branch to be sure, or remove "
                "/usr/local/cuda/compat from the loader path to rely on minor-version compatibility.",
                (
                    *((fact.ref,) if fact is not None else ()),
                    *topic_refs(ctx.facts, "cuda.rule.forward-compatibility"),
                ),
                severity=Severity.WARNING,
            )
        elif fact["forward_compat"] is False:
            yield Hit(
                f"{starts + 'the' if starts else 'The'} image's CUDA {image_cuda} compat libraries then run "
                f"over driver CUDA {hc}, "
                f"but {gpu.name} does not support forward compatibility (CUDA error 804).",
                f"Upgrade the driver to the CUDA {image_cuda} branch, or remove /usr/local/cuda/compat from "
                "the "
                "loader path to rely on minor-version compatibility.",
                (fact.ref, *topic_refs(ctx.facts, "cuda.rule.forward-compatibility")),
            )


def container_no_gpu(ctx: Context) -> Iterator[Hit]:
    """The probe runs inside a container that was started without GPU access.

    **What it checks.** A container host (``kind`` set) whose ``NVIDIA_VISIBLE_DEVICES`` is unset,
    ``void`` or ``none``, or where no GPU and no driver are visible, while the stack needs CUDA.

    **Why.** Without ``--gpus``/``runtime: nvidia``/a device request, the NVIDIA container runtime mounts
    no driver: ``Found no NVIDIA driver on your system``, ``torch.cuda.is_available()`` False.

    **How to fix.** Start the container with ``--gpus all`` (Docker),
    ``deploy.resources.reservations.devices`` (compose) or ``nvidia.com/gpu`` limits (Kubernetes), with
    the NVIDIA container toolkit installed.

    **Example.** ``docker run vllm/vllm-openai`` without ``--gpus all``: fails.
    """
    c = ctx.host.container
    if not c.kind or ctx.host.origin == "described":
        return
    if not ctx.cuda_needs:
        return
    devices = (c.nvidia_visible_devices or "").strip().lower()
    if ctx.host.gpus and devices not in ("void", "none"):
        return
    yield Hit(
        f"This {c.kind} container has no GPU access "
        f"(NVIDIA_VISIBLE_DEVICES={c.nvidia_visible_devices or 'unset'}, "
        f"{len(ctx.host.gpus)} GPUs visible).",
        "Start it with --gpus all (or a compose/k8s GPU reservation) on a host with the NVIDIA container "
        "toolkit.",
    )


def image_platform_missing(ctx: Context) -> Iterator[Hit]:
    """The image is not published for the host's CPU architecture: it cannot run there.

    **What it checks.** The platforms the image's tag is published for (its image index, read with
    ``--registry``; offline the ``image_platforms`` facts of its family: ``pytorch/pytorch`` CUDA tags are
    ``linux/amd64`` only, ``vllm/vllm-openai`` is ``linux/amd64`` before v0.10.2 and multi-arch from it)
    against the host's architecture (``--arch``, or the recorded or probed host's ``uname -m``). A tag no
    fact covers is not judged.

    **Why.** Docker either finds no manifest for the host (``no matching manifest for linux/arm64/v8 in
    the manifest list entries``) or pulls the other platform's image, warns that ``the requested image's
    platform (linux/amd64) does not match the detected host platform`` and the container dies with
    ``exec format error``. GH200, GB200, GB300, DGX Spark (GB10) and Jetson hosts are ``aarch64``.

    **How to fix.** Use a tag of the family that is published for the host's platform (the finding names
    the nearest one the facts know), or build the image for the host's platform (``docker buildx build
    --platform linux/arm64``), e.g. from an ``nvidia/cuda`` base, which is multi-arch.

    **Example.** ``pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime`` on an ``aarch64`` host: fails; on
    ``x86_64``: no finding; ``vllm/vllm-openai:v0.11.0`` on ``aarch64``: no finding.
    """
    platforms = ctx.stack.image_platforms
    arch = ctx.host.os.arch
    if not ctx.stack.image or not platforms or not arch:
        return
    from cudalign.facts.image_platforms import has_platform, oci_platform

    if has_platform(platforms, arch):
        return
    want = oci_platform(arch)
    refs = [
        r
        for r in ctx.stack.facts
        if r.id.startswith("registry.")
        or (r.id in ctx.facts and ctx.facts.get(r.id).kind == "image_platforms")
    ]
    nearest, base = _platform_alternatives(ctx, arch, refs)
    build = f"build the image for {want} (docker buildx build --platform {want}){base}"
    yield Hit(
        f"{ctx.stack.image} is published for {', '.join(platforms)} only, not for this host's {want} "
        f"({arch}): Docker finds no {want} image in it, or runs the {platforms[0]} one and the container "
        "dies with 'exec format error'.",
        f"Use {nearest}, the nearest tag published for {want}, or {build}."
        if nearest
        else build[0].upper() + build[1:] + ".",
        tuple(refs),
    )


def _platform_alternatives(ctx: Context, arch: str, refs: list[FactRef]) -> tuple[str, str]:
    """(the family's nearest tag published for ``arch``, a clause naming an ``nvidia/cuda`` base of the
    image's CUDA that is), each ``""`` when the facts know none."""
    from cudalign.facts.image_platforms import has_platform, nearest_tag, published_platforms
    from cudalign.facts.image_tags import judge_tag
    from cudalign.stack.images import parse_reference

    assert ctx.stack.image is not None
    name = parse_reference(ctx.stack.image)
    where = ctx.stack.image.split("@", 1)[0].rsplit(":", 1)[0] if name.tag else ctx.stack.image
    nearest = ""
    for repo in name.candidates():
        found = nearest_tag(ctx.facts, repo, name.tag or "latest", arch)
        if found is not None:
            refs.append(found[1].ref)
            nearest = f"{where}:{found[0]}"
            break
    if not ctx.stack.image_cuda:
        return nearest, ""
    tag = f"{ctx.stack.image_cuda}-runtime-ubuntu22.04"
    said = judge_tag(ctx.facts, "nvidia/cuda", tag)
    if said.exists is False:
        if not said.suggestion:
            return nearest, ""
        tag = said.suggestion
    base = published_platforms(ctx.facts, ("nvidia/cuda",), tag)
    if base.fact is None or not has_platform(base.platforms, arch):
        return nearest, ""
    refs.append(base.fact.ref)
    return nearest, (
        f", e.g. FROM nvidia/cuda:{tag} (the same CUDA, published for {', '.join(base.platforms)}) with the "
        "framework's builds for this architecture"
    )
