"""``--emit k8s``: a Deployment (and a Service for a server) with ``nvidia.com/gpu`` limits, node affinity on
the GPU Feature Discovery labels the matrix needs, startup/readiness/liveness probes and ``/dev/shm`` as a
memory volume.

GPU Feature Discovery labels nodes ``nvidia.com/gpu.product`` (the NVML product name, spaces as dashes) and
``nvidia.com/cuda.driver.major`` (https://github.com/NVIDIA/k8s-device-plugin/tree/main/docs/gpu-feature-discovery);
``Gt`` on the latter keeps the pod off nodes whose driver branch is older than the one the plan judged."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from cudalign.emit.templates import (
    K8S_DEPLOYMENT,
    K8S_PROBES_EXEC,
    K8S_PROBES_HTTP,
    K8S_SERVICE,
    MODEL_CACHE,
    USER_ID,
)

if TYPE_CHECKING:
    from cudalign.emit import EmittedFile
    from cudalign.emit.context import EmitContext

__all__ = ["emit", "k8s_text"]

SHM = "16Gi"
"""The ``/dev/shm`` memory volume's limit (see :data:`cudalign.emit.compose.SHM`)."""

_INDENT = " " * 18


def _expressions(ctx: EmitContext) -> str:
    out = []
    if ctx.gpu_labels:
        out.append(
            f"{_INDENT}- key: nvidia.com/gpu.product\n{_INDENT}  operator: In\n"
            f"{_INDENT}  values: {json.dumps(list(ctx.gpu_labels))}\n"
        )
    if ctx.driver_major is not None:
        out.append(
            f"{_INDENT}- key: nvidia.com/cuda.driver.major\n{_INDENT}  operator: Gt\n"
            f'{_INDENT}  values: ["{ctx.driver_major - 1}"]\n'
        )
    if not out:  # a host described without GPU or driver: any node with a GPU
        out.append(
            f'{_INDENT}- key: nvidia.com/gpu.present\n{_INDENT}  operator: In\n{_INDENT}  values: ["true"]\n'
        )
    return "".join(out)


def k8s_text(ctx: EmitContext) -> str:
    s = ctx.source
    ports = probes = ""
    if ctx.server is not None:
        port, path, _ = ctx.server
        ports = f"          ports:\n            - name: http\n              containerPort: {port}\n"
        probes = K8S_PROBES_HTTP.substitute(path=path)
    else:
        probes = K8S_PROBES_EXEC.substitute()
    text = K8S_DEPLOYMENT.substitute(
        stamp=s.stamp,
        summary=ctx.summary,
        name=ctx.name,
        image=ctx.image_tag,
        expressions=_expressions(ctx),
        ports=ports,
        model_cache=MODEL_CACHE,
        count=ctx.gpu_count,
        probes=probes,
        shm=SHM,
        uid=USER_ID,
    )
    if ctx.server is not None:
        text += K8S_SERVICE.substitute(name=ctx.name, port=ctx.server[0])
    return text


def emit(ctx: EmitContext) -> tuple[EmittedFile, ...]:
    from cudalign.emit import EmittedFile
    from cudalign.emit.dockerfile import emit as dockerfile

    return (EmittedFile("k8s.yaml", k8s_text(ctx)), *dockerfile(ctx))
