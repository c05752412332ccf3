"""Search the candidates (versions x torch variants x driver x base image), rank them, explain rejections."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from cudalign import _dataclass as dataclasses
from cudalign._dataclass import dataclass
from cudalign.facts import query
from cudalign.model import (
    Component,
    DriverInfo,
    Finding,
    Host,
    Matrix,
    Plan,
    Rejection,
    Report,
    Severity,
    Stack,
    Verdict,
)
from cudalign.rules import check, verdict
from cudalign.rules.common import label, runs
from cudalign.stack import (
    TORCH_INDEX,
    ImageInfo,
    assignments,
    build,
    image_info,
    parse_requirements,
    resolve,
    torch_variants,
)

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts
    from cudalign.stack import Request

__all__ = [
    "SCHEMA",
    "Matrix",
    "Plan",
    "Rejection",
    "driver_targets",
    "make_plan",
    "plan_per_branch",
    "plan_report",
    "with_driver",
]

SCHEMA = "cudalign.plan/1"


def with_driver(host: Host, facts: Facts, version: str) -> Host:
    """The host with its driver replaced (a planned upgrade)."""
    top = query.max_cuda_for_driver(facts, version).value
    drv = DriverInfo(version=version, cuda=str(top) if top else None, source="planned")
    return dataclasses.replace(host, driver=drv)


def driver_targets(facts: Facts, host: Host, stack: Stack) -> list[str]:
    """The driver to plan an upgrade to: the lowest branch that runs every CUDA in the stack without caveats
    (and supports every GPU) and is still supported (:func:`~cudalign.facts.query.branch_supported`); the
    lowest branch that suffices when none is."""
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
    branches = sorted(
        (f for f in query.facts_of_kind(facts, "driver_branch") if f["branch"] >= need.major),
        key=lambda f: f["branch"],
    )

    def target(f: Fact) -> str:
        first = f.get("first_version")
        floor = first if first is not None else Version(str(f["branch"]))
        return query.driver_text(max(need, floor))

    def supported(f: Fact) -> bool:
        return query.branch_supported(facts, f["branch"]).value is True

    for f in branches:
        if supported(f):
            return [target(f)]
    return [target(branches[0])] if branches else [query.driver_text(need)]


def _images(facts: Facts, stack: Stack, host_cuda: Version | None) -> list[ImageInfo]:
    """Base images to try (:func:`_find_images`), found once per knowledge base for what they depend on:
    the vLLM release and wheel, the stack's CUDA runtime and the driver's CUDA."""
    vllm = stack.component("vllm")
    key = (
        "plan.images",
        (vllm.version, vllm.variant, bool(vllm.index_url)) if vllm is not None else None,
        stack.cuda_runtime,
        host_cuda,
    )
    memo = query._memo(facts)
    if key not in memo:
        memo[key] = tuple(_find_images(facts, stack, host_cuda))
    found = memo[key]
    assert isinstance(found, tuple)
    return list(found)


def _image(facts: Facts, reference: str) -> ImageInfo:
    """:func:`~cudalign.stack.image_info`, read once per knowledge base and reference."""
    memo = query._memo(facts)
    key = ("plan.image", reference)
    if key not in memo:
        memo[key] = image_info(facts, reference)
    found = memo[key]
    assert isinstance(found, ImageInfo)
    return found


def _find_images(facts: Facts, stack: Stack, host_cuda: Version | None) -> list[ImageInfo]:
    """Base images to try: the vLLM image of that release, then the newest ``nvidia/cuda`` runtime image whose
    CUDA is not newer than the driver's and has the stack's CUDA major."""
    out: list[ImageInfo] = []
    vllm = stack.component("vllm")
    reference = _vllm_image(facts, vllm) if vllm is not None else None
    if reference is not None:
        out.append(image_info(facts, reference))
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
        for tk in sorted(tks, reverse=True):  # the newest release NVIDIA published an image of
            info = image_info(facts, f"nvidia/cuda:{tk}-runtime-ubuntu22.04")
            if "image_tag" not in info.unknown:
                out.append(info)
                break
    return [i for i in out if not i.unknown]


def _vllm_image(facts: Facts, vllm: Component) -> str | None:
    """The vLLM image of the wheel's release and CUDA: the plain tag for PyPI's wheel, and for a CUDA variant
    wheel the tag whose CUDA suffix holds that CUDA (``vllm_series.image_cuda``: ``v0.25.0-cu129``);
    ``None`` when the facts know no image of that CUDA (never the default image of another CUDA)."""
    if not (vllm.index_url and vllm.variant):
        return f"vllm/vllm-openai:v{vllm.version}"
    series = query.vllm_series(facts, vllm.version)
    table = series.get("image_cuda", {}) if series is not None else {}
    cuda = query.variant_cuda(vllm.variant)
    if cuda is None:
        return None
    suffix = next((k for k, c in table.items() if query.cuda_minor(str(c)) == query.cuda_minor(cuda)), None)
    return None if suffix is None else f"vllm/vllm-openai:v{vllm.version}{suffix}"


def _attach(stack: Stack, image: ImageInfo) -> Stack:
    return dataclasses.replace(
        stack,
        image=image.reference,
        image_cuda=image.cuda,
        image_require=image.require,
        image_compat=image.compat,
        image_platforms=image.platforms,
        facts=stack.facts + image.facts,
    )


def _install(stack: Stack, request_names: Sequence[str]) -> tuple[str, str, tuple[str, ...]]:
    pins = []
    torch = stack.component("torch")
    for c in stack.components:
        if c.name in request_names or c.name in ("vllm", "torch"):
            if (
                c.name == "torch"
                and "vllm" in [x.name for x in stack.components]
                and "torch" not in request_names
            ):
                continue
            local = f"+{c.variant}" if c.name == "vllm" and c.index_url and c.variant else ""
            pins.append(f"{c.name}=={c.version}{local}")
    backend = torch.variant if torch is not None and torch.variant else None
    vllm = stack.component("vllm")
    extra = vllm.index_url if vllm is not None and vllm.index_url else None  # a CUDA variant wheel's index
    uv = (
        "uv pip install "
        + " ".join(pins)
        + (f" --extra-index-url {extra}" if extra else "")
        + (f" --torch-backend={backend}" if backend else "")
    )
    index = TORCH_INDEX + backend if backend else None
    indexes = [i for i in (extra, index) if i]
    pip = "pip install " + " ".join(pins) + "".join(f" --extra-index-url {i}" for i in indexes)
    reqs = tuple(f"--extra-index-url {i}" for i in indexes) + tuple(pins)
    return uv, pip, reqs


def _family(stack: Stack) -> str:
    parts = []
    for name in ("vllm", "torch"):
        c = stack.component(name)
        if c is not None:
            v = Version(c.version)
            series = f"{v.major}.{v.minor}"
            shown = c.variant if name == "torch" or (name == "vllm" and c.index_url) else None
            parts.append(f"{name} {series}" + (f" {shown}" if shown else ""))
    return " + ".join(parts or ["stack"])


def _sort_key(m: Matrix) -> tuple[Any, ...]:
    torch = m.stack.component("torch")
    default = torch is not None and torch.index_url is None  # the PyPI wheel: plain pip install works
    variant_cuda = Version(m.cuda) if m.cuda else Version("0")
    return (
        *_head_key(m.stack, m.driver_change),
        len(m.caveats),
        not default,
        _neg(variant_cuda),
    )


def _head_key(stack: Stack, driver_change: bool) -> tuple[Any, ...]:
    """The first fields of :func:`_sort_key`: what the stack alone decides, before any base image."""
    versions = []
    for name in ("vllm", "torch"):
        c = stack.component(name)
        versions.append(Version(c.version) if c is not None else Version("0"))
    vllm = stack.component("vllm")
    return (
        driver_change,
        vllm is not None and vllm.index_url is not None,  # vLLM's own variant index: after PyPI's wheel
        tuple(_neg(v) for v in versions),
    )


class _Pending:
    """A matrix that runs on the host whose base image is not chosen yet: :func:`_with_image` (a check per
    image tried) runs only for the matrices the ranking reaches (:func:`_choose`)."""

    __slots__ = ("args", "driver_change", "stack")

    def __init__(self, stack: Stack, driver_change: bool, args: tuple[Any, ...]) -> None:
        self.stack = stack
        self.driver_change = driver_change
        self.args = args
        """:func:`_with_image`'s arguments."""

    def make(self) -> Matrix:
        return _with_image(*self.args)


def _choose(found: Sequence[Matrix | _Pending], max_matrices: int) -> tuple[list[Matrix], list[Matrix]]:
    """The best matrix of each (driver change, series), best first, split into those that keep the driver
    and upgrades: at least ``max_matrices`` kept (when there are) and one upgrade, or ``max_matrices``
    upgrades when none keeps the driver; the pick needs no more.

    The order is that of ``sorted(found, key=_sort_key)`` with the first of each (driver change, series)
    kept; a pending matrix is completed only when its group of equal :func:`_head_key` is reached and no
    better matrix has taken its series."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, m in enumerate(found):
        groups.setdefault(_head_key(m.stack, m.driver_change), []).append(i)
    kept: list[Matrix] = []
    upgrades: list[Matrix] = []
    keys: set[tuple[Any, ...]] = set()
    for head in sorted(groups):
        if head[0] and len(upgrades) >= (1 if kept else max_matrices):
            break
        if not head[0] and len(kept) >= max_matrices:
            continue
        members: list[tuple[tuple[Any, ...], int, Matrix]] = []
        for i in groups[head]:
            item = found[i]
            if (item.driver_change, _series(item.stack)) in keys:
                continue
            m = item.make() if isinstance(item, _Pending) else item
            members.append((_sort_key(m), i, m))
        members.sort(key=lambda t: (t[0], t[1]))
        for _, _, m in members:
            k = (m.driver_change, _series(m.stack))
            if k in keys:
                continue
            keys.add(k)
            (upgrades if m.driver_change else kept).append(m)
    return kept, upgrades


def _neg(v: Version) -> tuple[int, ...]:
    return tuple(-x for x in v.release)


_SERIES_RULES = frozenset({"CA101", "CA103", "CA201", "CA202", "CA203", "CA303", "CA304", "CA401", "CA402"})
"""Failures that hold for a whole release series (same wheel CUDA, same torch minor): older patches skip."""


def _series(stack: Stack) -> tuple[str, ...]:
    out = []
    for name in ("vllm", "torch"):
        c = stack.component(name)
        if c is not None:
            v = Version(c.version)
            out.append(f"{name} {v.major}.{v.minor}")
            if name == "vllm" and c.index_url and c.variant:
                out.append(f"vllm {c.variant}")  # a CUDA variant wheel is its own candidate, beside PyPI's
    return tuple(out)


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
    """Enumerate candidates newest first, check each on the host (driver kept or raised), rank, explain.

    The search stops once ``max_matrices`` series-distinct matrices keep the driver (nothing older can
    rank above them); a series whose newest release fails for a series-wide reason (driver, arch, CUDA
    major, image) is not searched further. A described host without a driver gets the best matrix on
    each still-supported driver branch (:func:`plan_per_branch`)."""
    requirements = tuple(requirements)
    if host.driver is None and host.origin == "described" and "driver" in host.unknown:
        # the user described the host and left the driver out (a host built by code without one, such
        # as a fleet's combined host, plans an upgrade target instead)
        per_branch = plan_per_branch(
            requirements, facts, host, max_matrices=max_matrices, index_url=index_url, features=features
        )
        if per_branch is not None:
            return per_branch
    request = parse_requirements(requirements, index_url=index_url)
    current = host.driver.version if host.driver is not None else None
    found: list[Matrix | _Pending] = []
    failures: dict[tuple[str, ...], dict[str, Rejection]] = {}
    outcome: dict[tuple[str, ...], _Outcome] = {}
    # (series, variant, driver changed?) already settled: a matrix found (an older patch cannot rank
    # higher) or a series-wide failure (an older patch fails the same way)
    settled: set[tuple[tuple[str, ...], str | None, bool]] = set()
    kept_series: set[tuple[str, ...]] = set()
    targets: dict[tuple[str | None, ...], list[str]] = {}  # driver_targets by the stack's CUDA versions
    upgraded: dict[str, Host] = {}  # the host with its driver raised to a target
    considered = 0
    seen: set[tuple[Any, ...]] = set()
    for versions in assignments(request, facts, host):
        if len(kept_series) >= max_matrices:
            break
        base = build(request, facts, host, versions)
        series = _series(base)
        torch = base.component("torch")
        variants: list[str | None] = [None]
        if torch is not None and "torch" not in request.variants:
            variants += [v for v in torch_variants(facts, torch.version) if _viable(facts, host, base, v)]
        variants += _vllm_variants(facts, host, request, base)
        fresh = series not in outcome
        for variant in variants:
            wanted = [c for c in (False, True) if (series, variant, c) not in settled]
            if not wanted or (wanted == [True] and no_driver_change):
                continue
            vllm_variant = variant is not None and variant.startswith("vllm+")  # does not end the search
            if variant is None:
                stack = base
            elif variant.startswith("vllm+"):  # vLLM's CUDA variant wheel, with torch of that variant
                vreq = dataclasses.replace(request, variants={**request.variants, "vllm": variant[5:]})
                stack = build(vreq, facts, host, versions)
            else:
                stack = build(request, facts, host, versions, variant=variant)
            key = tuple((c.name, c.version, c.variant) for c in stack.components)
            if key in seen:
                continue
            seen.add(key)
            options: list[tuple[Host, bool]] = [(host, False)] if current and False in wanted else []
            if not no_driver_change and True in wanted:
                cudas = (stack.cuda_runtime, *(c.cuda for c in stack.components))
                if cudas not in targets:  # the targets depend on the stack's CUDA versions alone
                    targets[cudas] = driver_targets(facts, host, stack)
                for target in targets[cudas]:
                    if current is None or Version(target) > Version(current):
                        if target not in upgraded:
                            upgraded[target] = with_driver(host, facts, target)
                        options.append((upgraded[target], True))
            for h, change in options:
                considered += 1
                # a rejected candidate needs only its verdict and first error
                findings = check(h, stack, facts, features=features, first_error=True)
                v = verdict(findings)
                family = _family(stack)
                if fresh and variant is None:
                    outcome.setdefault(series, _Outcome(family, base)).record(change, findings, v, h)
                if v not in (Verdict.OK, Verdict.CAVEATS):
                    rescued = _through_forward_compat(facts, h, stack, features)
                    if rescued is not None:  # the release's image runs it where pip alone does not
                        settled.add((series, variant, change))
                        m = _matrix(*rescued, h, change, request.order)
                        bare = _rejection(family, findings, v, change)
                        note = (
                            f"only in {m.image}: its CUDA {rescued[0].image_cuda} compat libraries run it "
                            "through forward compatibility"
                            + (f"; installed on the host it fails ({bare.code} {bare.name})" if bare else "")
                        )
                        found.append(
                            dataclasses.replace(m, verdict=Verdict.CAVEATS, caveats=(*m.caveats, note))
                        )
                        if not change and not vllm_variant:
                            kept_series.add(series)
                        continue
                    rej = _rejection(family, findings, v, change)
                    if rej is not None:
                        failures.setdefault(series, {})[family] = rej  # the most permissive option wins
                        if rej.code in _SERIES_RULES:
                            settled.add((series, variant, change))
                    continue
                settled.add((series, variant, change))
                args = (facts, h, stack, findings, change, request.order, features, failures, series)
                found.append(_Pending(stack, change, args))
                if not change and not vllm_variant:
                    kept_series.add(series)
    kept, upgrades = _choose(found, max_matrices)
    picked = kept[:max_matrices]
    lifts = bool(upgrades and kept and len(upgrades[0].caveats) < len(kept[0].caveats))
    if upgrades and (not kept or ((_newer(upgrades[0], kept[0]) or lifts) and max_matrices >= 2)):
        picked = (
            [*picked[: max_matrices - 1], upgrades[0]]
            if len(picked) >= max_matrices
            else [*picked, upgrades[0]]
        )
    picked = picked[:max_matrices] if picked else upgrades[:max_matrices]
    labelled = tuple(dataclasses.replace(m, label=chr(ord("A") + i)) for i, m in enumerate(picked))
    best_kept = next((m for m in picked if not m.driver_change), None)
    rejected = _merge(
        [
            r
            for o in outcome.values()
            if (r := o.rejection()) is not None
            and (best_kept is None or _sort_key(_probe_matrix(o))[2] < _sort_key(best_kept)[2])
        ]
    )
    if considered == 0:  # nothing to try: say why, with the rules check runs on what was asked
        rejected = tuple(_unresolvable(requirements, facts, host, index_url, features))
    return Plan(labelled, tuple(rejected), considered, requirements, no_driver_change)


def plan_per_branch(
    requirements: Sequence[str],
    facts: Facts,
    host: Host,
    *,
    max_matrices: int = 3,
    index_url: str | None = None,
    features: Sequence[str] = (),
) -> Plan | None:
    """The best matrix on each driver branch NVIDIA still supports, for a host whose driver was not given.

    Each branch is planned on its first release with the driver kept; a matrix then holds for any driver
    of that branch from that release on (``Matrix.driver_assumed``). ``None`` when no supported branch
    has a matrix (the caller then plans an upgrade target as for any host)."""
    matrices: list[Matrix] = []
    rejected: list[Rejection] = []
    considered = 0
    for branch in query.supported_branches(facts).value:
        first = query.branch_first_release(facts, branch).value or Version(str(branch))
        sub = make_plan(
            requirements,
            facts,
            with_driver(host, facts, query.driver_text(first)),
            no_driver_change=True,
            max_matrices=1,
            index_url=index_url,
            features=features,
        )
        considered += sub.considered
        rejected = list(sub.rejected)  # the newest branch's: what even it cannot run
        for m in sub.matrices[:1]:
            matrices.append(dataclasses.replace(m, driver_assumed=True))
    if not matrices:
        return None
    picked = matrices[-max_matrices:]  # oldest branch first; the newest are kept when there are more
    labelled = tuple(dataclasses.replace(m, label=chr(ord("A") + i)) for i, m in enumerate(picked))
    return Plan(labelled, tuple(rejected), considered, tuple(requirements), False)


def _unresolvable(
    requirements: Sequence[str], facts: Facts, host: Host, index_url: str | None, features: Sequence[str]
) -> list[Rejection]:
    """Why no candidate exists (pins that cannot all hold, releases the index never had)."""
    stack = resolve(requirements, facts, host, index_url=index_url)
    findings = check(host, stack, facts, features=features)
    blocking = [f for f in findings if f.severity is Severity.ERROR or f.unknown]
    return [Rejection("stack", f.code, f.name, f.message) for f in blocking[:3]]


def plan_report(plan: Plan, host: Host) -> Report:
    """The ``cudalign.plan/1`` report: ``--fail-on`` is judged on matrix A's findings, and a plan with no
    matrix is an error."""
    severities = tuple(f.severity for f in plan.matrices[0].findings) if plan.matrices else (Severity.ERROR,)
    return Report(schema=SCHEMA, host=host, data={"plan": plan}, exit_on=severities)


@dataclass(slots=True)
class _Outcome:
    """How the newest release of one series (its default variant) fared, on the kept and the raised driver."""

    family: str
    stack: Stack
    kept: tuple[Finding, ...] | None = None
    kept_verdict: Verdict | None = None
    upgrade: str | None = None
    """The driver that made it pass, when one did."""
    upgrade_findings: tuple[Finding, ...] | None = None

    def record(self, change: bool, findings: tuple[Finding, ...], v: Verdict, h: Host) -> None:
        ok = v in (Verdict.OK, Verdict.CAVEATS)
        if not change:
            self.kept, self.kept_verdict = findings, v
        elif ok and self.upgrade is None:
            self.upgrade = h.driver.version if h.driver else None
        elif not ok and self.upgrade_findings is None:
            self.upgrade_findings = findings

    def rejection(self) -> Rejection | None:
        if self.kept is not None and self.kept_verdict in (Verdict.OK, Verdict.CAVEATS):
            return None
        findings = self.kept if self.kept is not None else (self.upgrade_findings or ())
        rej = _rejection(self.family, findings, self.kept_verdict or Verdict.FAILS, False)
        if rej is None:
            return None
        if self.upgrade:
            tail = f"a driver upgrade to {self.upgrade} fixes it"
        elif self.upgrade_findings:
            worst = _rejection(self.family, self.upgrade_findings, Verdict.FAILS, True)
            tail = (
                f"even with a driver upgrade: {worst.code} {worst.name}"
                if worst
                else "even with a driver upgrade"
            )
        else:
            tail = "no driver upgrade was considered"
        return dataclasses.replace(rej, reason=f"{rej.reason.rsplit(' (', 1)[0]} ({tail})")


def _probe_matrix(o: _Outcome) -> Matrix:
    return Matrix(
        "",
        None,
        None,
        False,
        False,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "",
        "",
        (),
        Verdict.FAILS,
        (),
        None,
        o.stack,
        (),
    )


def _merge(rejections: list[Rejection]) -> tuple[Rejection, ...]:
    """Adjacent series that fail for the same rule and the same remedy become one line (vllm 0.12-0.19)."""
    out: list[Rejection] = []
    runs: list[list[Rejection]] = []
    for r in rejections:
        tail = r.reason.rsplit(" (", 1)[-1]
        if runs and runs[-1][0].code == r.code and runs[-1][0].reason.rsplit(" (", 1)[-1] == tail:
            runs[-1].append(r)
        else:
            runs.append([r])
    for run in runs:
        first = run[0]
        if len(run) == 1:
            out.append(first)
            continue
        family = f"{run[-1].family} … {first.family}"
        out.append(Rejection(family, first.code, first.name, f"{first.reason} [{len(run)} series]"))
    return tuple(out)


def _viable(facts: Facts, host: Host, base: Stack, variant: str) -> bool:
    """Whether a torch variant is worth checking: not the default again, the CUDA major of the vLLM wheel,
    and (where its build facts say) code for every GPU. The rules would reject the others; the default
    variant's outcome already stands for the series in the rejected list."""
    torch = base.component("torch")
    if torch is None or variant == torch.variant:
        return False
    cuda = query.variant_cuda(variant)
    vllm = base.component("vllm")
    if vllm is not None and vllm.cuda and cuda is not None and Version(vllm.cuda).major != cuda.major:
        return False
    build_fact = query.torch_build(facts, torch.version, variant, base.platform or query.platform_key(host))
    if build_fact is not None:
        for g in host.gpus:
            if g.cc is not None and not runs(g.cc, build_fact["archs"], build_fact.get("ptx", ())):
                return False
    return True


def _vllm_variants(facts: Facts, host: Host, request: Request, base: Stack) -> list[str | None]:
    """vLLM's CUDA variant wheels of the base's release (``vllm+cu129``) that an index serves, where the user
    named neither a vLLM nor a torch variant."""
    vllm = base.component("vllm")
    if vllm is None or "vllm" in request.variants or "torch" in request.variants:
        return []
    series = query.vllm_series(facts, vllm.version)
    if series is None or query.series_assumed(series, vllm.version):
        return []
    if any(g.cc is not None and g.cc < series["min_cc"] for g in host.gpus):
        return []  # below the release's minimum capability: every build of it fails alike
    return [
        f"vllm+{v}"
        for v in series.get("variants", ())
        if query.variant_cuda(v) is not None and query.vllm_variant_index(facts, vllm.version, v) is not None
    ]


def _newer(a: Matrix, b: Matrix) -> bool:
    newer: bool = _sort_key(a)[2] < _sort_key(b)[2]
    return newer


def _with_image(
    facts: Facts,
    h: Host,
    stack: Stack,
    findings: tuple[Finding, ...],
    change: bool,
    names: Sequence[str],
    features: Sequence[str],
    failures: dict[tuple[str, ...], dict[str, Rejection]],
    series: tuple[str, ...],
) -> Matrix:
    """The matrix with the first base image that passes on this driver (the vLLM image, else nvidia/cuda).

    An image that adds a warning of its own (compat libraries that may fail with error 804 on a GPU no
    source covers) is passed over for the next one that adds none, and kept only when none does."""
    hc = query.host_cuda(facts, h).value
    tried: list[Rejection] = []
    fallback: Matrix | None = None
    bare = {(f.code, f.message) for f in findings}
    for img in _images(facts, stack, hc):
        with_img = _attach(stack, img)
        f2 = check(h, with_img, facts, features=features)
        v2 = verdict(f2)
        if v2 in (Verdict.OK, Verdict.CAVEATS):
            own = [f for f in f2 if f.severity is Severity.WARNING and (f.code, f.message) not in bare]
            if own and fallback is None:
                fallback = _matrix(with_img, f2, h, change, names)
                tried.append(Rejection(img.reference, own[0].code, own[0].name, own[0].message))
                continue
            if not own:
                return dataclasses.replace(
                    _matrix(with_img, f2, h, change, names), images_rejected=tuple(tried)
                )
            continue
        rej = _rejection(img.reference, f2, v2, change)
        if rej is not None:
            tried.append(rej)
    if fallback is not None:
        return dataclasses.replace(
            fallback, images_rejected=tuple(r for r in tried if r.family != fallback.image)
        )
    return dataclasses.replace(_matrix(stack, findings, h, change, names), images_rejected=tuple(tried))


def _through_forward_compat(
    facts: Facts, h: Host, stack: Stack, features: Sequence[str]
) -> tuple[Stack, tuple[Finding, ...]] | None:
    """The stack in its vLLM image, when that image's compat libraries make it run on a driver where the
    pip install alone does not (data-center GPUs only: forward compatibility)."""
    vllm = stack.component("vllm")
    if vllm is None or not h.gpus:
        return None
    if any((f := query.gpu_fact(facts, g)) is None or f.get("forward_compat") is not True for g in h.gpus):
        return None
    reference = _vllm_image(facts, vllm)
    if reference is None:  # no image of the wheel's CUDA: another CUDA's image is another build
        return None
    img = _image(facts, reference)
    if img.unknown or not img.compat or not img.cuda:
        return None
    with_img = _attach(stack, img)
    findings = check(h, with_img, facts, features=features, first_error=True)
    if verdict(findings) not in (Verdict.OK, Verdict.CAVEATS):
        return None
    return with_img, findings


def _rejection(family: str, findings: Sequence[Finding], v: Verdict, change: bool) -> Rejection | None:
    worst = next((f for f in findings if f.severity is Severity.ERROR), None) or next(
        (f for f in findings if f.unknown), None
    )
    if worst is None:
        return None
    reason = worst.message if v is Verdict.FAILS else f"unknown: {worst.unknown}"
    where = "even with the driver upgraded" if change else "on this driver"
    return Rejection(family, worst.code, worst.name, f"{reason} ({where})")


def _matrix(
    stack: Stack, findings: tuple[Finding, ...], host: Host, change: bool, names: Sequence[str]
) -> Matrix:
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
        torch=label(torch) if torch is not None else None,
        torch_index=(TORCH_INDEX + torch.variant) if torch is not None and torch.variant else None,
        vllm=(vllm.version + (f"+{vllm.variant}" if vllm.index_url and vllm.variant else ""))
        if vllm
        else None,
        vllm_cuda=vllm.cuda if vllm else None,
        python=stack.python,
        image=stack.image,
        install_uv=uv,
        install_pip=pip,
        requirements=reqs,
        verdict=verdict(findings),
        caveats=tuple(
            dict.fromkeys(
                f"{f.code} {f.name}: {f.message}" for f in findings if f.severity is Severity.WARNING
            )
        ),
        runbook=f"cudalign runbook --driver {Version(drv).major}" if change and drv else None,
        stack=stack,
        findings=findings,
    )
