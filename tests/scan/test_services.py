"""Grouping files into services: build contexts, extras a build selects, compose variants."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cudalign.facts import Facts
from cudalign.scan import scan

MakeRepo = Callable[[dict[str, str]], Path]

PYPROJECT = """\
[project]
name = "asr"
version = "1"
dependencies = ["fastapi==0.115.0"]

[project.optional-dependencies]
cpu = ["torch==2.7.1"]
cuda = ["torch==2.7.1+cu126"]

[[tool.poetry.source]]
name = "pytorch-cpu"
url = "https://download.pytorch.org/whl/cpu"
priority = "explicit"

[[tool.poetry.source]]
name = "pytorch-cuda"
url = "https://download.pytorch.org/whl/cu126"
priority = "explicit"

[tool.poetry.dependencies]
torch = [
    { markers = "extra == 'cpu'", source = "pytorch-cpu" },
    { markers = "extra == 'cuda'", source = "pytorch-cuda" },
]
"""


def test_a_build_gets_only_the_extras_it_installs(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({
        "pyproject.toml": PYPROJECT,
        "Dockerfile": "FROM python:3.11\nCOPY . .\nRUN poetry install --extras cpu\n",
        "Dockerfile.gpu": "FROM nvidia/cuda:12.6.3-base-ubuntu22.04\nRUN apt-get install -y libcudnn8\n"
                          "COPY . .\nRUN poetry install --extras cuda\n",
        "docker-compose.yml": "services:\n  cpu:\n    build: .\n",
    })  # fmt: skip
    result = scan(repo, facts)
    by = {v.service.name: v for v in result.views}
    assert set(by) == {"cpu", "repo (Dockerfile.gpu)"}
    assert [d.specifier for d in by["cpu"].service.requirements if d.name == "torch"] == ["==2.7.1"]
    assert [d.specifier for d in by["repo (Dockerfile.gpu)"].service.requirements if d.name == "torch"] == [
        "==2.7.1+cu126"
    ]
    # the CPU service is no GPU service: no CA607, and no engine finding about its CPU torch
    assert result.findings == ()
    gpu = by["repo (Dockerfile.gpu)"]
    assert gpu.host is not None and gpu.host.cudnn.get("image") == "8"  # libcudnn8 from apt


def test_compose_variants_judged_by_their_own_base_image(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({
        "Dockerfile": "ARG BASE=nvidia/cuda:12.8.1-runtime-ubuntu24.04\nFROM ${BASE}\n",
        "compose.yaml": "services:\n  app:\n    build: .\n",
        "compose.cpu.yaml": "services:\n  app:\n    extends: {file: compose.yaml, service: app}\n"
                            "    build:\n      args:\n        BASE: ubuntu:24.04\n",
        "compose.cuda.yaml": "services:\n  app:\n    extends: {file: compose.yaml, service: app}\n"
                             "    build:\n      args:\n"
                             "        BASE: nvidia/cuda:12.8.1-runtime-ubuntu24.04\n",
    })  # fmt: skip
    found = [f for f in scan(repo, facts).findings if f.code == "CA607"]
    # compose.yaml's app is a template (extended), the cpu variant has no CUDA image: only the cuda one
    assert [(f.location.file, f.location.line) for f in found if f.location] == [("compose.cuda.yaml", 2)]


def test_a_dockerfile_in_a_subfolder_finds_files_at_the_root(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({
        "docker/Dockerfile": "FROM python:3.12\nCOPY requirements.txt /app/\n"
                             "RUN pip install -r /app/requirements.txt\n",
        "requirements.txt": "vllm>=0.12\n",
    })  # fmt: skip
    (view,) = scan(repo, facts).views
    assert view.service.files == ("docker/Dockerfile", "requirements.txt")


def test_k8s_matches_public_images_by_tag_and_built_images_by_repository(
    facts: Facts, make_repo: MakeRepo
) -> None:
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\n"
        "spec:\n  containers:\n    - {{name: c, image: '{image}'}}\n"
    )
    repo = make_repo({
        "compose.yaml": "services:\n  llm:\n    image: vllm/vllm-openai:v0.20.0\n"
                        "  api:\n    build: ./api\n    image: registry.example.com/acme/api:1.0\n",
        "api/Dockerfile": "FROM python:3.12\n",
        "k8s/a.yaml": pod.format(name="old", image="vllm/vllm-openai:v0.9.0"),
        "k8s/b.yaml": pod.format(name="same", image="docker.io/vllm/vllm-openai:v0.20.0"),
        "k8s/c.yaml": pod.format(name="api", image="registry.example.com/acme/api:2.0"),
    })  # fmt: skip
    by = {v.service.name: v.service for v in scan(repo, facts).views}
    assert [c.workload for c in by["llm"].containers] == ["Pod/same"]
    assert [c.workload for c in by["api"].containers] == ["Pod/api"]
    assert "Pod/old/c" in by


def test_constraints_pin_only_what_is_installed(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({
        "a/requirements.txt": "-c ../constraints.txt\nfastapi==0.115.0\n",
        "b/requirements.txt": "-c ../constraints.txt\ntorch==2.9.0\n",
        "constraints.txt": "torch==2.9.0\nfastapi==0.115.0\n",
    })  # fmt: skip
    by = {v.service.name: v.service for v in scan(repo, facts).views}
    assert {d.name for d in by["a"].requirements} == {"fastapi"}
    assert [d.constraint for d in by["b"].requirements if d.name == "torch"] == [False, True]
    assert set(by) == {"a", "b"}  # the shared constraints file is no service of its own
