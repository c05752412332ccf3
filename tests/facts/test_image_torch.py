# ruff: noqa: E501  (the recorded uv.lock and Dockerfile lines are kept as the project wrote them)
"""The torch inside an image release, read from the project's Dockerfile and uv.lock (facts/image_torch.py).

The snippets are cut from text-generation-inference's own files at its release tags (v3.3.0, v3.3.1,
v2.0.0), so the tests need no network."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

from cudalign.errors import InvalidFact
from cudalign.facts import Facts, load
from cudalign.facts.image_torch import LockedTorch, lock_dir, locked_torch, python_version, torch_facts
from cudalign.stack.images import image_info

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


# v3.3.1's Dockerfile, its stages cut to what decides the torch
UV_DOCKERFILE = """\
FROM lukemathwalker/cargo-chef:latest-rust-1.85.1 AS chef
FROM nvidia/cuda:12.4.1-devel-ubuntu22.04 AS pytorch-install
ARG PYTORCH_VERSION=2.7
ARG PYTHON_VERSION=3.11
RUN uv venv --python ${PYTHON_VERSION} && uv pip install torch==${PYTORCH_VERSION} torchvision pip setuptools packaging
FROM nvidia/cuda:12.4.0-base-ubuntu22.04 AS base
COPY --from=pytorch-install /usr/src/.venv /usr/src/.venv
ENV PYTHON_VERSION=3.11
RUN uv python install ${PYTHON_VERSION}
COPY server server
RUN cd server && \\
    uv sync --frozen --extra gen --extra bnb --extra torch --no-install-project --active && \\
    make gen-server-raw && \\
    kernels download .
FROM base AS sagemaker
COPY sagemaker.sh entrypoint.sh
FROM base
COPY ./tgi-entrypoint.sh /tgi-entrypoint.sh
"""

# v2.0.0's: conda's pytorch package, then an unlocked pip install of the server
CONDA_DOCKERFILE = """\
FROM nvidia/cuda:12.1.0-devel-ubuntu22.04 as pytorch-install
ARG PYTORCH_VERSION=2.1.1
ARG PYTHON_VERSION=3.10
ARG CUDA_VERSION=12.1
RUN /opt/conda/bin/conda install -c pytorch -c nvidia -y "python=${PYTHON_VERSION}" "pytorch=$PYTORCH_VERSION" \\
    "pytorch-cuda=$(echo $CUDA_VERSION | cut -d'.' -f 1-2)"
FROM nvidia/cuda:12.1.0-base-ubuntu22.04 as base
COPY --from=pytorch-install /opt/conda /opt/conda
RUN cd server && make gen-server && pip install -r requirements_cuda.txt && pip install ".[bnb, accelerate]"
FROM base
"""

# v3.3.1's server/uv.lock, its two torch packages (wheels and dependencies cut)
UV_LOCK = """\
version = 1
revision = 1
requires-python = ">=3.9"

[[package]]
name = "torch"
version = "2.7.0"
source = { registry = "https://pypi.org/simple" }
resolution-markers = [
    "python_full_version >= '3.12' and sys_platform != 'linux' and sys_platform != 'win32'",
    "python_full_version == '3.11.*' and sys_platform != 'linux' and sys_platform != 'win32'",
]

[[package]]
name = "torch"
version = "2.7.0+cu128"
source = { registry = "https://download.pytorch.org/whl/cu128" }
resolution-markers = [
    "(python_full_version >= '3.12' and platform_machine != 'aarch64' and sys_platform == 'linux') or (python_full_version >= '3.12' and sys_platform == 'win32')",
    "(python_full_version == '3.11.*' and platform_machine != 'aarch64' and sys_platform == 'linux') or (python_full_version == '3.11.*' and sys_platform == 'win32')",
]

[[package]]
name = "torchvision"
version = "0.22.0+cu128"
source = { registry = "https://download.pytorch.org/whl/cu128" }
"""

# v3.1.1's: torch from PyPI, one package for every platform
PYPI_LOCK = """\
version = 1
requires-python = ">=3.9"

[[package]]
name = "torch"
version = "2.6.0"
source = { registry = "https://pypi.org/simple" }
"""


def test_the_final_stage_is_followed_to_its_locked_sync_and_python() -> None:
    assert lock_dir(UV_DOCKERFILE) == "server"
    assert python_version(UV_DOCKERFILE) == "3.11"
    # a torch installed in another stage (pytorch-install) is replaced by what the lock says
    assert lock_dir(UV_DOCKERFILE.replace("--frozen", "")) is None


def test_a_conda_or_unlocked_install_says_nothing_about_the_torch_build() -> None:
    assert lock_dir(CONDA_DOCKERFILE) is None
    assert lock_dir("FROM python:3.12\nRUN uv sync --locked\n") == "."


def test_the_lock_gives_the_torch_of_the_images_platform_and_python() -> None:
    assert locked_torch(UV_LOCK, python="3.11") == LockedTorch(
        "2.7.0", "cu128", "https://download.pytorch.org/whl/cu128"
    )
    # on macOS-like markers only the PyPI one applies; on aarch64 here neither: not one torch, unknown
    assert locked_torch(UV_LOCK, python="3.11", machine="aarch64") is None
    assert locked_torch(UV_LOCK, python="3.10") is None  # no package admits Python 3.10 in this cut
    # PyPI's own build: no variant, the knowledge base's PyPI snapshot says which it is
    assert locked_torch(PYPI_LOCK, python="3.11") == LockedTorch("2.6.0", None, "https://pypi.org/simple")
    assert locked_torch("version = 1\n", python="3.11") is None


def test_torch_facts_group_runs_and_name_moving_tags_only_when_they_are_shared() -> None:
    cu124 = LockedTorch("2.6.0", "cu124", "https://download.pytorch.org/whl/cu124")
    cu128 = LockedTorch("2.7.0", "cu128", "https://download.pytorch.org/whl/cu128")
    pypi = LockedTorch("2.6.0", None, "https://pypi.org/simple")
    text = torch_facts(
        [
            ("v3.1.0", None, ""),  # unknown: breaks runs, gets no fact
            ("v3.1.1", pypi, "https://example.org/3.1.1/uv.lock"),
            ("v3.2.0", pypi, "https://example.org/3.2.0/uv.lock"),
            ("v3.2.3", cu124, "https://example.org/3.2.3/uv.lock"),
            ("v3.3.0", cu124, "https://example.org/3.3.0/uv.lock"),
            ("v3.3.1", cu128, "https://example.org/3.3.1/uv.lock"),
            ("v3.3.2", cu128, "https://example.org/3.3.2/uv.lock"),
            ("v3.4.0-rc1", cu128, "https://example.org/rc/uv.lock"),  # a pre-release: left out
        ],
        repository="org/server",
        fact_prefix="image.server",
        checked="2026-12-04",
    )
    facts = tomllib.loads(text)["image_torch"]
    assert [(f["id"], f["versions"]) for f in facts] == [
        ("image.server.3.1.1.torch", ">=3.1.1,<=3.2.0"),
        ("image.server.3.2.3.torch", ">=3.2.3,<=3.3.0"),
        ("image.server.3.3.1.torch", ">=3.3.1,<=3.3.2"),
    ]
    assert "torch_variant" not in facts[0] and facts[0]["torch"] == "2.6.0"
    assert facts[0]["source"] == "https://example.org/3.1.1/uv.lock"
    assert "tags" not in facts[1]  # 3.2.x and 3.3.x releases carry two torch builds each
    assert facts[2]["tags"] == ["latest"] and facts[2]["torch_variant"] == "cu128"


def test_the_shipped_facts_load_and_a_fact_without_torch_is_refused(tmp_path: Path) -> None:
    data = ROOT / "src" / "cudalign" / "facts" / "data"
    good = (data / "image_torch.toml").read_text(encoding="utf-8")
    assert re.search(r'versions = ">=3\.3\.1,', good)
    bad = tmp_path / "data"
    bad.mkdir()
    (bad / "x.toml").write_text(
        '[[image_torch]]\nid = "x"\nrepository = "org/server"\nversions = "==1.0.0"\n'
        'source = "https://example.org"\nchecked = 2026-12-04\n',
        encoding="utf-8",
    )
    with pytest.raises(InvalidFact, match="needs 'torch' or 'torch_variant'"):
        load(bad)


@pytest.mark.parametrize(
    ("tag", "torch", "variant"),
    [
        ("3.3.0", "2.6.0", "cu124"),
        ("v3.3.1", "2.7.0", "cu128"),
        ("latest", "2.7.0", "cu128"),
        ("3.2.0", "2.6.0", None),  # PyPI's own build: the resolver reads its variant from the snapshot
        ("3.3", None, None),  # moves across two builds: not known
        ("1.3.4", None, None),  # conda's pytorch: not known
    ],
)
def test_a_tgi_release_carries_the_torch_its_lock_pins(
    facts: Facts, tag: str, torch: str | None, variant: str | None
) -> None:
    info = image_info(facts, f"ghcr.io/huggingface/text-generation-inference:{tag}")
    assert (info.torch, info.torch_variant) == (torch, variant)
    assert info.cuda is not None  # the base is still the release's nvidia/cuda


def test_the_script_reads_each_tags_dockerfile_and_lock_from_a_git_directory(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    (repo / "server").mkdir(parents=True)

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    (repo / "Dockerfile").write_text(CONDA_DOCKERFILE, encoding="utf-8")
    git("add", "Dockerfile")
    git("commit", "-q", "-m", "conda")
    git("tag", "v1.0.0")
    (repo / "Dockerfile").write_text(UV_DOCKERFILE, encoding="utf-8")
    (repo / "server" / "uv.lock").write_text(UV_LOCK, encoding="utf-8")
    git("add", "Dockerfile", "server/uv.lock")
    git("commit", "-q", "-m", "uv")
    git("tag", "v1.1.0")
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "derive_image_torch.py"), str(repo / ".git"), "--tags",
         r"^v\d", "--repository", "org/proj", "--id", "image.proj", "--source",
         "https://github.com/org/proj", "--checked", "2026-12-04"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    facts = tomllib.loads(out.stdout)["image_torch"]
    assert [(f["id"], f["torch"], f["torch_variant"]) for f in facts] == [
        ("image.proj.1.1.0.torch", "2.7.0", "cu128")
    ]
    assert re.fullmatch(r"https://github.com/org/proj/blob/[0-9a-f]{40}/server/uv\.lock", facts[0]["source"])
    assert "v1.0.0: left out" in out.stderr
