"""The nvidia/cuda base of an image release, read from the project's Dockerfile (facts/image_bases.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

from cudalign.facts.image_bases import dockerfile_base, release_facts

ROOT = Path(__file__).resolve().parents[2]

MULTI_STAGE = """\
ARG CUDA_VERSION=12.4.0
FROM lukemathwalker/cargo-chef:latest-rust-1.80 AS chef
FROM nvidia/cuda:${CUDA_VERSION}-devel-ubuntu22.04 AS builder
FROM nvidia/cuda:${CUDA_VERSION}-base-ubuntu22.04 AS base
COPY --from=builder /x /x
FROM base
CMD ["serve"]
"""


def test_the_last_stage_is_followed_to_its_nvidia_cuda_base_with_arg_defaults() -> None:
    assert dockerfile_base(MULTI_STAGE) == "nvidia/cuda:12.4.0-base-ubuntu22.04"


def test_a_registry_prefix_and_a_digest_are_dropped() -> None:
    text = "FROM docker.io/nvidia/cuda:12.8.1-runtime-ubuntu22.04@sha256:abc AS run\n"
    assert dockerfile_base(text) == "nvidia/cuda:12.8.1-runtime-ubuntu22.04"


def test_a_final_stage_on_another_base_has_none() -> None:
    text = "FROM nvidia/cuda:12.1.0-devel-ubuntu22.04 AS build\nFROM python:3.12-slim\n"
    assert dockerfile_base(text) is None
    assert dockerfile_base("") is None


def test_release_facts_group_runs_and_name_minor_tags_only_when_all_share_the_base() -> None:
    text = release_facts(
        [
            ("v1.3.4", "nvidia/cuda:12.1.0-base-ubuntu20.04"),
            ("v1.4.0", "nvidia/cuda:12.1.0-base-ubuntu20.04"),
            ("v1.4.1", "nvidia/cuda:12.1.0-base-ubuntu22.04"),
            ("v2.0.0", "nvidia/cuda:12.1.0-base-ubuntu22.04"),
            ("v2.1.0-rc1", "nvidia/cuda:12.4.0-base-ubuntu22.04"),  # a pre-release: left out
            ("v0.6.0", None),  # no nvidia/cuda base: left out
        ],
        repository="org/server",
        fact_prefix="image.server",
        source="https://github.com/org/server/blob/abc/Dockerfile",
        checked="2026-12-03",
    )
    facts = tomllib.loads(text)["image_release"]
    assert [f["id"] for f in facts] == ["image.server.1.3.4", "image.server.1.4.1"]
    first, newest = (re.compile(f["tag_pattern"]) for f in facts)
    assert first.fullmatch("1.3.4") and first.fullmatch("v1.4.0") and first.fullmatch("1.3")
    assert not first.fullmatch("1.4")  # 1.4.x releases sit on two bases
    assert newest.fullmatch("2.0") and newest.fullmatch("latest") and not first.fullmatch("latest")
    assert facts[0]["cuda"] == "12.1.0" and facts[0]["based_on"] == "nvidia/cuda"


def test_the_script_reads_release_tags_from_a_git_directory(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    repo.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    for tag, base in (("v1.0.0", "11.8.0"), ("v1.1.0", "12.1.0")):
        (repo / "Dockerfile").write_text(f"FROM nvidia/cuda:{base}-base-ubuntu22.04\n", encoding="utf-8")
        git("add", "Dockerfile")
        git("commit", "-q", "-m", tag)
        git("tag", tag)
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "derive_image_bases.py"), str(repo / ".git"), "--tags",
         r"^v\d", "--repository", "org/proj", "--id", "image.proj", "--source",
         "https://github.com/org/proj", "--checked", "2026-12-03"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    facts = tomllib.loads(out.stdout)["image_release"]
    assert [(f["id"], f["cuda"]) for f in facts] == [
        ("image.proj.1.0.0", "11.8.0"),
        ("image.proj.1.1.0", "12.1.0"),
    ]
