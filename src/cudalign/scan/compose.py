"""Compose files: services, build contexts and Dockerfiles, images, GPU reservations and environment."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from cudalign.model import Location
from cudalign.scan.model import ComposeService, EnvVar, ImageRef, Problem, SourceFile
from cudalign.scan.yamlfile import line_of, load_all

__all__ = ["gpu_reservation", "parse_compose"]


def _environment(value: Any, path: str) -> tuple[EnvVar, ...]:
    out: list[EnvVar] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            out.append(EnvVar(str(k), "" if v is None else str(v), Location(path, line_of(value, k))))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                name, _, v = item.partition("=")
                out.append(EnvVar(name, v, Location(path, line_of(value, i))))
    return tuple(out)


def gpu_reservation(service: Mapping[str, Any]) -> str | None:
    """How a compose service asks for a GPU, or None: a ``deploy…devices`` entry with the ``gpu``
    capability (or the nvidia driver), ``runtime: nvidia``, or ``gpus:``."""
    if service.get("runtime") == "nvidia":
        return "runtime: nvidia"
    if service.get("gpus") not in (None, "", 0, False):
        return "gpus"
    deploy = service.get("deploy")
    resources = deploy.get("resources") if isinstance(deploy, Mapping) else None
    reservations = resources.get("reservations") if isinstance(resources, Mapping) else None
    devices = reservations.get("devices") if isinstance(reservations, Mapping) else None
    for dev in devices if isinstance(devices, list) else ():
        if not isinstance(dev, Mapping):
            continue
        caps = dev.get("capabilities")
        flat: list[Any] = []
        for c in caps if isinstance(caps, list) else []:
            flat.extend(c if isinstance(c, list) else [c])
        if "gpu" in flat or dev.get("driver") == "nvidia":
            return "deploy.resources.reservations.devices"
    return None


def _command(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return ""


def _devices(value: Any) -> tuple[str, ...]:
    out: list[str] = []
    for d in value if isinstance(value, list) else ():
        if isinstance(d, str):
            out.append(d.split(":", 1)[0])
        elif isinstance(d, Mapping) and isinstance(d.get("source"), str):
            out.append(d["source"])
    return tuple(out)


def parse_compose(path: str, text: str, variables: Mapping[str, str] | None = None) -> SourceFile:
    """Parse a compose file; never raises on malformed content. ``variables`` (the ``.env`` file beside
    it) fill ``${VAR}`` in ``image:``, ``build:`` and build arguments; ``${VAR:-default}`` uses its
    default when the variable is not set."""
    from cudalign.scan.dockerfile import substitute

    values: dict[str, str | None] = dict(variables or {})
    notes: list[str] = []

    def sub(text: str, where: Location) -> str:
        if "$" not in text:
            return text
        out, missing = substitute(text.replace("$$", "\0"), values)
        if missing:
            notes.append(
                f"{where.file}:{where.line}: {text} needs {', '.join(missing)} (no default, not in .env)"
            )
        return out.replace("\0", "$")

    docs, problem = load_all(path, text)
    problems = [problem] if problem else []
    services: list[ComposeService] = []
    base_dir = posixpath.dirname(path)
    for doc in docs:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("services"), Mapping):
            continue
        table = doc["services"]
        for name, svc in table.items():
            loc = Location(path, line_of(table, name))
            if not isinstance(svc, Mapping):
                problems.append(Problem(loc, f"service {name!r} is not a mapping"))
                continue
            context = dockerfile = None
            args: dict[str, str] = {}
            build = svc.get("build")
            if isinstance(build, str):
                context = sub(build, loc)
            elif isinstance(build, Mapping):
                context = sub(str(build.get("context", ".")), loc)
                if isinstance(build.get("dockerfile"), str):
                    dockerfile = sub(build["dockerfile"], loc)
                raw_args = build.get("args")
                if isinstance(raw_args, Mapping):
                    args = {str(k): sub(str(v), loc) for k, v in raw_args.items() if v is not None}
                elif isinstance(raw_args, list):
                    args = {
                        str(a).partition("=")[0]: sub(str(a).partition("=")[2], loc)
                        for a in raw_args
                        if "=" in str(a)
                    }
            ctx = None
            if context is not None:
                if "://" in context or context.startswith("git@"):
                    context = None
                else:
                    ctx = posixpath.normpath(posixpath.join(base_dir, context))
            df = (
                posixpath.normpath(posixpath.join(ctx, dockerfile or "Dockerfile"))
                if ctx is not None
                else None
            )
            image = None
            if isinstance(svc.get("image"), str):
                where = Location(path, line_of(svc, "image"))
                image = ImageRef(sub(svc["image"], where), where)
            how = gpu_reservation(svc)
            extends = None
            ext = svc.get("extends")
            if isinstance(ext, str):
                extends = (path, ext)
            elif isinstance(ext, Mapping) and isinstance(ext.get("service"), str):
                target = ext.get("file")
                extends = (
                    posixpath.normpath(posixpath.join(base_dir, target)) if isinstance(target, str) else path,
                    ext["service"],
                )
            services.append(
                ComposeService(
                    name=str(name),
                    location=loc,
                    context=ctx if ctx is None or not ctx.startswith("..") else None,
                    dockerfile=df if ctx is None or not ctx.startswith("..") else None,
                    build_args=args,
                    image=image,
                    gpu=how is not None,
                    gpu_how=how,
                    env=_environment(svc.get("environment"), path),
                    extends=extends,
                    devices=_devices(svc.get("devices")),
                    profiles=tuple(str(p) for p in svc.get("profiles") or () if isinstance(p, str))
                    if isinstance(svc.get("profiles"), list)
                    else (),
                    command=_command(svc.get("command")),
                )
            )
    return SourceFile(
        path,
        "compose",
        compose_services=tuple(services),
        problems=tuple(problems),
        notes=tuple(dict.fromkeys(notes)),
    )
