"""Every text an emitted file is made of, in one place: the emitters only choose and fill these.

Filled with :meth:`string.Template.substitute` (``$name``), so a brace in a TOML table or a shell word
needs no escaping. Where a value is a fact about a tool rather than about the plan, its source is named.
"""

from __future__ import annotations

from string import Template

__all__ = [
    "COMPOSE",
    "COMPOSE_HEALTHCHECK",
    "DOCKERFILE_BUILD",
    "DOCKERFILE_RUNTIME",
    "DOCKERFILE_SERVER",
    "DOCKERFILE_SERVER_IMAGE",
    "DOCKERFILE_SERVER_INSTALL",
    "DOCKERFILE_UV_STAGE",
    "DOCKERFILE_WORKER",
    "HTTP_PROBE",
    "K8S_DEPLOYMENT",
    "K8S_PROBES_EXEC",
    "K8S_PROBES_HTTP",
    "K8S_SERVICE",
    "MODEL_CACHE",
    "SERVER",
    "USER_ID",
    "UV_IMAGE",
    "UV_INDEX",
    "UV_PYPROJECT",
    "UV_SOURCE",
]

UV_IMAGE = "ghcr.io/astral-sh/uv:0.9.5"
"""uv's distroless image, copied from as uv's Docker guide shows
(https://docs.astral.sh/uv/guides/integration/docker/#installing-uv), pinned to a release."""

USER_ID = 10001
"""The non-root user the images run as: above the range distributions give their first users (Ubuntu 24.04
images already hold ``ubuntu`` with uid 1000); Kubernetes' ``runAsUser`` names the same number."""

MODEL_CACHE = "/models"
"""Where model weights are cached: ``HF_HOME`` points there and a volume is mounted there."""

SERVER: dict[str, tuple[int, str, tuple[str, ...]]] = {
    "vllm": (8000, "/health", ("vllm", "serve")),
}
"""Package -> (port, health path, command) of the server it ships: vLLM's OpenAI-compatible server listens
on 8000 and answers ``GET /health``
(https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html)."""

HTTP_PROBE = Template(
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port$path', timeout=4)"
)
"""A health check in the image's own Python (CUDA base images ship no curl or wget)."""

# ----------------------------------------------------------------------------------------- Dockerfile

DOCKERFILE_BUILD = Template(
    """\
# syntax=docker/dockerfile:1
# $stamp
# $summary
# NVIDIA_REQUIRE_CUDA is left as the base image sets it: the container runtime checks the host's
# driver against it before the container starts.
FROM $uv_image AS uv

FROM $build_image AS build
COPY --from=uv /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 \\
    UV_LINK_MODE=copy \\
    UV_PYTHON_INSTALL_DIR=/opt/python
WORKDIR /app
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/uv \\
    uv venv --python $python /opt/venv \\
    && uv pip install --python /opt/venv/bin/python -r requirements.txt

"""
)

DOCKERFILE_RUNTIME = Template(
    """\
FROM $runtime_image AS runtime
ENV PATH=/opt/venv/bin:$$PATH \\
    PYTHONUNBUFFERED=1 \\
    HF_HOME=$model_cache
COPY --from=build /opt/python /opt/python
COPY --from=build /opt/venv /opt/venv
RUN useradd --create-home --uid $uid app \\
    && mkdir -p $model_cache \\
    && chown $uid $model_cache
USER $uid
WORKDIR /home/app
$server"""
)

DOCKERFILE_SERVER_IMAGE = Template(
    """\
# syntax=docker/dockerfile:1
# $stamp
# $summary
# $image ships $ships; NVIDIA_REQUIRE_CUDA is left as that image sets it: the container runtime
# checks the host's driver against it before the container starts.
$uv_stage$suppress
FROM $image AS runtime
ENV PYTHONUNBUFFERED=1 \\
    HF_HOME=$model_cache
${install}RUN useradd --create-home --uid $uid app \\
    && mkdir -p $model_cache \\
    && chown $uid $model_cache
USER $uid
WORKDIR /home/app
$server"""
)

DOCKERFILE_UV_STAGE = Template(
    """\
FROM $uv_image AS uv
"""
)

DOCKERFILE_SERVER_INSTALL = Template(
    """\
COPY --from=uv /uv /uvx /bin/
COPY requirements.txt /tmp/requirements.txt
RUN --mount=type=cache,target=/root/.cache/uv \\
    UV_LINK_MODE=copy uv pip install --system -r /tmp/requirements.txt
"""
)

DOCKERFILE_SERVER = Template(
    """\
EXPOSE $port
HEALTHCHECK --interval=30s --timeout=5s --start-period=600s --retries=3 \\
    CMD ["python3", "-c", "$probe"]
ENTRYPOINT $entrypoint
"""
)

DOCKERFILE_WORKER = Template(
    """\
CMD ["python3"]
"""
)

# ----------------------------------------------------------------------------------------- uv

UV_PYPROJECT = Template(
    """\
# $stamp
# $summary
# The [tool.uv] tables follow uv's PyTorch guide (https://docs.astral.sh/uv/guides/integration/pytorch/):
# the PyTorch index is explicit, so only the packages [tool.uv.sources] sends there come from it.
[project]
name = "$name"
version = "0.1.0"
requires-python = "$python"
dependencies = [
$dependencies]
$indexes$sources"""
)

UV_INDEX = Template(
    """\

[[tool.uv.index]]
name = "$name"
url = "$url"
explicit = true
"""
)

UV_SOURCE = Template('$package = [{ index = "$index", marker = "$marker" }]\n')

# ----------------------------------------------------------------------------------------- compose

COMPOSE = Template(
    """\
# $stamp
# $summary
services:
  $name:
    build:
      context: .
      dockerfile: Dockerfile
    image: $image
    restart: unless-stopped
$ports    environment:
      HF_HOME: $model_cache
    volumes:
      - model-cache:$model_cache
$shm$healthcheck    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              count: $count
              capabilities: [gpu]

volumes:
  model-cache: {}
"""
)

COMPOSE_HEALTHCHECK = Template(
    """\
    healthcheck:
      test: ["CMD", "python3", "-c", "$probe"]
      interval: 30s
      timeout: 5s
      retries: 3
      start_period: 600s
"""
)

# ----------------------------------------------------------------------------------------- Kubernetes

K8S_DEPLOYMENT = Template(
    """\
# $stamp
# $summary
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $name
  labels:
    app: $name
spec:
  replicas: 1
  selector:
    matchLabels:
      app: $name
  template:
    metadata:
      labels:
        app: $name
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions:
$expressions      securityContext:
        runAsNonRoot: true
        runAsUser: $uid
      containers:
        - name: $name
          image: $image
$ports          env:
            - name: HF_HOME
              value: $model_cache
          resources:
            limits:
              nvidia.com/gpu: $count
$probes          volumeMounts:
            - name: dshm
              mountPath: /dev/shm
            - name: model-cache
              mountPath: $model_cache
      volumes:
        - name: dshm
          emptyDir:
            medium: Memory
            sizeLimit: $shm
        - name: model-cache
          emptyDir: {}
"""
)

K8S_PROBES_HTTP = Template(
    """\
          startupProbe:
            httpGet:
              path: $path
              port: http
            periodSeconds: 10
            failureThreshold: 90
          readinessProbe:
            httpGet:
              path: $path
              port: http
            periodSeconds: 10
          livenessProbe:
            httpGet:
              path: $path
              port: http
            periodSeconds: 30
            failureThreshold: 3
"""
)

K8S_PROBES_EXEC = Template(
    """\
          startupProbe:
            exec:
              command: ["python3", "-c", "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"]
            periodSeconds: 10
            failureThreshold: 30
          readinessProbe:
            exec:
              command: ["python3", "-c", "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"]
            periodSeconds: 60
          livenessProbe:
            exec:
              command: ["python3", "-c", "import sys"]
            periodSeconds: 60
"""
)

K8S_SERVICE = Template(
    """\
---
apiVersion: v1
kind: Service
metadata:
  name: $name
  labels:
    app: $name
spec:
  selector:
    app: $name
  ports:
    - name: http
      port: $port
      targetPort: http
"""
)
