"""``--emit compose``: one service built from the emitted Dockerfile, with the GPU reservation, a restart
policy, the model cache volume, and for a server its port, health check and shared memory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cudalign.emit.templates import COMPOSE, COMPOSE_HEALTHCHECK, HTTP_PROBE, MODEL_CACHE

if TYPE_CHECKING:
    from cudalign.emit import EmittedFile
    from cudalign.emit.context import EmitContext

__all__ = ["compose_text", "emit"]

SHM = "16gb"
"""Shared memory for a server: PyTorch's DataLoader and NCCL use /dev/shm, Docker's default is 64 MB; vLLM's
Docker guide asks for ``--ipc=host`` or ``--shm-size`` (https://docs.vllm.ai/en/latest/deployment/docker.html)."""


def compose_text(ctx: EmitContext) -> str:
    s = ctx.source
    ports = shm = health = ""
    if ctx.server is not None:
        port, path, _ = ctx.server
        ports = f'    ports:\n      - "{port}:{port}"\n'
        shm = f"    shm_size: {SHM}\n"
        health = COMPOSE_HEALTHCHECK.substitute(probe=HTTP_PROBE.substitute(port=port, path=path))
    return COMPOSE.substitute(
        stamp=s.stamp,
        summary=ctx.summary,
        name=ctx.name,
        image=ctx.image_tag,
        ports=ports,
        model_cache=MODEL_CACHE,
        shm=shm,
        healthcheck=health,
        count=ctx.gpu_count,
    )


def emit(ctx: EmitContext) -> tuple[EmittedFile, ...]:
    from cudalign.emit import EmittedFile
    from cudalign.emit.dockerfile import emit as dockerfile

    return (EmittedFile("compose.yaml", compose_text(ctx)), *dockerfile(ctx))
