"""Benchmarks of ``cudalign scan`` on a generated repository of 50 services (DESIGN.md: under 0.5 s).

The repository is written once to a temporary folder: 50 services, each with a Dockerfile (CUDA base
image, ``pip install -r``), a requirements file pinning torch or vLLM (a mix of versions, variants and
indexes, so the repo rules and the engine have work to do), one compose file with all 50 services and a
Kubernetes manifest per ten services. ``scan`` is timed in-process (facts loaded once, as a library
user would) and as the command a user runs (interpreter start-up, imports and facts loading included),
beside ``python3 -c pass`` in the same run: the command's time as a ratio to it is what another machine
can compare.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from run import cli

__all__ = ["BENCHMARKS", "make_repo"]

_IMAGES = ["nvidia/cuda:12.8.1-runtime-ubuntu22.04", "nvidia/cuda:12.4.1-runtime-ubuntu22.04",
           "nvidia/cuda:12.6.3-base-ubuntu24.04", "python:3.12-slim"]  # fmt: skip
_STACKS = [
    "vllm==0.13.0\n",
    "--extra-index-url https://download.pytorch.org/whl/cu128\ntorch==2.9.0+cu128\ntransformers==4.57.1\n",
    "torch==2.5.1\ntorchaudio==2.5.1\nfaster-whisper==1.1.1\n",
    "vllm>=0.10\nflash-attn==2.8.3\n",
    "torch==2.7.1+cu126\n",
    "fastapi==0.115.0\nhttpx==0.28.1\n",
]


def make_repo(root: Path, services: int = 50) -> Path:
    """Write a repository of ``services`` services under ``root`` and return it."""
    compose = ["services:"]
    manifests: list[str] = []
    for i in range(services):
        name = f"svc{i:02d}"
        d = root / "services" / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "Dockerfile").write_text(
            f"ARG BASE={_IMAGES[i % len(_IMAGES)]}\nFROM ${{BASE}}\nWORKDIR /app\nCOPY requirements.txt .\n"
            "RUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n"
        )
        (d / "requirements.txt").write_text(f"# service {name}\n" + _STACKS[i % len(_STACKS)])
        compose += [
            f"  {name}:",
            f"    build: ./services/{name}",
            f"    image: registry.example.com/{name}:1",
        ]
        if i % 3:
            compose += ["    deploy:", "      resources:", "        reservations:", "          devices:",
                        "            - capabilities: [gpu]"]  # fmt: skip
        manifests.append(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n"
            "  template:\n    spec:\n"
            f"      nodeSelector:\n        nvidia.com/gpu.product: NVIDIA-L40S\n      containers:\n"
            f"        - name: {name}\n          image: registry.example.com/{name}:1\n"
            "          resources:\n            limits:\n              nvidia.com/gpu: 1\n"
        )
    (root / "docker-compose.yml").write_text("\n".join(compose) + "\n")
    (root / "k8s").mkdir(exist_ok=True)
    for j in range(0, services, 10):
        (root / "k8s" / f"deploy-{j:02d}.yaml").write_text("---\n".join(manifests[j : j + 10]))
    return root


_REPO = make_repo(Path(tempfile.mkdtemp(prefix="cudalign-bench-scan-")))
_FACTS: list[object] = []


def _in_process() -> None:
    from cudalign.facts import load
    from cudalign.scan import scan

    if not _FACTS:
        _FACTS.append(load())
    result = scan(_REPO, _FACTS[0])  # type: ignore[arg-type]
    assert len(result.views) == 50, len(result.views)


_cli_sarif = cli("scan", str(_REPO), "--format", "sarif", "--fail-on", "never")
_cli_fleet = cli("scan", str(_REPO), "--fleet-driver", "550.54.15", "--fail-on", "never")


def _python_pass() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


BENCHMARKS: list[tuple[object, ...]] = [
    ("python3 -c pass (the baseline of the ratios)", _python_pass, None, 10),
    ("scan 50 services (in-process, facts loaded)", _in_process, 500, 10),
    ("cudalign scan 50 services (command)", cli("scan", str(_REPO), "--fail-on", "never"), 500, 10),
    ("cudalign scan 50 services --format sarif", _cli_sarif, 500, 5),
    ("cudalign scan 50 services --fleet-driver 550.54.15", _cli_fleet, 500, 5),
]
