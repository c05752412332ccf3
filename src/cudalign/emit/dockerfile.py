"""``--emit dockerfile``: a multi-stage Dockerfile on the matrix's base image, with its requirements.txt.

The build stage installs the pins with ``uv pip`` through a cache mount into a virtual environment with a
uv-managed CPython (no distribution Python needed); the runtime stage copies it onto the runtime image
(``-devel`` only to build, when a pin has no wheel), runs as a non-root user and, for a server, checks its
health. On an image that already holds the stack (``vllm/vllm-openai``) the pins go into its own Python."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from cudalign.emit.templates import (
    DOCKERFILE_BUILD,
    DOCKERFILE_RUNTIME,
    DOCKERFILE_SERVER,
    DOCKERFILE_SERVER_IMAGE,
    DOCKERFILE_SERVER_INSTALL,
    DOCKERFILE_UV_STAGE,
    DOCKERFILE_WORKER,
    HTTP_PROBE,
    MODEL_CACHE,
    USER_ID,
    UV_IMAGE,
)

if TYPE_CHECKING:
    from cudalign.emit import EmittedFile
    from cudalign.emit.context import EmitContext

__all__ = ["dockerfile_text", "emit"]


def _tail(ctx: EmitContext) -> str:
    if ctx.server is None:
        return DOCKERFILE_WORKER.substitute()
    port, path, command = ctx.server
    probe = HTTP_PROBE.substitute(port=port, path=path)
    return DOCKERFILE_SERVER.substitute(port=port, probe=probe, entrypoint=json.dumps(list(command)))


def dockerfile_text(ctx: EmitContext) -> str:
    from cudalign.errors import InvalidInput

    s = ctx.source
    if ctx.server_image:
        install = bool(ctx.image_pins)
        suppress = f"# cudalign: ignore=CA608; {ctx.suppress_ca608}" if ctx.suppress_ca608 else ""
        return DOCKERFILE_SERVER_IMAGE.substitute(
            stamp=s.stamp,
            summary=ctx.summary,
            image=ctx.server_image,
            ships=" and ".join(ctx.ships),
            uv_stage=DOCKERFILE_UV_STAGE.substitute(uv_image=UV_IMAGE) if install else "",
            suppress=("\n" if install else "") + suppress if suppress else "",
            install=DOCKERFILE_SERVER_INSTALL.substitute() if install else "",
            model_cache=MODEL_CACHE,
            uid=USER_ID,
            server=_tail(ctx),
        )
    if not ctx.runtime_image or not ctx.build_image:
        raise InvalidInput(f"matrix {s.label} names no base image that runs on its driver: no Dockerfile")
    build = DOCKERFILE_BUILD.substitute(
        stamp=s.stamp,
        summary=ctx.summary,
        uv_image=UV_IMAGE,
        build_image=ctx.build_image,
        python=ctx.python,
    )
    runtime = DOCKERFILE_RUNTIME.substitute(
        runtime_image=ctx.runtime_image, model_cache=MODEL_CACHE, uid=USER_ID, server=_tail(ctx)
    )
    return build + runtime


def emit(ctx: EmitContext) -> tuple[EmittedFile, ...]:
    from cudalign.emit import EmittedFile
    from cudalign.emit.requirements import requirements_text

    docker = EmittedFile("Dockerfile", dockerfile_text(ctx))
    if not ctx.image_pins:  # a server image that ships every pin: nothing to install
        return (docker,)
    return (docker, EmittedFile("requirements.txt", requirements_text(ctx, ctx.image_pins)))
