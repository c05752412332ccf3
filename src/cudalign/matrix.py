"""A package's releases against its CUDA builds (or against GPUs) on one host: a grid of verdicts.

Each cell is one stack the engine judges as ``check`` does (:func:`cudalign.stack.resolve`, then
:func:`cudalign.rules.check`): ``torch==2.9.0+cu128``, ``vllm==0.13.0+cu130``, the image
``vllm/vllm-openai:v0.13.0-cu130``, or ``onnxruntime-gpu==1.20.1``. A cell keeps the findings that make it
``caveats`` or ``fails``, each with its rule and facts. Rows are releases, newest first; columns are the
builds the knowledge base knows (torch: its CUDA variants; vLLM: its PyPI wheel, its variant wheels and its
images; another package: the CUDA of each build), or, with ``gpus``, one GPU each for the release's
default build. The release the host has installed is marked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from cudalign._dataclass import dataclass
from cudalign.errors import InvalidInput
from cudalign.model import Finding, Host, Report, Severity, Verdict

if TYPE_CHECKING:
    from cudalign.facts import Facts

__all__ = ["SCHEMA", "Cell", "Column", "Grid", "Row", "grid_report", "make_grid"]

SCHEMA = "cudalign.matrix/1"

_VLLM_IMAGE = "vllm/vllm-openai"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the grid: a build of the package, or a GPU."""

    key: str
    """Stable key: ``cu128``, ``pypi``, ``+cu130``, ``image-cu130``, ``cuda12``, or a GPU's name."""
    label: str
    """Its header."""
    kind: str
    """``variant`` (torch), ``wheel`` / ``image`` (vLLM), ``cuda`` (another package's build), ``gpu``."""
    note: str
    """What the column stands for, in one phrase."""


@dataclass(frozen=True, slots=True)
class Cell:
    """One release in one column: the stack judged, its verdict, and why."""

    column: str
    """The column's key."""
    verdict: Verdict | None
    """``None``: no such build of this release is published (as far as the knowledge base says)."""
    checked: str = ""
    """What was judged: a requirement (``torch==2.9.0+cu128``) or an image reference."""
    reasons: tuple[Finding, ...] = ()
    """The findings behind a verdict other than ``ok``: errors, then warnings and unknowns."""
    installed: bool = False
    """Whether this is the build the host has installed."""


@dataclass(frozen=True, slots=True)
class Row:
    """One release across every column."""

    release: str
    cells: tuple[Cell, ...]
    installed: bool = False
    """Whether the host has this release installed."""


@dataclass(frozen=True, slots=True)
class Grid:
    """The whole grid, newest release first."""

    package: str
    axis: str
    """``builds`` (releases x builds) or ``gpus`` (releases x GPUs, one build)."""
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    installed: str | None = None
    """The version the host has installed (``2.9.0+cu128``), when it has one."""
    build: str | None = None
    """With ``gpus``: the build judged in every cell (``default`` or a variant such as ``cu128``)."""

    def cell(self, release: str, column: str) -> Cell | None:
        """The cell of a release and column key, if the grid has it."""
        row = next((r for r in self.rows if r.release == release), None)
        return next((c for c in row.cells if c.column == column), None) if row is not None else None


# --------------------------------------------------------------------------- releases and columns


def _stable_releases(facts: Facts, package: str) -> list[str]:
    """The package's releases in the PyPI snapshot: not yanked, not pre-releases, newest first."""
    found: list[tuple[Version, str]] = []
    for text, rel in facts.snapshot.releases(package).items():
        try:
            v = Version(text)
        except InvalidVersion:
            continue
        if not rel.yanked and not v.is_prerelease and not v.is_devrelease:
            found.append((v, text))
    return [t for _, t in sorted(found, reverse=True)]


def _cuda_key(variant: str) -> Version:
    from cudalign.facts import query

    return query.variant_cuda(variant) or Version("0")


@dataclass(frozen=True, slots=True)
class _Plan:
    """What to judge: each release and, per column, the requirement or image (``None``: no such build)."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[str, dict[str, tuple[str, str] | None]], ...]
    """(release, column key -> ("req" | "image", text) or None)."""


def _torch_plan(facts: Facts, releases: list[str]) -> _Plan:
    from cudalign.stack import TORCH_INDEX, torch_variants

    per_release = {r: [v for v in torch_variants(facts, r) if v.startswith("cu")] for r in releases}
    variants = sorted({v for vs in per_release.values() for v in vs}, key=_cuda_key)
    columns = tuple(
        Column(v, v, "variant", f"torch's CUDA {_cuda_key(v)} build ({TORCH_INDEX}{v})") for v in variants
    )
    rows = tuple(
        (r, {v: (("req", f"torch=={r}+{v}") if v in vs else None) for v in variants})
        for r, vs in per_release.items()
        if vs
    )
    return _Plan(columns, rows)


def _vllm_plan(facts: Facts, releases: list[str]) -> _Plan:
    from cudalign.facts import query

    builds: dict[str, dict[str, tuple[str, str]]] = {}
    variants: set[str] = set()
    suffixes: set[str] = set()
    for r in releases:
        series = query.vllm_series(facts, r)
        if series is None:
            continue
        cells: dict[str, tuple[str, str]] = {"pypi": ("req", f"vllm=={r}")}
        for v in series.get("variants", ()):
            variants.add(v)
            cells[f"+{v}"] = ("req", f"vllm=={r}+{v}")
        for suffix in series.get("image_cuda", {}):
            suffix = f"-{suffix.lstrip('-')}" if suffix else ""
            suffixes.add(suffix)
            cells[f"image{suffix}"] = ("image", f"{_VLLM_IMAGE}:v{r}{suffix}")
        builds[r] = cells
    columns = [Column("pypi", "PyPI", "wheel", "the wheel pip installs from PyPI (its default CUDA build)")]
    columns += [
        Column(f"+{v}", f"+{v}", "wheel", f"vLLM's CUDA {_cuda_key(v)} wheel ({v} local version)")
        for v in sorted(variants, key=_cuda_key)
    ]
    columns += [
        Column(
            f"image{s}",
            f"image{s}",
            "image",
            f"the {_VLLM_IMAGE}:v<release>{s} container image",
        )
        for s in sorted(suffixes, key=lambda s: _cuda_key(s.lstrip("-")) if s else Version("0"))
    ]
    rows = tuple((r, {c.key: cells.get(c.key) for c in columns}) for r, cells in builds.items())
    return _Plan(tuple(columns), rows)


def _cuda_label(build: object) -> str | None:
    get = getattr(build, "get", None)
    if get is None:
        return None
    cuda = get("cuda")
    if cuda is not None:
        return str(cuda)
    major = get("cuda_major")
    return str(major) if major is not None else None


def _package_plan(facts: Facts, package: str, releases: list[str]) -> _Plan:
    from cudalign.facts import query

    rows: list[tuple[str, str]] = []
    for r in releases:
        label = next((c for f in query.package_builds(facts, package, r) if (c := _cuda_label(f))), None)
        if label is not None:
            rows.append((r, label))
    labels = sorted({c for _, c in rows}, key=Version)
    columns = tuple(
        Column(f"cuda{c}", f"CUDA {c}", "cuda", f"a {package} build for CUDA {c}") for c in labels
    )
    return _Plan(
        columns,
        tuple(
            (r, {f"cuda{c}": (("req", f"{package}=={r}") if c == own else None) for c in labels})
            for r, own in rows
        ),
    )


# --------------------------------------------------------------------------- judging


def _judge(facts: Facts, host: Host, how: tuple[str, str], features: Sequence[str]) -> Cell:
    """One cell: the stack resolved as ``check`` resolves it, judged by the rules ``check`` runs."""
    from cudalign.rules import check, verdict
    from cudalign.stack import build, parse_requirements, resolve

    kind, text = how
    if kind == "image":
        stack = resolve([], facts, host, image=text)
    else:  # one exact pin: the one candidate resolve would build, without searching every release for it
        request = parse_requirements([text])
        name, _, version = text.partition("==")
        roots = {name: version.split("+", 1)[0]} if name in ("torch", "vllm") else {}
        stack = build(request, facts, host, roots)
    findings = check(host, stack, facts, features=features)
    v = verdict(findings, stack)
    reasons = tuple(f for f in findings if f.severity is not Severity.INFO or f.unknown)
    return Cell("", v, text, reasons if v is not Verdict.OK else ())


def _installed(facts: Facts, host: Host, package: str) -> tuple[str | None, str | None, str | None]:
    """(installed version, its release, the column key of its build) on the host."""
    from cudalign.facts import query

    pkg = host.package(package)
    if pkg is None:
        return None, None, None
    try:
        v = Version(pkg.version)
    except InvalidVersion:
        return pkg.version, None, None
    release, local = v.public, v.local
    if package == "torch":
        variant = local or None
        if variant is None:
            series = query.torch_series(facts, release)
            table = series["pypi_default"] if series is not None else {}
            variant = table.get(query.platform_key(host))
        return pkg.version, release, variant
    if package == "vllm":
        return pkg.version, release, f"+{local}" if local else "pypi"
    label = next((c for f in query.package_builds(facts, package, release) if (c := _cuda_label(f))), None)
    return pkg.version, release, f"cuda{label}" if label else None


def make_grid(
    facts: Facts,
    host: Host,
    package: str = "torch",
    *,
    gpus: Sequence[str] = (),
    build: str | None = None,
    max_rows: int | None = None,
    features: Sequence[str] = (),
) -> Grid:
    """The grid of ``package`` on ``host``: releases x builds, or with ``gpus`` releases x those GPUs.

    ``build`` picks the column judged on every GPU (a key of the builds grid: ``cu128``, ``+cu130``,
    ``image``); by default the release's default build (torch: the PyPI wheel; vLLM: ``pypi``).
    ``max_rows`` keeps the newest releases only."""
    from packaging.utils import canonicalize_name

    package = canonicalize_name(package)
    releases = _stable_releases(facts, package)
    if not releases:
        known = ", ".join(sorted(facts.snapshot.packages))
        raise InvalidInput(f"--package {package}: no releases in the PyPI snapshot", hint=f"known: {known}")
    if package == "torch":
        plan = _torch_plan(facts, releases)
    elif package == "vllm":
        plan = _vllm_plan(facts, releases)
    else:
        plan = _package_plan(facts, package, releases)
    if not plan.rows:
        raise InvalidInput(f"--package {package}: the knowledge base knows no CUDA build of its releases")
    rows = plan.rows[:max_rows] if max_rows else plan.rows
    installed, inst_release, inst_column = _installed(facts, host, package)
    if gpus:
        return _gpu_grid(facts, host, package, rows, plan, gpus, build, installed, inst_release, features)
    # only the builds the shown releases have: --max 8 leaves out the columns of older releases
    shown = tuple(c for c in plan.columns if any(hows.get(c.key) is not None for _, hows in rows))
    out = []
    for release, hows in rows:
        cells = []
        for col in shown:
            how = hows.get(col.key)
            mark = release == inst_release and col.key == inst_column
            if how is None:
                cells.append(Cell(col.key, None, installed=mark))
                continue
            cell = _judge(facts, host, how, features)
            cells.append(dataclasses.replace(cell, column=col.key, installed=mark))
        out.append(Row(release, tuple(cells), release == inst_release))
    return Grid(package, "builds", shown, tuple(out), installed)


def _gpu_grid(
    facts: Facts,
    host: Host,
    package: str,
    rows: Sequence[tuple[str, dict[str, tuple[str, str] | None]]],
    plan: _Plan,
    gpus: Sequence[str],
    build: str | None,
    installed: str | None,
    inst_release: str | None,
    features: Sequence[str],
) -> Grid:
    from cudalign.hosts import gpu_from_text

    if build is not None and build not in {c.key for c in plan.columns}:
        keys = ", ".join(c.key for c in plan.columns)
        raise InvalidInput(f"--build {build}: not a build of {package} (its builds: {keys})")
    parsed = [gpu_from_text(facts, name.strip(), 0) for name in gpus if name.strip()]
    if not parsed:
        raise InvalidInput("--gpus: give at least one GPU, e.g. --gpus H100,L4,V100")
    columns = tuple(
        Column(g.name, g.name, "gpu", f"{g.name} (compute capability {g.cc})" if g.cc else g.name)
        for g in parsed
    )
    out = []
    for release, hows in rows:
        how = hows.get(build) if build is not None else _default_build(package, release)
        cells = []
        for g, col in zip(parsed, columns, strict=True):
            if how is None:
                cells.append(Cell(col.key, None))
                continue
            on = dataclasses.replace(host, gpus=(g,))
            cells.append(dataclasses.replace(_judge(facts, on, how, features), column=col.key))
        out.append(Row(release, tuple(cells), release == inst_release))
    return Grid(package, "gpus", columns, tuple(out), installed, build or "default")


def _default_build(package: str, release: str) -> tuple[str, str]:
    """The build ``pip install PACKAGE==RELEASE`` gets: the PyPI wheel."""
    return ("req", f"{package}=={release}")


def grid_report(grid: Grid, host: Host) -> Report:
    """The ``cudalign.matrix/1`` report: ``--fail-on`` is judged on the installed build's cell, if any."""
    mine = [c for r in grid.rows for c in r.cells if c.installed]
    if grid.axis == "gpus":
        mine = [c for r in grid.rows if r.installed for c in r.cells]
    severities = tuple(f.severity for c in mine for f in c.reasons)
    return Report(schema=SCHEMA, host=host, data={"matrix": grid}, exit_on=severities)
