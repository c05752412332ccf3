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


def parse_compose(path: str, text: str) -> SourceFile:
    """Parse a compose file; never raises on malformed content."""
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
                context = build
            elif isinstance(build, Mapping):
                context = str(build.get("context", "."))
                if isinstance(build.get("dockerfile"), str):
                    dockerfile = build["dockerfile"]
                raw_args = build.get("args")
                if isinstance(raw_args, Mapping):
                    args = {str(k): str(v) for k, v in raw_args.items() if v is not None}
                elif isinstance(raw_args, list):
                    args = {
                        str(a).partition("=")[0]: str(a).partition("=")[2] for a in raw_args if "=" in str(a)
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
                image = ImageRef(svc["image"], Location(path, line_of(svc, "image")))
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
                )
            )
    return SourceFile(path, "compose", compose_services=tuple(services), problems=tuple(problems))
