"""``cudalign align``: one matrix every GPU service of a repository can run, as edits to its own files.

The repository is read by ``scan``; the CUDA-sensitive packages its GPU services declare become one request
(exact pins that disagree become a floor, torch's companions follow torch) unless ``--target`` gives it;
``plan`` picks the matrix on the host (the fleet's). Each service then gets that matrix in its own files:
requirement pins and the index torch's build needs, the CUDA version of an ``nvidia/cuda`` base image (its
flavour and OS kept), a ``vllm/vllm-openai`` tag in compose and Kubernetes files. The edited repository is
scanned again (a temporary copy, nothing written) so that no torch drift, CUDA drift or base-image mismatch
(CA601-CA603) the matrix was meant to remove can remain. When no matrix serves every service, each service
gets its own and the conflict is named.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from cudalign._dataclass import dataclass, field
from cudalign.align.edits import EditedFile
from cudalign.errors import InvalidInput

if TYPE_CHECKING:
    from cudalign.facts import Facts
    from cudalign.model import Finding, Host, Matrix
    from cudalign.scan import ScanResult
    from cudalign.scan.analysis import ServiceView

__all__ = ["DRIFT_CODES", "AlignResult", "align", "request_for"]

DRIFT_CODES = frozenset({"CA601", "CA602", "CA603"})
"""The repo findings one matrix removes: torch drift, CUDA drift, base image vs torch CUDA."""


@dataclass(slots=True)
class AlignResult:
    """The chosen matrix, why, the services it leaves out, the edits, and what scan says afterwards."""

    root: str
    request: tuple[str, ...]
    matrix: Matrix | None
    joined: tuple[str, ...]
    left_out: dict[str, str] = field(default_factory=dict)
    """Service -> why it cannot join (and, when it has one, its own matrix)."""
    files: list[EditedFile] = field(default_factory=list)
    before: tuple[Finding, ...] = ()
    after: tuple[Finding, ...] = ()
    """Findings of the re-scan of the edited repository."""

    @property
    def remaining(self) -> tuple[Finding, ...]:
        """Drift findings the matrix was meant to remove that the edited repository still has."""
        return tuple(f for f in self.after if f.code in DRIFT_CODES and f.service in self.joined)

    @property
    def changed(self) -> list[EditedFile]:
        return [f for f in self.files if f.changed]


def _public(version: str) -> Version | None:
    try:
        return Version(Version(version).public)
    except InvalidVersion:
        return None


def request_for(views: Sequence[ServiceView], facts: Facts, *, relax: bool = False) -> tuple[str, ...]:
    """The request every GPU service's declarations make together: one requirement per CUDA-sensitive
    package (exact pins that disagree become ``>=`` the lowest; a range is kept); torch's companions by
    name only, since they follow torch. ``relax``: every pin but torch's and vLLM's becomes a floor (a
    neighbour such as CTranslate2 may move up to a build for the matrix's CUDA and cuDNN)."""
    from cudalign.facts import query
    from cudalign.scan.analysis import cuda_sensitive

    companions = query.torch_companions(facts)
    pins: dict[str, list[Version]] = {}
    ranges: dict[str, str] = {}
    order: list[str] = []
    for v in views:
        if not v.gpu_stack:
            continue
        for d in v.service.requirements:
            if d.constraint or d.locked or not cuda_sensitive(d.name, facts):
                continue
            if d.name not in order:
                order.append(d.name)
            if d.name in companions:
                continue
            exact = _public(d.pinned_version) if d.pinned_version else None
            if exact is not None:
                pins.setdefault(d.name, []).append(exact)
            elif d.specifier:
                ranges.setdefault(d.name, d.specifier)
    out = []
    for name in order:
        if name in pins:
            versions = sorted(set(pins[name]))
            floor = len(versions) > 1 or (relax and name not in ("torch", "vllm"))
            out.append(f"{name}>={versions[0]}" if floor else f"{name}=={versions[0]}")
        elif name in ranges:
            out.append(f"{name}{ranges[name]}")
        else:
            out.append(name)
    return tuple(out)


@cache
def _cuda_tag() -> re.Pattern[str]:
    """An ``nvidia/cuda`` tag: repository (a registry prefix allowed), CUDA version, the rest (compiled on
    first use, not at import)."""
    return re.compile(r"^(?P<repo>(?:[\w.-]+/)?nvidia/cuda):(?P<cuda>\d+\.\d+(?:\.\d+)?)-(?P<rest>[\w.-]+)$")


def _newest_toolkit(cuda: str, facts: Facts) -> Version | None:
    """The newest toolkit release (``12.6.3``) of CUDA ``cuda``'s minor, which base images are tagged with."""
    from cudalign.facts import query

    minor = query.cuda_minor(cuda)
    same = [
        v
        for v in (f["version"] for f in query.toolkits(facts))
        if len(v.release) >= 3 and query.cuda_minor(v) == minor
    ]
    return max(same) if same else None


def _cuda_image(reference: str, toolkit: Version | None) -> str | None:
    """``reference`` (an ``nvidia/cuda`` tag) moved to ``toolkit`` (:func:`_newest_toolkit`), its flavour
    (runtime/devel/base) and OS kept; a cuDNN 8 flavour dropped (torch's wheels bring cuDNN)."""
    m = _cuda_tag().match(reference)
    if m is None or toolkit is None:
        return None
    rest = re.sub(r"^cudnn\d*-", "", m.group("rest"))
    return f"{m.group('repo')}:{toolkit}-{rest}"


def align(
    path: str | Path,
    facts: Facts,
    host: Host,
    *,
    targets: Sequence[str] = (),
    result: ScanResult | None = None,
) -> AlignResult:
    """Choose one matrix for the repository's GPU services and make the edits (in memory)."""
    from cudalign.plan import make_plan
    from cudalign.scan import scan

    before = result or scan(path, facts, host)
    gpu = [v for v in before.views if v.gpu_stack and v.stack is not None]
    if not gpu:
        raise InvalidInput(f"{path}: no service with a GPU stack to align")
    request = tuple(targets) or request_for(gpu, facts)
    plan = make_plan(request, facts, host, max_matrices=1, no_driver_change=True)
    if not plan.matrices and not targets:  # the neighbours' exact pins may move up; torch and vLLM stay
        relaxed = request_for(gpu, facts, relax=True)
        again = make_plan(relaxed, facts, host, max_matrices=1, no_driver_change=True)
        if again.matrices:
            request, plan = relaxed, again
    out = AlignResult(before.root, request, None, (), before=before.findings)
    if not plan.matrices:
        _per_service(out, gpu, facts, host, plan.rejected)
        return out
    matrix = plan.matrices[0]
    out.matrix = matrix
    out.joined = tuple(v.service.name for v in gpu)
    _edit(out, gpu, matrix, facts)
    out.after = _rescan(Path(before.root), before.files, out.files, facts, host)
    return out


def _per_service(
    out: AlignResult, gpu: Sequence[ServiceView], facts: Facts, host: Host, rejected: object
) -> None:
    from cudalign.plan import make_plan

    reasons = "; ".join(f"{r.family}: {r.code} {r.reason}" for r in rejected) or "no candidate"  # type: ignore[attr-defined]
    names = ", ".join(v.service.name for v in gpu)
    for v in gpu:
        own = make_plan(request_for([v], facts), facts, host, max_matrices=1, no_driver_change=True)
        m = own.matrices[0] if own.matrices else None
        alone = (
            f"its own matrix: torch {m.torch}, CUDA {m.cuda}, image {m.image}"
            if m
            else "no matrix alone either"
        )
        out.left_out[v.service.name] = f"{names} share no matrix on this host ({reasons}); {alone}"


def _version_of(matrix: Matrix, name: str) -> str | None:
    comp = matrix.stack.component(name)
    if comp is None:
        return None
    return str(_public(comp.version) or comp.version)


def _name_as_written(text: str) -> str:
    return re.split(r"[=<>!~;\[ @(]", text, maxsplit=1)[0].strip()


def _file(out: AlignResult, root: Path, rel: str) -> EditedFile:
    for f in out.files:
        if f.path == rel:
            return f
    try:
        data = (root / rel).read_bytes()
        f = EditedFile.read(rel, data)
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{rel}: cannot read: {exc}") from None
    out.files.append(f)
    return f


def _edit(out: AlignResult, gpu: Sequence[ServiceView], matrix: Matrix, facts: Facts) -> None:
    root = Path(out.root)
    index = matrix.torch_index
    needs_index: list[EditedFile] = []
    toolkit = _newest_toolkit(matrix.cuda, facts) if matrix.cuda else None  # once, not per image
    for v in gpu:
        svc = v.service
        has_index = {i.url.rstrip("/") for i in svc.indexes}
        if matrix.vllm and _in_vllm_image(v):  # the image brings vLLM's own torch build: no index to add
            has_index.add(str(index).rstrip("/"))
        for d in svc.requirements:
            version = _version_of(matrix, d.name)
            if version is None or d.locked or d.url:
                continue
            f = _file(out, root, d.location.file)
            new = f"{_name_as_written(d.text)}=={version}"
            if d.pinned_version != version:
                f.replace(d.location.line or 0, d.text, new, f"{svc.name}: {d.text} -> {new}")
            if index and d.name in ("torch", "vllm") and index.rstrip("/") not in has_index:
                if f.path.endswith(".txt") and f not in needs_index:
                    needs_index.append(f)
                has_index.add(index.rstrip("/"))
        if toolkit is not None:
            _edit_images(out, v, toolkit)
        if matrix.vllm:
            _edit_vllm_images(out, v, matrix, facts)
    for f in needs_index:  # last: an inserted line moves the lines the declarations point at
        if all(str(index) not in ln for ln in f.lines):
            f.insert_after_header(f"--extra-index-url {index}", f"torch {matrix.torch} comes from its index")


def _edit_images(out: AlignResult, v: ServiceView, toolkit: Version) -> None:
    root = Path(out.root)
    for image in v.service.images:
        if not image.final:
            continue
        new = _cuda_image(image.reference, toolkit)
        if new is None or new == image.reference:
            continue
        f = _file(out, root, image.location.file)
        why = f"{v.service.name}: base image {image.reference} -> {new}"
        if not f.replace(image.location.line or 0, image.reference, new, why):
            _edit_arg(out, v, f, image.reference, new, why)


_VLLM_REPOSITORY = "vllm/vllm-openai"


def _vllm_tag(matrix: Matrix) -> str:
    """The ``vllm/vllm-openai`` tag of the matrix's vLLM: the plan's image when it is that repository's
    (``v0.13.0``), else the release's own tag (``v`` and the version, as the project tags its images)."""
    from cudalign.stack.images import parse_reference

    if matrix.image:
        name = parse_reference(matrix.image)
        if name.path == _VLLM_REPOSITORY and name.tag:
            return name.tag
    return f"v{matrix.vllm}"


def _vllm_image(reference: str, matrix: Matrix, facts: Facts) -> str | None:
    """``reference`` (a ``vllm/vllm-openai`` image, a mirror's copy included) moved to the matrix's vLLM:
    the registry and path as written, the new tag; a digest goes (it pins the old image). None when it is
    no such image, its tag names no vLLM release (``latest``, ``nightly``) or it already holds that vLLM."""
    from cudalign.stack.images import image_info, parse_reference

    name = parse_reference(reference)
    if _VLLM_REPOSITORY not in name.candidates() or not name.tag:
        return None
    info = image_info(facts, reference)
    held = info.vllm if "image_channel" not in info.unknown else None  # a moving tag names no release
    if held is None or _public(held) == _public(str(matrix.vllm)):
        return None
    written = reference.strip().split("@", 1)[0]
    return f"{written.rsplit(':', 1)[0]}:{_vllm_tag(matrix)}"


def _in_vllm_image(v: ServiceView) -> bool:
    """The service builds on a ``vllm/vllm-openai`` image (its final stage), which align moves to the
    matrix's vLLM: torch comes with it, built for the image's CUDA."""
    from cudalign.stack.images import parse_reference

    return any(
        i.final and _VLLM_REPOSITORY in parse_reference(i.reference).candidates() for i in v.service.images
    )


def _edit_vllm_images(out: AlignResult, v: ServiceView, matrix: Matrix, facts: Facts) -> None:
    """The service's ``vllm/vllm-openai`` images (its Dockerfile's final ``FROM``, its compose ``image:``,
    its Kubernetes containers) moved to the matrix's vLLM, each on the line that names it."""
    root = Path(out.root)
    refs = [i for i in v.service.images if i.final]
    refs += [cs.image for cs in v.service.compose if cs.image is not None]
    refs += [c.image for c in v.service.containers if c.image is not None]
    seen: set[tuple[str, int | None, str]] = set()
    for image in refs:
        key = (image.location.file, image.location.line, image.reference)
        if key in seen or not image.location.line:
            continue
        seen.add(key)
        new = _vllm_image(image.reference, matrix, facts)
        if new is None:
            continue
        f = _file(out, root, image.location.file)
        f.replace(
            image.location.line, image.reference, new, f"{v.service.name}: image {image.reference} -> {new}"
        )


def _edit_arg(out: AlignResult, v: ServiceView, f: EditedFile, old: str, new: str, why: str) -> None:
    """The image comes through an ``ARG``: change the default (and a compose build argument that sets it)."""
    old_tag, new_tag = old.split(":", 1)[1], new.split(":", 1)[1]
    old_cuda, new_cuda = old_tag.split("-", 1)[0], new_tag.split("-", 1)[0]
    for i, line in enumerate(f.lines, 1):
        if line.lstrip().upper().startswith("ARG ") and "=" in line:
            if old in line:
                f.replace(i, old, new, why)
                return
            if line.rstrip().endswith("=" + old_cuda):
                f.replace(i, "=" + old_cuda, "=" + new_cuda, why)
    root = Path(out.root)
    for cs in v.service.compose:
        for name, value in cs.build_args.items():
            if value == old_cuda:
                cf = _file(out, root, cs.location.file)
                for i, line in enumerate(cf.lines, 1):
                    if re.search(rf"\b{re.escape(name)}\s*[:=]\s*['\"]?{re.escape(old_cuda)}\b", line):
                        cf.replace(i, old_cuda, new_cuda, f"{v.service.name}: build arg {name} -> {new_cuda}")


def _memory_tmp() -> str | None:
    """A memory-backed folder for the re-scan's copy (``/dev/shm``), unless the user chose one (``TMPDIR``):
    the copy is written, scanned once and removed, so a disk folder only adds its writes and unlinks."""
    import os

    shm = "/dev/shm"
    if os.environ.get("TMPDIR") or not os.path.isdir(shm) or not os.access(shm, os.W_OK | os.X_OK):
        return None
    return shm


def _rescan(
    root: Path, files: Sequence[str], edited: Sequence[EditedFile], facts: Facts, host: Host
) -> tuple[Finding, ...]:
    """Scan a temporary copy of the repository's files with the edits applied."""
    import shutil
    import tempfile

    from cudalign.scan import scan

    texts = {f.path: f.text for f in edited}
    with tempfile.TemporaryDirectory(prefix="cudalign-align-", dir=_memory_tmp()) as tmp:
        for rel in files:
            target = Path(tmp) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if rel in texts:
                target.write_bytes(texts[rel].encode("utf-8"))
            else:
                shutil.copyfile(root / rel, target)
        return scan(tmp, facts, host).findings
