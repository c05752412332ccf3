"""Search the candidate space (versions x torch variants x driver x base image), rank matrices, explain rejections."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from cudalign.facts import query
from cudalign.model import DriverInfo, Finding, Host, Severity, Stack, Verdict
from cudalign.rules import check, verdict
from cudalign.stack import (
    TORCH_INDEX,
    ImageInfo,
    assignments,
    build,
    image_info,
    parse_requirements,
    torch_variants,
)

if TYPE_CHECKING:
    from cudalign.facts import Facts

__all__ = ["Matrix", "Plan", "Rejection", "driver_targets", "make_plan", "with_driver"]


@dataclass(frozen=True, slots=True)
class Matrix:
    """One compatible combination, written the way an operator writes it."""

    label: str
    driver: str | None
    """Driver the matrix runs on: the host's, or the target of an upgrade."""
    driver_branch: str | None
    driver_change: bool
    reboot: bool
    cuda: str | None
    """CUDA runtime torch brings (``12.8``)."""
    torch: str | None
    """``2.9.0+cu128``."""
    torch_index: str | None
    vllm: str | None
    vllm_cuda: str | None
    python: str | None
    image: str | None
    install_uv: str
    install_pip: str
    requirements: tuple[str, ...]
    """requirements.txt lines (index first)."""
    verdict: Verdict
    caveats: tuple[str, ...]
    runbook: str | None
    stack: Stack
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A family of candidates that does not run, and the strongest reason."""

    family: str
    code: str
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    """The ranked matrices and the rejected families."""

    matrices: tuple[Matrix, ...]
    rejected: tuple[Rejection, ...]
    considered: int


def with_driver(host: Host, facts: Facts, version: str) -> Host:
    """The host with its driver replaced (a planned upgrade)."""
    top = query.max_cuda_for_driver(facts, version).value
    drv = DriverInfo(version=version, cuda=str(top) if top else None, source="planned")
    return dataclasses.replace(host, driver=drv)


def _branch_first(facts: Facts, branch: int) -> tuple[Version | None, str]:
    for f in facts.of_kind("driver_branch"):
        if f["branch"] == branch:
            return f.get("first_version"), str(f["designation"])
    return None, ""


def driver_targets(facts: Facts, host: Host, stack: Stack) -> list[str]:
    """Driver versions worth planning for: the lowest that runs every CUDA in the stack without caveats,
    and the lowest long-term (LTSB) branch at or above it."""
    needs: list[Version] = []
    cudas = [stack.cuda_runtime] + [c.cuda for c in stack.components if c.cuda]
    for cuda in cudas:
        if not cuda:
            continue
        ans = query.min_driver_for_cuda(facts, query.cuda_minor(cuda))
        if ans.value is not None:
            needs.append(ans.value)
    for g in host.gpus:
        gf = query.gpu_fact(facts, g)
        if gf is not None and gf.get("min_driver") is not None:
            needs.append(gf["min_driver"])
    if not needs:
        return []
    need = max(needs)
    out = []
    first, _ = _branch_first(facts, need.major)
    out.append(query.driver_text(max(need, first) if first else need))
    branches = sorted(
        (f for f in facts.of_kind("driver_branch") if f["branch"] >= need.major and f["designation"] == "LTSB"),
        key=lambda f: f["branch"],
    )
    if branches and branches[0].get("first_version") is not None:
        lts = query.driver_text(max(branches[0]["first_version"], need))
        if lts not in out:
            out.append(lts)
    return out


def _images(facts: Facts, stack: Stack, host_cuda: Version | None) -> list[ImageInfo]:
    """Base images to try: the vLLM image of that release, then the newest ``nvidia/cuda`` runtime image whose
    CUDA is not newer than the driver's and has the stack's CUDA major."""
    out: list[ImageInfo] = []
    vllm = stack.component("vllm")
    if vllm is not None:
        out.append(image_info(facts, f"vllm/vllm-openai:v{vllm.version}"))
    if stack.cuda_runtime:
        major = Version(stack.cuda_runtime).major
        runtime = Version(stack.cuda_runtime)
        tks = [
            f["version"]
            for f in query.toolkits(facts)
            if f["version"].major == major
            and len(f["version"].release) >= 3
            and query.cuda_minor(f["version"]) <= query.cuda_minor(runtime)
            and (host_cuda is None or query.cuda_minor(f["version"]) <= host_cuda)
        ]
        if tks:
            out.append(image_info(facts, f"nvidia/cuda:{max(tks)}-runtime-ubuntu22.04"))
    return [i for i in out if not i.unknown]


def _attach(stack: Stack, image: ImageInfo) -> Stack:
    return dataclasses.replace(
        stack,
        image=image.reference,
        image_cuda=image.cuda,
        image_require=image.require,
        image_compat=image.compat,
        facts=stack.facts + image.facts,
    )


def _install(stack: Stack, request_names: Sequence[str]) -> tuple[str, str, tuple[str, ...]]:
    pins = []
    torch = stack.component("torch")
    for c in stack.components:
        if c.name in request_names or c.name in ("vllm", "torch"):
            if c.name == "torch" and "vllm" in [x.name for x in stack.components] and "torch" not in request_names:
                continue
            pins.append(f"{c.name}=={c.version}")
    backend = torch.variant if torch is not None and torch.variant else None
    uv = "uv pip install " + " ".join(pins) + (f" --torch-backend={backend}" if backend else "")
    index = TORCH_INDEX + backend if backend else None
    pip = "pip install " + " ".join(pins) + (f" --extra-index-url {index}" if index else "")
    reqs = ((f"--extra-index-url {index}",) if index else ()) + tuple(pins)
    return uv, pip, reqs


def _family(stack: Stack, driver_label: str) -> str:
    parts = []
    for name in ("vllm", "torch"):
        c = stack.component(name)
        if c is not None:
            v = Version(c.version)
            series = f"{v.major}.{v.minor}"
            parts.append(f"{name} {series}" + (f" {c.variant}" if name == "torch" and c.variant else ""))
    return " + ".join(parts or ["stack"]) + f" on {driver_label}"


def _sort_key(m: Matrix) -> tuple[Any, ...]:
    versions = []
    for name in ("vllm", "torch"):
        c = m.stack.component(name)
        versions.append(Version(c.version) if c is not None else Version("0"))
    variant_cuda = Version(m.cuda) if m.cuda else Version("0")
    return (m.driver_change, tuple(_neg(v) for v in versions), len(m.caveats), _neg(variant_cuda))


def _neg(v: Version) -> tuple[int, ...]:
    return tuple(-x for x in v.release)


def make_plan(
    requirements: Iterable[str],
    facts: Facts,
    host: Host,
    *,
    no_driver_change: bool = False,
    max_matrices: int = 3,
    index_url: str | None = None,
    features: Sequence[str] = (),
) -> Plan:
    """Enumerate candidates, check each on the host (driver kept or raised), rank and keep the best."""
    request = parse_requirements(requirements, index_url=index_url)
    current = host.driver.version if host.driver is not None else None
    host_cuda = query.host_cuda(facts, host).value
    found: list[Matrix] = []
    rejected: dict[str, Rejection] = {}
    considered = 0
    seen: set[tuple[Any, ...]] = set()
    for versions in assignments(request, facts, host):
        base = build(request, facts, host, versions)
        torch = base.component("torch")
        variants: list[str | None] = [None]
        if torch is not None and "torch" not in request.variants:
            variants += [v for v in torch_variants(facts, torch.version) if v != torch.variant]
        for variant in variants:
            stack = base if variant is None else build(request, facts, host, versions, variant=variant)
            key = tuple((c.name, c.version, c.variant) for c in stack.components)
            if key in seen:
                continue
            seen.add(key)
            options: list[tuple[Host, bool]] = [(host, False)] if current else []
            if not no_driver_change:
                for target in driver_targets(facts, host, stack):
                    if current is None or Version(target) > Version(current):
                        options.append((with_driver(host, facts, target), True))
            for h, change in options:
                considered += 1
                findings = check(h, stack, facts, features=features)
                v = verdict(findings)
                label = f"driver {h.driver.version if h.driver else '?'}" + (" (upgrade)" if change else "")
                if v not in (Verdict.OK, Verdict.CAVEATS):
                    _reject(rejected, _family(stack, "kept driver" if not change else "upgraded driver"), findings, v)
                    continue
                hc = query.host_cuda(facts, h).value
                chosen = None
                for img in _images(facts, stack, hc):
                    with_img = _attach(stack, img)
                    f2 = check(h, with_img, facts, features=features)
                    if verdict(f2) in (Verdict.OK, Verdict.CAVEATS):
                        chosen = (with_img, f2)
                        break
                    _reject(rejected, f"image {img.reference} on {label}", f2, verdict(f2))
                final_stack, final_findings = chosen if chosen else (stack, findings)
                found.append(_matrix(final_stack, final_findings, h, change, request.order))
    ranked = sorted(found, key=_sort_key)
    unique: list[Matrix] = []
    keys: set[tuple[Any, ...]] = set()
    for m in ranked:
        k = (m.driver_branch, m.torch, m.vllm)
        if k in keys:
            continue
        keys.add(k)
        unique.append(m)
        if len(unique) >= max_matrices:
            break
    labelled = tuple(dataclasses.replace(m, label=chr(ord("A") + i)) for i, m in enumerate(unique))
    return Plan(labelled, tuple(rejected.values()), considered)


def _reject(rejected: dict[str, Rejection], family: str, findings: Sequence[Finding], v: Verdict) -> None:
    if family in rejected:
        return
    worst = next((f for f in findings if f.severity is Severity.ERROR), None) or next(
        (f for f in findings if f.unknown), None
    )
    if worst is None:
        return
    reason = worst.message if v is Verdict.FAILS else f"unknown: {worst.unknown}"
    rejected[family] = Rejection(family, worst.code, worst.name, reason)


def _matrix(stack: Stack, findings: tuple[Finding, ...], host: Host, change: bool, names: Sequence[str]) -> Matrix:
    torch = stack.component("torch")
    vllm = stack.component("vllm")
    uv, pip, reqs = _install(stack, names)
    drv = host.driver.version if host.driver else None
    branch = f"R{Version(drv).major}" if drv else None
    return Matrix(
        label="",
        driver=drv,
        driver_branch=branch,
        driver_change=change,
        reboot=change,
        cuda=stack.cuda_runtime,
        torch=f"{torch.version}+{torch.variant}" if torch is not None and torch.variant else (torch.version if torch else None),
        torch_index=(TORCH_INDEX + torch.variant) if torch is not None and torch.variant else None,
        vllm=vllm.version if vllm else None,
        vllm_cuda=vllm.cuda if vllm else None,
        python=stack.python,
        image=stack.image,
        install_uv=uv,
        install_pip=pip,
        requirements=reqs,
        verdict=verdict(findings),
        caveats=tuple(f"{f.code} {f.name}: {f.message}" for f in findings if f.severity is Severity.WARNING),
        runbook=f"cudalign runbook --driver {Version(drv).major}" if change and drv else None,
        stack=stack,
        findings=findings,
    )
