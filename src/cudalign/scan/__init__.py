"""``cudalign scan``: read a repository's requirements, pyproject, lock files, Dockerfiles, compose and
Kubernetes files, group them into services, and report misaligned CUDA, torch and vLLM pins.

Nothing in the repository is executed; YAML is read with a safe loader; files over the size bound,
binary files and links leaving the repository are skipped with a note; a file that does not parse is
a CA609 finding, never a crash.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import InvalidVersion, Version

from cudalign._dataclass import dataclass, field
from cudalign.errors import InvalidInput
from cudalign.model import Finding, Gpu, Host, Report, to_jsonable
from cudalign.scan.config import ScanConfig, apply_config, config_from_pyproject, suppressions
from cudalign.scan.model import Problem, SourceFile
from cudalign.scan.services import Service

if TYPE_CHECKING:
    from cudalign.facts import Facts
    from cudalign.scan.analysis import ServiceView
    from cudalign.stack.images import ImageReader

__all__ = [
    "SCAN_SCHEMA",
    "ScanConfig",
    "ScanResult",
    "Service",
    "parse_file",
    "scan",
]

SCAN_SCHEMA = "cudalign.scan/1"


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What a scan found: the services, the findings (suppressions applied), and what it skipped."""

    root: str
    """The repository root, absolute."""
    views: tuple[ServiceView, ...]
    """Every service with its stack, image facts and the host it was judged on."""
    findings: tuple[Finding, ...]
    """Engine and repo findings, located, suppressions and severity overrides applied."""
    files: tuple[str, ...]
    """Every file read, repo-relative."""
    notes: tuple[str, ...] = ()
    """What was skipped or could not be decided, and why."""
    suppressed: int = 0
    """Findings dropped by inline ignores, ``ignore`` or ``severity = "off"``."""
    fleet_driver: str | None = None
    config: ScanConfig = field(default_factory=ScanConfig)

    def report(self) -> Report:
        """The scan as a :class:`Report` (schema ``cudalign.scan/1``) for the renderers."""
        return Report(
            schema=SCAN_SCHEMA,
            findings=self.findings,
            data={
                "root": self.root,
                "fleet_driver": self.fleet_driver,
                "services": [_service_json(v) for v in self.views],
                "files": list(self.files),
                "suppressed": self.suppressed,
                "notes": list(self.notes),
            },
        )


def _service_json(view: ServiceView) -> dict[str, Any]:
    svc = view.service
    torch = view.stack.component("torch") if view.stack else None
    return {
        "name": svc.name,
        "context": svc.context,
        "dockerfile": svc.dockerfile,
        "files": list(svc.files),
        "image": svc.image.reference if svc.image else None,
        "image_cuda": str(view.image_cuda) if view.image_cuda else None,
        "torch": f"{torch.version}+{torch.variant}"
        if torch and torch.variant
        else (torch.version if torch else None),
        "cuda": str(view.cuda) if view.cuda else None,
        "gpu": view.gpu_stack,
        "compose": [cs.name for cs in svc.compose],
        "k8s": [f"{c.workload}/{c.name}" for c in svc.containers],
        "requirements": list(view.requirements),
        "stack": to_jsonable(view.stack) if view.stack else None,
        "host": to_jsonable(view.host) if view.host else None,
        "note": view.note,
    }


def parse_file(path: str, kind: str, text: str) -> SourceFile | None:
    """Parse one file by kind; ``dockerfile:A=1;B=2`` passes build arguments. Never raises on content."""
    from cudalign.scan import compose, dockerfile, k8s, lock, pyproject, requirements

    if kind == "requirements":
        return requirements.parse_requirements(path, text)
    if kind == "pyproject":
        return pyproject.parse_pyproject(path, text)
    if kind == "uv-lock":
        return lock.parse_uv_lock(path, text)
    if kind == "pylock":
        return lock.parse_pylock(path, text)
    if kind == "poetry-lock":
        return lock.parse_poetry_lock(path, text)
    if kind.startswith("dockerfile"):
        args = dict(a.split("=", 1) for a in kind.partition(":")[2].split(";") if "=" in a)
        return dockerfile.parse_dockerfile(path, text, args)
    if kind == "compose":
        return compose.parse_compose(path, text)
    if kind == "makefile":
        from cudalign.scan.makefile import parse_makefile

        return parse_makefile(path, text)
    if kind in ("yaml", "k8s"):
        return k8s.parse_k8s(path, text) if k8s.looks_like_k8s(text) else None
    return None


def _read_config(root: Path) -> tuple[ScanConfig, list[Problem]]:
    from cudalign.scan.pyproject import toml_loads
    from cudalign.scan.walk import read_text

    path = root / "pyproject.toml"
    if not path.is_file():
        return ScanConfig(), []
    text, _ = read_text(path, "pyproject.toml")
    if text is None:
        return ScanConfig(), []
    try:
        data = toml_loads(text)
    except Exception:  # reported as CA609 when the file itself is parsed
        return ScanConfig(), []
    return config_from_pyproject("pyproject.toml", data)


def _version(text: str | None, what: str) -> Version | None:
    if not text:
        return None
    try:
        return Version(str(text))
    except InvalidVersion:
        raise InvalidInput(f"{what}: not a driver version: {text!r}") from None


def scan(
    path: str | Path,
    facts: Facts,
    host: Host | None = None,
    config: ScanConfig | None = None,
    *,
    fleet_driver: str | None = None,
    gpus: Sequence[str] = (),
    image_reader: ImageReader | None = None,
) -> ScanResult:
    """Scan a repository. ``host`` judges every service (``--host``/``--gpu``/``--driver``);
    ``fleet_driver`` is the fleet's lowest driver; ``config`` defaults to the repo's ``[tool.cudalign]``;
    ``image_reader`` reads images from their registries (``--registry``)."""
    from cudalign.rules import RepoContext, check_repo
    from cudalign.rules.repo import driver_text
    from cudalign.scan.analysis import analyse, replaced_pins
    from cudalign.scan.includes import include_problems
    from cudalign.scan.services import group_services
    from cudalign.scan.walk import read_text, walk

    root = Path(path)
    if not root.is_dir():
        raise InvalidInput(f"{root}: not a directory")
    root = root.resolve()
    config_problems: list[Problem] = []
    if config is None:
        config, config_problems = _read_config(root)
    found = walk(root, exclude=config.exclude)
    notes = list(found.notes)
    parsed: dict[str, SourceFile] = {}
    texts: dict[str, str] = {}
    templates: dict[str, int] = {}
    charts = {posixpath.dirname(f.path) for f in found.files if posixpath.basename(f.path) == "Chart.yaml"}
    by_path = {f.path: f for f in found.files}
    for f in found.files:
        folder = posixpath.dirname(f.path)
        if f.kind == "yaml" and folder in charts and posixpath.basename(f.path) == "values.yaml":
            from cudalign.scan.helm import parse_values

            chart_file = by_path.get(posixpath.join(folder, "Chart.yaml") if folder else "Chart.yaml")
            parsed[f.path] = parse_values(f.path, f.text, chart_file.text if chart_file else None)
            texts[f.path] = f.text
            continue
        if f.kind == "compose":
            from cudalign.scan.compose import parse_compose

            env_path = root / folder / ".env"
            env_text = read_text(env_path, posixpath.join(folder, ".env"))[0] if _is_file(env_path) else None
            parsed[f.path] = parse_compose(f.path, f.text, _dotenv(env_text) if env_text else None)
            texts[f.path] = f.text
            continue
        if f.kind == "yaml" and "{{" in f.text:
            if "\napiVersion:" in "\n" + f.text:
                folder = posixpath.dirname(f.path) or "."
                templates[folder] = templates.get(folder, 0) + 1
            continue
        sf = parse_file(f.path, f.kind, f.text)
        if sf is not None:
            parsed[f.path] = sf
            texts[f.path] = f.text

    for folder, count in templates.items():
        what = "a template" if count == 1 else f"{count} templates"
        chart = posixpath.dirname(folder) if posixpath.basename(folder) == "templates" else folder
        if chart in charts:
            notes.append(
                f"{folder}/: {what} not rendered (no Helm run); images and GPU requests read from "
                f"{posixpath.join(chart, 'values.yaml')}"
            )
        else:
            notes.append(f"{folder}/: {what} ({{{{ … }}}}, Helm or similar) skipped, not manifests")

    _deployment_units(
        parsed, charts, {posixpath.dirname(f.path) for f in found.files if _kustomization(f.path)}
    )
    if any(c.runtime for sf in parsed.values() for c in sf.containers):
        _kserve_runtimes(parsed, notes)

    included: dict[str, SourceFile] = {}  # files only an include names (any file name)
    missing: list[str] = []  # files an include names that the repository lacks

    def load(rel: str, kind: str) -> SourceFile | None:
        if kind.startswith("dockerfile:"):
            text = texts.get(rel)
            return parse_file(rel, kind, text) if text is not None else None
        if rel.startswith("..") or posixpath.isabs(rel):
            notes.append(f"{rel}: skipped, outside the repository")
            return None
        full = root / rel
        if not _is_file(full):
            missing.append(rel)
            return None
        if not full.resolve().is_relative_to(root):
            notes.append(f"{rel}: skipped, link leaves the repository")
            return None
        text, note = read_text(full, rel)
        if note:
            notes.append(note)
        if text is None:
            return None
        texts[rel] = text
        sf = parse_file(rel, kind, text)
        if sf is not None:
            included[rel] = sf
        return sf

    services: list[Service] = group_services(
        parsed, load, root_name=root.name, exists=lambda rel: rel in parsed or _is_file(root / rel)
    )
    fleet = _version(fleet_driver or config.fleet_driver, "--fleet-driver")
    base_host = host
    if base_host is None and (fleet is not None or config.gpus or gpus):
        from cudalign.hosts import describe_host

        base_host = describe_host(
            facts, gpus=tuple(gpus) or config.gpus, driver=driver_text(fleet) if fleet else None
        )
    if fleet is None and host is not None and host.driver is not None and host.driver.version:
        fleet = _version(host.driver.version, "--driver")
    elif (
        fleet is not None and base_host is not None and base_host.driver is None
    ):  # --gpu with --fleet-driver
        from cudalign.model import DriverInfo

        unknown = {k: v for k, v in base_host.unknown.items() if k != "driver"}
        base_host = replace(
            base_host, driver=DriverInfo(version=driver_text(fleet), source="described"), unknown=unknown
        )
    host_for = _k8s_hosts(services, facts, base_host, notes) if host is None or not host.gpus else {}
    views = analyse(services, facts, base_host, host_for, image_reader)
    every = {**included, **parsed}
    graph = include_problems(every, lambda rel: _is_file(root / rel), parsed)
    problems = [p for sf in every.values() for p in sf.problems] + list(graph.problems) + config_problems
    notes.extend(graph.notes)
    notes.extend(
        f"{rel}: named by an include but not in the repository" for rel in missing if rel not in graph.missing
    )
    for sf in every.values():
        notes.extend(sf.notes)
    for v in views:
        if v.note:
            notes.append(f"{v.service.name}: {v.note}")
        for later, by, version in replaced_pins(v.service, v.stack) if v.stack is not None else ():
            notes.append(
                f"{later.location.file}:{later.location.line}: {later.text} is installed by a later, "
                f"separate command over the {version} that {by} pins (pip replaces it and warns): judged "
                f"with {by}'s pin"
            )
        for image in v.service.images:
            if image.unresolved:
                where = f"{image.location.file}:{image.location.line}"
                notes.append(
                    f"{where}: FROM {image.reference} needs --build-arg {', '.join(image.unresolved)} "
                    "(no default): its CUDA is unknown"
                )
    engine: list[Finding] = []
    for v in views:
        for found_f in v.findings:
            if found_f.unknown is not None:  # what the knowledge base cannot decide is a note, not a finding
                where = f"{found_f.location.file}:{found_f.location.line}: " if found_f.location else ""
                notes.append(f"{where}{found_f.message} (unknown: {found_f.unknown})")
            elif found_f.code == "CA308" and found_f.severity.rank == 0:
                continue  # an untracked package is unchecked: check says so, scan stays quiet about it
            elif found_f.code == "CA501" and _declares_library(v.service, found_f.message):
                continue  # the service installs the library wheel the rule asks for
            else:
                engine.append(found_f)
    ctx = RepoContext(
        views,
        facts,
        fleet_driver=fleet,
        problems=problems,
        engine_codes={
            v.service.name: frozenset(f.code for f in v.findings if not f.unknown and f.condition is None)
            for v in views
        },
    )
    owner = {file: v.service.name for v in reversed(views) for file in v.service.files}
    findings = [
        replace(f, service=owner.get(f.location.file)) if f.service is None and f.location else f
        for f in _dedupe(engine + check_repo(ctx))
    ]
    inline = {p: suppressions(t) for p, t in texts.items() if "cudalign:" in t}
    kept, dropped = apply_config(findings, config, inline)
    from cudalign.scan.fold import fold

    kept = fold(kept)
    kept.sort(
        key=lambda f: (
            f.service or "",
            -f.severity.rank,
            f.code,
            f.location.file if f.location else "",
            (f.location.line or 0) if f.location else 0,
        )
    )
    return ScanResult(
        root=str(root),
        views=tuple(views),
        findings=tuple(kept),
        files=tuple(sorted(texts)),
        notes=tuple(dict.fromkeys(notes)),
        suppressed=dropped,
        fleet_driver=driver_text(fleet) if fleet else None,
        config=config,
    )


def _kustomization(path: str) -> bool:
    return posixpath.basename(path) in ("kustomization.yaml", "kustomization.yml", "Kustomization")


def _deployment_units(parsed: dict[str, SourceFile], charts: set[str], kustomizations: set[str]) -> None:
    """Tag each Kubernetes container with the Helm chart or kustomization folder its manifest belongs to
    (the nearest one above it): its workloads are deployed together, so their drift is compared."""
    units = charts | kustomizations
    if not units:
        return
    for path, sf in list(parsed.items()):
        if not sf.containers:
            continue
        folder = posixpath.dirname(path)
        while folder not in units and folder:
            folder = posixpath.dirname(folder)
        unit = folder if folder in units else None
        if unit is not None:
            parsed[path] = replace(sf, containers=tuple(replace(c, deployment=unit) for c in sf.containers))


def _kserve_runtimes(parsed: dict[str, SourceFile], notes: list[str]) -> None:
    """Give KServe model containers the image of the ServingRuntime they name or are picked by."""
    from cudalign.scan.k8s import resolve_runtimes

    order = [(path, i) for path, sf in parsed.items() for i in range(len(sf.containers))]
    every = [parsed[path].containers[i] for path, i in order]
    resolved, found_notes = resolve_runtimes(every)
    notes.extend(found_notes)
    changed: dict[str, list[Any]] = {}
    for k, container in resolved.items():
        path, i = order[k]
        changed.setdefault(path, list(parsed[path].containers))[i] = container
    for path, containers in changed.items():
        parsed[path] = replace(parsed[path], containers=tuple(containers))


def _declares_library(service: Service, message: str) -> bool:
    """Whether the service declares the CUDA library wheels a CA501 message names (``libcublas.so.12``
    -> ``nvidia-cublas-cu12``): pip installs them in the same run."""
    import re

    names = {d.name for d in service.requirements}
    libs = re.findall(r"lib(\w+?)\.so\.(\d+)", message)
    return bool(libs) and all(f"nvidia-{lib}-cu{major}" in names for lib, major in libs)


def _dotenv(text: str) -> dict[str, str]:
    """``KEY=value`` lines of a compose ``.env`` file (quotes stripped, comments skipped)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False for a name the system refuses (too long, a NUL byte) as well."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[object, ...]] = set()
    out = []
    for f in findings:
        key = (f.code, f.message, f.location, f.service)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _k8s_hosts(services: list[Service], facts: Facts, base: Host | None, notes: list[str]) -> dict[str, Host]:
    """A described host per service whose k8s manifest pins a GPU product (``nvidia.com/gpu.product``)."""
    from cudalign.errors import UnknownGpu
    from cudalign.hosts import gpu_from_text

    out: dict[str, Host] = {}
    for svc in services:
        products = [p for c in svc.containers for p in c.gpu_products]
        gpus: list[Gpu] = []
        for text in dict.fromkeys(products):
            try:
                gpus.append(gpu_from_text(facts, text.replace("-", " "), len(gpus)))
            except UnknownGpu:
                notes.append(f"{svc.name}: GPU product label {text!r} is not in the knowledge base")
        if gpus:
            from cudalign.model import OsInfo

            template = base or Host(
                origin="described",
                os=OsInfo(system="Linux", arch="x86_64"),
                unknown={"driver": "not given (--fleet-driver)"},
            )
            out[svc.name] = replace(template, gpus=tuple(gpus), origin="described")
    return out
