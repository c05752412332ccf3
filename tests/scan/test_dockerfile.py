"""Dockerfiles: stages, ARG substitution, ENV, install commands and the files they install from."""

from __future__ import annotations

from cudalign.scan.dockerfile import parse_dockerfile, parse_install_command, substitute

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG CUDA=12.1.1
ARG FLAVOUR
ARG TAG
FROM nvidia/cuda:${CUDA}-${FLAVOUR:-devel}-ubuntu22.04 AS builder
ENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cu121 NVIDIA_DISABLE_REQUIRE=true
WORKDIR /app
COPY requirements/prod.txt ./requirements.txt
RUN pip install --no-cache-dir -r requirements.txt && \\
    # a comment inside the continuation
    python3 -m pip install "torch==2.5.1" 'vllm>=0.6' \\
      --extra-index-url https://download.pytorch.org/whl/cu124
RUN <<EOF
uv pip install --system flash-attn==2.7.4 --torch-backend=cu128
EOF
FROM registry.example.com/base:${TAG}
FROM builder
CMD ["python3", "-m", "server"]
"""


def test_stages_and_arg_substitution() -> None:
    sf = parse_dockerfile("svc/Dockerfile", DOCKERFILE)
    got = [(i.reference, i.location.line, i.stage, i.unresolved, i.final) for i in sf.images]
    assert got == [
        ("nvidia/cuda:12.1.1-devel-ubuntu22.04", 5, "builder", (), False),
        ("registry.example.com/base:${TAG}", 16, None, ("TAG",), False),
        ("nvidia/cuda:12.1.1-devel-ubuntu22.04", 17, None, (), True),
    ]


def test_build_args_override_defaults() -> None:
    sf = parse_dockerfile("Dockerfile", DOCKERFILE, {"CUDA": "12.8.1", "FLAVOUR": "runtime", "TAG": "v2"})
    assert [i.reference for i in sf.images] == [
        "nvidia/cuda:12.8.1-runtime-ubuntu22.04",
        "registry.example.com/base:v2",
        "nvidia/cuda:12.8.1-runtime-ubuntu22.04",
    ]


def test_install_lines_give_requirements_with_their_physical_line() -> None:
    sf = parse_dockerfile("svc/Dockerfile", DOCKERFILE)
    got = [(d.name, d.specifier, d.location.line) for d in sf.requirements]
    assert got == [("torch", "==2.5.1", 11), ("vllm", ">=0.6", 11), ("flash-attn", "==2.7.4", 14)]


def test_indexes_from_env_options_and_torch_backend() -> None:
    sf = parse_dockerfile("svc/Dockerfile", DOCKERFILE)
    got = [(i.kind, i.url, i.location.line) for i in sf.indexes]
    assert got == [
        ("extra-index-url", "https://download.pytorch.org/whl/cu121", 6),
        ("extra-index-url", "https://download.pytorch.org/whl/cu124", 12),
        ("torch-backend", "cu128", 14),
    ]


def test_requirement_files_map_back_through_copy_and_workdir() -> None:
    sf = parse_dockerfile("svc/Dockerfile", DOCKERFILE)
    assert [(i.path, i.kind, i.location.line) for i in sf.includes] == [
        ("requirements/prod.txt", "requirement", 9)
    ]


def test_copy_of_several_files_into_a_folder() -> None:
    text = "FROM python:3.12\nWORKDIR /opt\nCOPY requirements.txt constraints.txt ./\n"
    text += "RUN pip install -r requirements.txt -c /opt/constraints.txt\n"
    sf = parse_dockerfile("Dockerfile", text)
    assert [(i.path, i.kind) for i in sf.includes] == [
        ("requirements.txt", "requirement"),
        ("constraints.txt", "constraint"),
    ]


def test_env_keeps_nvidia_variables() -> None:
    sf = parse_dockerfile("Dockerfile", DOCKERFILE)
    assert ("NVIDIA_DISABLE_REQUIRE", "true") in [(e.name, e.value) for e in sf.env]
    legacy = parse_dockerfile(
        "Dockerfile", "FROM x\nENV NVIDIA_REQUIRE_CUDA cuda>=12.4 brand=tesla,driver>=535\n"
    )
    assert [(e.name, e.value) for e in legacy.env] == [
        ("NVIDIA_REQUIRE_CUDA", "cuda>=12.4 brand=tesla,driver>=535")
    ]


def test_escape_directive() -> None:
    text = "# escape=`\nFROM mcr.microsoft.com/windows:ltsc2022\nRUN pip install `\n    torch==2.9.0\n"
    sf = parse_dockerfile("Dockerfile", text)
    assert [(d.name, d.location.line) for d in sf.requirements] == [("torch", 4)]


def test_from_without_image_is_a_problem() -> None:
    assert [p.location.line for p in parse_dockerfile("Dockerfile", "FROM\n").problems] == [1]


def test_install_command_forms() -> None:
    assert parse_install_command(["pip", "install", "torch==2.9.0"]) == (["torch==2.9.0"], [], [])
    assert parse_install_command(["uv", "pip", "install", "-r", "r.txt", "--index-url", "https://i"]) == (
        [],
        [("index-url", "https://i")],
        [("requirement", "r.txt")],
    )
    assert parse_install_command(["FOO=1", "python3.12", "-m", "pip", "install", "-e", ".", "vllm"]) == (
        ["vllm"],
        [],
        [],
    )
    assert parse_install_command(["pip", "download", "torch"]) is None
    assert parse_install_command(["apt-get", "install", "-y", "python3"]) is None
    # local paths and wheels are not requirements
    assert parse_install_command(["pip", "install", "./dist/x-1.0-py3-none-any.whl", "/src", "."]) == (
        [],
        [],
        [],
    )


def test_substitute_forms() -> None:
    env: dict[str, str | None] = {"A": "1", "E": ""}
    assert substitute("$A-${A}-${B:-x}-${A:+y}-${E:-z}", env) == ("1-1-x-y-z", ())
    assert substitute("${MISSING}", env) == ("${MISSING}", ("MISSING",))


def test_project_extras_and_system_packages() -> None:
    text = (
        "FROM nvidia/cuda:12.6.3-base-ubuntu22.04\n"
        "RUN apt-get -qq update && apt-get -qq install --no-install-recommends python3 libcudnn8=8.9.7.29-1\n"
        "RUN poetry install --extras cuda\n"
        "RUN pip install '.[audio,gpu]' && uv sync --frozen --extra quant\n"
    )
    sf = parse_dockerfile("Dockerfile", text)
    assert sf.extras == ("cuda", "audio", "gpu", "quant")
    assert sf.system_packages == ("python3", "libcudnn8")
    assert parse_dockerfile("Dockerfile", "FROM x\nRUN pip install -r r.txt\n").extras is None
    assert parse_dockerfile("Dockerfile", "FROM x\nRUN uv sync --all-extras\n").extras == ("*",)


def test_unquoted_comparison_is_a_shell_redirection() -> None:
    sf = parse_dockerfile("Dockerfile", 'FROM x\nRUN pip install vllm>=0.4.3 "torch>=2.3"\n')
    assert [(d.name, d.specifier) for d in sf.requirements] == [("vllm", ""), ("torch", ">=2.3")]
    assert any("vllm>=0.4.3 is not quoted" in n for n in sf.notes)
