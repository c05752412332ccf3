"""``cudalign scan`` on a 200-service repository shaped like the real ones it meets (budget: 1 s).

The generated repository mixes what real repositories hold: an image matrix of Dockerfiles with
BuildKit cache mounts and exec-form RUNs (CUDA, ROCm and CPU variants), compose files per variant
with GPU reservations and helper services, a Helm chart whose ``values.yaml`` names several engines,
KubeRay and LeaderWorkerSet resources with pod templates, Kubernetes Deployments with GPU limits and
product labels, requirement files with environment markers, and NGC and mirrored image references.
``scan`` runs in-process with a fleet driver, facts loaded once.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from run import cli

__all__ = ["BENCHMARKS", "make_real_repo"]

_BASES = [
    "nvidia/cuda:12.8.1-runtime-ubuntu22.04",
    "nvcr.io/nvidia/pytorch:25.12-py3",
    "rocm/pytorch:latest",
    "python:3.12-slim",
    "registry.example.com/mirror/vllm/vllm-openai:v0.13.0",
]
_INSTALLS = [
    "RUN --mount=type=cache,target=/root/.cache/pip pip install torch==2.7.1 torchvision "
    "--index-url https://download.pytorch.org/whl/cu128\n",
    'RUN ["python3", "-m", "pip", "install", "-r", "/app/requirements.txt"]\n',
    "RUN pip install --dry-run torch && uv pip install --system vllm==0.13.0\n",
    "RUN pip install torch --index-url https://download.pytorch.org/whl/cpu\n",
]
_REQUIREMENTS = "torch==2.7.1\ntransformers==4.57.1\npywin32==306; sys_platform == 'win32'\n"


def make_real_repo(root: Path, services: int = 200) -> Path:
    """Write a repository of about ``services`` services under ``root`` and return it."""
    per_kind = services // 4
    for i in range(per_kind):  # image matrix: one folder per variant, a compose file each
        d = root / "images" / f"v{i:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "Dockerfile").write_text(
            f"FROM {_BASES[i % len(_BASES)]}\nWORKDIR /app\nCOPY requirements.txt .\n"
            + _INSTALLS[i % len(_INSTALLS)]
        )
        (d / "requirements.txt").write_text(_REQUIREMENTS)
        (d / "docker-compose.yml").write_text(
            "services:\n  app:\n    build: .\n    deploy:\n      resources:\n        reservations:\n"
            "          devices:\n            - capabilities: [gpu]\n"
            "  chown:\n    build: .\n    command: chown -R 1000 /data\n"
        )
    chart = root / "charts" / "engines"
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: engines\nversion: 1.0.0\nappVersion: v0.13.0\n")
    values = ["engines:"]
    for i in range(per_kind):
        values += [
            f"  - name: e{i:03d}",
            "    image:",
            "      repository: vllm/vllm-openai",
            f'      tag: "{"v0.13.0" if i % 2 else ""}"',
            "    resources:",
            "      limits:",
            "        nvidia.com/gpu: 1",
        ]
    (chart / "values.yaml").write_text("\n".join(values) + "\n")
    (chart / "templates" / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"
    )
    k8s = root / "deploy"
    k8s.mkdir(exist_ok=True)
    docs = []
    for i in range(per_kind):
        docs.append(
            f"apiVersion: ray.io/v1\nkind: RayCluster\nmetadata:\n  name: ray{i:03d}\nspec:\n"
            "  workerGroupSpecs:\n    - template:\n        spec:\n          nodeSelector:\n"
            "            nvidia.com/gpu.product: NVIDIA-A10G\n          containers:\n"
            "            - name: worker\n              image: vllm/vllm-openai:v0.13.0\n"
            "              resources:\n                limits:\n                  nvidia.com/gpu: 1\n"
        )
    (k8s / "ray.yaml").write_text("---\n".join(docs))
    docs = []
    for i in range(per_kind):
        docs.append(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d{i:03d}\nspec:\n  template:\n"
            "    spec:\n      containers:\n        - name: app\n"
            f"          image: docker.io/library/python:3.12-slim\n" if i % 2 else
            f"apiVersion: leaderworkerset.x-k8s.io/v1\nkind: LeaderWorkerSet\nmetadata:\n  name: l{i:03d}\n"
            "spec:\n  leaderWorkerTemplate:\n    workerTemplate:\n      spec:\n        containers:\n"
            "          - name: vllm\n            image: vllm/vllm-openai:v0.13.0\n"
            "            resources:\n              limits:\n                nvidia.com/gpu: 8\n"
        )  # fmt: skip
    (k8s / "apps.yaml").write_text("---\n".join(docs))
    return root


_REPO = make_real_repo(Path(tempfile.mkdtemp(prefix="cudalign-bench-scan-real-")))
_FACTS: list[object] = []


def _in_process() -> None:
    from cudalign.facts import load
    from cudalign.scan import scan

    if not _FACTS:
        _FACTS.append(load())
    result = scan(_REPO, _FACTS[0], fleet_driver="550.54.15")  # type: ignore[arg-type]
    assert len(result.views) >= 200, len(result.views)


BENCHMARKS: list[tuple[object, ...]] = [
    ("scan 200 real-shaped services (in-process, facts loaded)", _in_process, 1000, 5),
    (
        "cudalign scan 200 real-shaped services --fleet-driver (command)",
        cli("scan", str(_REPO), "--fleet-driver", "550.54.15", "--fail-on", "never"),
        1000,
        3,
    ),
]
