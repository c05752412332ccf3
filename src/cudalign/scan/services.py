"""Group parsed files into services: one per build (Dockerfile and its context), one per folder of
dependency files no build claims, one per image-only compose service or unmatched k8s container."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from cudalign._dataclass import dataclass
from cudalign.scan.model import (
    BuildStep,
    ComposeService,
    Declared,
    EnvVar,
    ImageRef,
    Include,
    IndexRef,
    K8sContainer,
    SourceFile,
)

__all__ = ["Service", "group_services", "image_repository"]

_DEPENDENCY_KINDS = ("requirements", "pyproject", "uv-lock", "pylock", "poetry-lock")
# folders that hold a service's requirement files rather than being a service of their own
_REQUIREMENT_FOLDERS = frozenset({"requirements", "reqs", "requirements.d", "constraints", "deps"})


@dataclass(frozen=True, slots=True)
class Service:
    """One deployable unit and everything the repository declares for it."""

    name: str
    context: str
    """Repo-relative build context or folder (``"."`` for the root)."""
    files: tuple[str, ...]
    """The files that make it, repo-relative."""
    dockerfile: str | None = None
    requirements: tuple[Declared, ...] = ()
    indexes: tuple[IndexRef, ...] = ()
    no_index: bool = False
    image: ImageRef | None = None
    """The image it runs in: the Dockerfile's final stage, or the compose/k8s image."""
    images: tuple[ImageRef, ...] = ()
    """Every stage's base image."""
    env: tuple[EnvVar, ...] = ()
    compose: tuple[ComposeService, ...] = ()
    containers: tuple[K8sContainer, ...] = ()
    system_packages: tuple[str, ...] = ()
    builds: tuple[BuildStep, ...] = ()
    """CUDA extensions its Dockerfile compiles."""
    """Distribution packages its Dockerfile installs (``libcudnn8`` …)."""

    def requirement_files(self) -> dict[str, list[Declared]]:
        """Declarations by file, lock files left out."""
        out: dict[str, list[Declared]] = {}
        for d in self.requirements:
            if not d.locked:
                out.setdefault(d.location.file, []).append(d)
        return out


def _reference(reference: str) -> str:
    """``docker.io/vllm/vllm-openai:v0.9.0`` -> ``vllm/vllm-openai:v0.9.0``; no tag means ``latest``."""
    ref = reference.split("@", 1)[0]
    tag = ref.rsplit(":", 1)[1] if ":" in ref.rsplit("/", 1)[-1] else "latest"
    return f"{image_repository(reference)}:{tag}"


def image_repository(reference: str) -> str:
    """``registry.example.com:5000/org/tts:1.2@sha256:…`` -> ``org/tts``; ``tts`` -> ``tts``."""
    ref = reference.split("@", 1)[0]
    last = ref.rsplit("/", 1)
    if ":" in last[-1]:
        ref = ref[: ref.rfind(":")]
    parts = ref.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    return "/".join(parts).lower()


def _owner(path: str, roots: set[str]) -> str:
    d = posixpath.dirname(path) or "."
    while True:
        if d in roots:
            return d
        if d in (".", ""):
            return "."
        d = posixpath.dirname(d) or "."


def group_services(
    parsed: Mapping[str, SourceFile],
    load: Callable[[str, str], SourceFile | None],
    *,
    root_name: str,
    exists: Callable[[str], bool] | None = None,
) -> list[Service]:
    """Build the services. ``load(path, kind)`` parses a file an include names (or None);
    ``exists(path)`` says whether the repository has a file."""
    has = exists or (lambda p: p in parsed)

    def in_context(context: str, path: str) -> str:
        # `docker build -f docker/Dockerfile .` is common: a file the build context lacks is looked
        # for in the folders above it, up to the repository root
        here = context
        while True:
            candidate = posixpath.normpath(posixpath.join(here, path))
            if has(candidate) or here in (".", ""):
                return candidate if has(candidate) else posixpath.normpath(posixpath.join(context, path))
            here = posixpath.dirname(here) or "."

    dockerfiles = sorted(p for p, f in parsed.items() if f.kind == "dockerfile")
    composes = [s for f in parsed.values() if f.kind == "compose" for s in f.compose_services]
    templates = {cs.extends for cs in composes if cs.extends}
    composes = [replace(cs, extended=(cs.location.file, cs.name) in templates) for cs in composes]
    files_of: dict[str, set[str]] = {}
    for cs in composes:
        files_of.setdefault(cs.name, set()).add(cs.location.file)
    composes = [  # one name in several compose files: say which file each comes from
        replace(cs, name=f"{cs.name} ({cs.location.file})") if len(files_of[cs.name]) > 1 else cs
        for cs in composes
    ]
    containers = [c for f in parsed.values() if f.kind == "k8s" for c in f.containers]
    by_dockerfile: dict[str, list[ComposeService]] = {}
    for cs in composes:
        if cs.dockerfile:
            by_dockerfile.setdefault(cs.dockerfile, []).append(cs)
    roots = {posixpath.dirname(p) or "." for p in dockerfiles}
    roots |= {posixpath.dirname(p) or "." for p, f in parsed.items() if f.kind == "pyproject"}
    roots |= {cs.context for cs in composes if cs.context}
    roots |= {
        posixpath.dirname(p) or "."
        for p, f in parsed.items()
        if f.kind == "requirements" and posixpath.basename(posixpath.dirname(p)) not in _REQUIREMENT_FOLDERS
    }
    workspace_locks: dict[str, tuple[str, tuple[str, ...]]] = {}  # lock path -> (workspace dir, member globs)
    for p, f in parsed.items():
        base = posixpath.dirname(p) or "."
        lock = posixpath.normpath(posixpath.join(base, "uv.lock"))
        if f.kind == "pyproject" and f.workspace_members and lock in parsed:
            workspace_locks[lock] = (base, f.workspace_members)
    claimed: set[str] = set(workspace_locks)
    services: list[Service] = []
    cache: dict[str, SourceFile | None] = dict(parsed)

    def closure(paths: Iterable[tuple[str, str]]) -> list[SourceFile]:
        out: list[SourceFile] = []
        todo = list(paths)
        seen: set[str] = set()
        while todo:
            path, kind = todo.pop(0)
            if path in seen:
                continue
            seen.add(path)
            if path not in cache:
                cache[path] = load(path, "requirements" if kind == "constraints" else kind)
            sf = cache[path]
            if sf is None:
                continue
            if kind == "constraints":  # a constraints file pins, it does not install
                sf = replace(sf, requirements=tuple(replace(d, constraint=True) for d in sf.requirements))
            out.append(sf)
            base = posixpath.dirname(path)
            for inc in sf.includes:
                if sf.kind != "dockerfile" and "://" not in inc.path:  # a URL is not in the repository
                    sub = (
                        "constraints" if inc.kind == "constraint" or kind == "constraints" else "requirements"
                    )
                    todo.append((posixpath.normpath(posixpath.join(base, inc.path)), sub))
        return out

    def _makefile(path: str) -> SourceFile | None:
        return load(path, "makefile") if has(path) else None  # one the build makes itself: unknown

    jobs: list[tuple[str, list[ComposeService]]] = []
    for df in dockerfiles:
        every = by_dockerfile.get(df, [])
        variants: dict[tuple[tuple[str, str], ...], list[ComposeService]] = {}
        for cs in every:  # compose services that build it with other arguments build another image
            variants.setdefault(tuple(sorted(cs.build_args.items())), []).append(cs)
        if len(variants) > 1:
            jobs.extend((df, group) for group in variants.values())
        else:
            jobs.append((df, every))
    for df, users in jobs:
        context = users[0].context if users and users[0].context else (posixpath.dirname(df) or ".")
        sf = parsed[df]
        users = [replace(cs, base_image=_final(_with_args(df, cs, load) or sf)) for cs in users]
        if users and all(cs.build_args for cs in users):
            sf = _with_args(df, users[0], load) or sf
        if any(b.make for b in sf.builds):
            sf = replace(sf, builds=_make_builds(sf.builds, context, in_context, _makefile))
        if sf.includes:
            inc = [
                (in_context(context, i.path), "constraints" if i.kind == "constraint" else "requirements")
                for i in sf.includes
            ]
            deps = _installed_by(closure(inc), sf.includes, inc, closure)
        else:
            owned = [
                p for p, f in parsed.items() if f.kind in _DEPENDENCY_KINDS and _owner(p, roots) == context
            ]
            deps = closure((p, parsed[p].kind) for p in sorted(owned))
        claimed.update(d.path for d in deps)
        name = users[0].name if users else _name(context, root_name)
        if not users and sum(1 for d in dockerfiles if (posixpath.dirname(d) or ".") == context) > 1:
            name = f"{name} ({posixpath.basename(df)})"
        services.append(_service(name, context, [sf, *deps], users, df))
    included = {  # files another dependency file includes belong to that file's service
        posixpath.normpath(posixpath.join(posixpath.dirname(p), inc.path))
        for p, f in parsed.items()
        if f.kind in _DEPENDENCY_KINDS
        for inc in f.includes
    }
    leftover: dict[str, list[str]] = {}
    for p, f in sorted(parsed.items()):
        if f.kind in _DEPENDENCY_KINDS and p not in claimed and p not in included:
            leftover.setdefault(_owner(p, roots), []).append(p)
    for context, paths in sorted(leftover.items()):
        deps = closure((p, parsed[p].kind) for p in paths)
        if not any(d.requirements or d.indexes for d in deps):
            continue
        services.append(_service(_name(context, root_name), context, deps, [], None))
    # files that include one another in a loop (a -> b -> a) are each "included", so no service above
    # starts from them; they still declare what their folder installs
    covered = claimed | {f for svc in services for f in svc.files}
    looped: dict[str, list[str]] = {}
    for p, f in sorted(parsed.items()):
        if f.kind in _DEPENDENCY_KINDS and p not in covered:
            looped.setdefault(_owner(p, roots), []).append(p)
    for context, paths in sorted(looped.items()):
        deps = closure((p, parsed[p].kind) for p in paths)
        if any(d.requirements or d.indexes for d in deps):
            services.append(_service(_name(context, root_name), context, deps, [], None))
    services = [_with_workspace_lock(svc, parsed, workspace_locks) for svc in services]
    for cs in composes:
        if cs.dockerfile is None and cs.image is not None:
            services.append(
                Service(cs.name, ".", (cs.location.file,), image=cs.image, env=cs.env, compose=(cs,))
            )
    return _attach_k8s(_unique(services), containers)


def _installed_by(
    deps: list[SourceFile],
    includes: tuple[Include, ...],
    paths: list[tuple[str, str]],
    closure: Callable[[Iterable[tuple[str, str]]], list[SourceFile]],
) -> list[SourceFile]:
    """The requirements files a Dockerfile installs with ``-r``, each requirement numbered with the install
    command that names the file (the first one, when several do)."""
    number: dict[str, int] = {}
    for inc, path in zip(includes, paths, strict=True):
        for sf in closure([path]):
            number.setdefault(sf.path, inc.install)
    return [
        replace(
            sf,
            requirements=tuple(
                replace(d, install=number[sf.path]) if not d.locked and not d.install else d
                for d in sf.requirements
            ),
        )
        if number.get(sf.path)
        else sf
        for sf in deps
    ]


def _make_builds(
    steps: tuple[BuildStep, ...],
    context: str,
    in_context: Callable[[str, str], str],
    read: Callable[[str], SourceFile | None],
) -> tuple[BuildStep, ...]:
    """``RUN make TARGET`` steps whose Makefile recipes compile a CUDA extension, as such builds; those
    whose Makefile is not in the repository or builds nothing are dropped (nothing is known of them)."""
    from cudalign.scan.dockerfile import build_command
    from cudalign.scan.makefile import find_build

    out: list[BuildStep] = []
    for step in steps:
        if step.make is None:
            out.append(step)
            continue
        found = find_build(step.make, lambda p: read(in_context(context, p)), build_command)
        if found is not None:
            out.append(replace(step, command=found[0], by_name=found[1], make=None))
    return tuple(out)


def _with_workspace_lock(
    svc: Service, parsed: Mapping[str, SourceFile], locks: Mapping[str, tuple[str, tuple[str, ...]]]
) -> Service:
    """A uv workspace member resolves through the workspace's ``uv.lock``: add the locked versions of
    the packages the member declares."""
    import fnmatch

    for lock, (base, members) in locks.items():
        rel = svc.context if base == "." else posixpath.relpath(svc.context, base)
        if rel.startswith("..") or not any(fnmatch.fnmatch(rel, g) for g in members):
            continue
        own = {d.name for d in svc.requirements}
        locked = tuple(d for d in parsed[lock].requirements if d.name in own)
        if locked:
            fields = {k: getattr(svc, k) for k in Service.__slots__}
            fields["requirements"] = svc.requirements + locked
            fields["files"] = (*svc.files, lock)
            return Service(**fields)
    return svc


def _name(context: str, root_name: str) -> str:
    return root_name if context in (".", "") else context


def _with_args(
    dockerfile: str, cs: ComposeService, load: Callable[[str, str], SourceFile | None]
) -> SourceFile | None:
    if not cs.build_args:
        return None
    return load(dockerfile, "dockerfile:" + ";".join(f"{k}={v}" for k, v in cs.build_args.items()))


def _final(sf: SourceFile) -> ImageRef | None:
    return next((i for i in sf.images if i.final), None)


def _service(
    name: str, context: str, files: list[SourceFile], compose: list[ComposeService], dockerfile: str | None
) -> Service:
    if dockerfile is not None:  # a build installs only the extras its Dockerfile selects
        chosen = set(files[0].extras or ())
        every = "*" in chosen
        files = [
            replace(
                f,
                requirements=tuple(
                    r for r in f.requirements if r.extra is None or every or r.extra in chosen
                ),
                indexes=tuple(i for i in f.indexes if i.extra is None or every or i.extra in chosen),
            )
            for f in files
        ]
    files = [  # a requirement whose marker excludes the image's platform (Linux) is not installed there
        replace(f, requirements=tuple(r for r in f.requirements if _on_linux(r.marker)))
        if any(r.marker for r in f.requirements)
        else f
        for f in files
    ]
    installed = {r.name for f in files for r in f.requirements if not r.constraint}
    files = [  # a constraint on a package the service does not install says nothing about it
        replace(f, requirements=tuple(r for r in f.requirements if not r.constraint or r.name in installed))
        for f in files
    ]
    images = tuple(i for f in files for i in f.images)
    final = next((i for i in images if i.final), None)
    if final is None and compose and compose[0].image is not None and not images:
        final = compose[0].image
    env = tuple(e for f in files for e in f.env) + tuple(e for cs in compose for e in cs.env)
    return Service(
        name=name,
        context=context,
        files=tuple(dict.fromkeys(f.path for f in files)),
        dockerfile=dockerfile,
        requirements=tuple(r for f in files for r in f.requirements),
        indexes=tuple(i for f in files for i in f.indexes),
        no_index=any(f.no_index for f in files),
        image=final,
        images=images,
        env=env,
        compose=tuple(compose),
        system_packages=tuple(dict.fromkeys(p for f in files for p in f.system_packages)),
        builds=tuple(b for f in files for b in f.builds),
    )


_PLATFORM_VARS = ("sys_platform", "platform_system", "os_name", "platform_machine", "implementation_name")


def _on_linux(marker: str | None) -> bool:
    """Whether a marker can hold in a Linux container (x86_64 or aarch64, any CPython 3.9-3.14, any
    extra): markers that name no platform are kept; one that does not parse is kept too."""
    if not marker or not any(v in marker for v in _PLATFORM_VARS):
        return True
    from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName

    try:
        parsed = Marker(marker)
    except InvalidMarker:
        return True
    for machine in ("x86_64", "aarch64"):
        for minor in range(9, 15):
            env = {
                "sys_platform": "linux",
                "platform_system": "Linux",
                "os_name": "posix",
                "platform_machine": machine,
                "implementation_name": "cpython",
                "platform_python_implementation": "CPython",
                "python_version": f"3.{minor}",
                "python_full_version": f"3.{minor}.0",
                "extra": "",
            }
            try:
                if parsed.evaluate(env):
                    return True
            except (UndefinedComparison, UndefinedEnvironmentName):
                return True
            if "extra" in marker:
                return True  # an extra's marker: which extra is selected is decided elsewhere
    return False


def _unique(services: list[Service]) -> list[Service]:
    seen: dict[str, int] = {}
    out = []
    for s in services:
        n = seen.get(s.name, 0)
        seen[s.name] = n + 1
        if n:
            s = Service(**{**{k: getattr(s, k) for k in Service.__slots__}, "name": f"{s.name}#{n + 1}"})
        out.append(s)
    return out


def _attach_k8s(services: list[Service], containers: list[K8sContainer]) -> list[Service]:
    # an image the repository builds matches by repository (tags move); a public image only by its tag
    by_repo: dict[str, int] = {}
    by_ref: dict[str, int] = {}
    for i, s in enumerate(services):
        for cs in s.compose:
            if cs.image is not None:
                by_ref.setdefault(_reference(cs.image.reference), i)
                if s.dockerfile is not None:
                    by_repo.setdefault(image_repository(cs.image.reference), i)
        if s.dockerfile is not None:
            by_repo.setdefault(s.name.lower(), i)
            by_repo.setdefault(posixpath.basename(s.context).lower(), i)
    attached: dict[int, list[K8sContainer]] = {}
    extra: list[Service] = []
    for c in containers:
        if c.image is None:
            continue
        repo = image_repository(c.image.reference)
        idx = by_ref.get(_reference(c.image.reference))
        if idx is None:
            idx = by_repo.get(repo)
        if idx is None:
            idx = by_repo.get(repo.rsplit("/", 1)[-1])
        if idx is None:
            extra.append(
                Service(
                    f"{c.workload}/{c.name}",
                    ".",
                    (c.location.file,),
                    image=c.image,
                    env=c.env,
                    containers=(c,),
                )
            )
        else:
            attached.setdefault(idx, []).append(c)
    out = []
    for i, s in enumerate(services):
        if i in attached:
            fields = {k: getattr(s, k) for k in Service.__slots__}
            fields["containers"] = s.containers + tuple(attached[i])
            fields["files"] = tuple(dict.fromkeys((*s.files, *(c.location.file for c in attached[i]))))
            s = Service(**fields)
        out.append(s)
    return out + _unique(extra)
