"""CA404 image-platform-missing: an image tag not published for the host's CPU architecture, and plan's
base images judged by the same facts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cudalign.facts import Facts, load_file
from cudalign.facts.image_platforms import has_platform, nearest_tag, oci_platform, published_platforms
from cudalign.hosts import describe_host
from cudalign.model import Host
from cudalign.plan import make_plan
from cudalign.stack.images import image_info

from .conftest import Judge

NEW = "580.65.06"


def _host(facts: Facts, gpu: str, arch: str | None) -> Host:
    return describe_host(facts, gpus=[gpu], driver=NEW, arch=arch)


def test_an_amd64_only_image_on_aarch64_fails_with_exec_format_error(judge: Judge, facts: Facts) -> None:
    image = "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime"
    (hit,) = judge("CA404", [], _host(facts, "GH200", "aarch64"), image=image)
    assert (
        image in hit.message and "linux/amd64 only" in hit.message and "linux/arm64 (aarch64)" in hit.message
    )
    assert "exec format error" in hit.message
    # no pytorch/pytorch CUDA tag publishes arm64: build it from an nvidia/cuda base (same CUDA) that does
    assert "--platform linux/arm64" in hit.fix and "nvidia/cuda:12.1.1-runtime-ubuntu22.04" in hit.fix
    assert {r.id for r in hit.facts} == {
        "image.platforms.pytorch-pytorch.cuda",
        "image.platforms.nvidia-cuda",
    }


def test_the_same_image_on_x86_64_passes(judge: Judge, facts: Facts) -> None:
    image = "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime"
    assert judge("CA404", [], _host(facts, "H100", "x86_64"), image=image) == []
    assert judge("CA404", [], _host(facts, "H100", None), image=image) == []  # a described host is x86_64


@pytest.mark.parametrize(
    "image", ["vllm/vllm-openai:v0.10.2", "vllm/vllm-openai:v0.13.0-cu130", "vllm/vllm-openai:latest"]
)
def test_a_multi_arch_image_on_aarch64_passes(judge: Judge, facts: Facts, image: str) -> None:
    assert judge("CA404", [], _host(facts, "GB200", "aarch64"), image=image) == []


@pytest.mark.parametrize(
    "image",
    [
        "nvcr.io/nvidia/pytorch:25.12-py3",  # NGC: no source read says its platforms
        "pytorch/pytorch:2.1.0-cuda12.1-cudnn8-runtime",  # older than the recorded range (sources disagree)
        "pytorch/pytorch:2.15.0-cuda13.0-cudnn9-runtime",  # newer than the release matrix read
        "example.org/acme/app:1.0",  # outside the knowledge base
    ],
)
def test_unknown_platforms_are_no_finding(judge: Judge, facts: Facts, image: str) -> None:
    assert (
        published_platforms(facts, (image.split(":")[0].split("/", 1)[-1],), image.split(":")[1]).fact is None
    )
    assert judge("CA404", [], _host(facts, "GH200", "aarch64"), image=image) == []


def test_the_fix_names_the_nearest_tag_that_publishes_the_hosts_platform(judge: Judge, facts: Facts) -> None:
    (hit,) = judge("CA404", [], _host(facts, "GB200", "aarch64"), image="vllm/vllm-openai:v0.9.0")
    assert "Use vllm/vllm-openai:v0.10.2, the nearest tag published for linux/arm64" in hit.fix
    assert "image.platforms.vllm-openai.multi-arch" in {r.id for r in hit.facts}
    # derived from the releases and the facts, for any tag of the family: a mirror keeps its prefix
    (hit,) = judge(
        "CA404", [], _host(facts, "GB200", "aarch64"), image="mirror.example/vllm/vllm-openai:v0.8.5"
    )
    assert "mirror.example/vllm/vllm-openai:v0.10.2" in hit.fix


def test_an_arm64_only_image_fails_on_x86_64(judge: Judge, facts: Facts) -> None:
    image = "pytorch/pytorch:2.5.0-runtime"  # PyTorch's CPU image is built for linux/arm64 only
    (hit,) = judge("CA404", [], _host(facts, "H100", "x86_64"), image=image)
    assert "linux/arm64 only" in hit.message and "linux/amd64 (x86_64)" in hit.message
    assert judge("CA404", [], _host(facts, "GH200", "aarch64"), image=image) == []


def test_tgi_images_are_amd64_only(judge: Judge, facts: Facts) -> None:
    image = "ghcr.io/huggingface/text-generation-inference:3.3.0"
    assert judge("CA404", [], _host(facts, "GH200", "aarch64"), image=image)
    assert judge("CA404", [], _host(facts, "H100", "x86_64"), image=image) == []


def test_a_digest_pin_is_not_judged_by_the_tags_platforms(judge: Judge, facts: Facts) -> None:
    image = "pytorch/pytorch@sha256:" + "0" * 64
    assert image_info(facts, image).platforms == ()


def test_platform_names() -> None:
    assert oci_platform("aarch64") == "linux/arm64" and oci_platform("x86_64") == "linux/amd64"
    assert has_platform(("linux/arm64/v8",), "aarch64") and not has_platform(("linux/amd64",), "arm64")


def test_nearest_tag_prefers_the_next_newer_release(facts: Facts) -> None:
    found = nearest_tag(facts, "vllm/vllm-openai", "v0.10.1.1-cu126", "aarch64")
    assert found is not None and found[0] == "v0.10.2-cu126"
    assert nearest_tag(facts, "vllm/vllm-openai", "v0.9.0", "x86_64") is not None  # amd64 is in both
    assert nearest_tag(facts, "pytorch/pytorch", "2.3.0-cuda12.1-cudnn8-runtime", "aarch64") is None


def test_plan_does_not_propose_a_base_image_without_the_hosts_platform(facts: Facts, tmp_path: Path) -> None:
    host = _host(facts, "GH200", "aarch64")
    shipped = make_plan(["torch==2.9.0"], facts, host, max_matrices=1)
    assert shipped.matrices and (shipped.matrices[0].image or "").startswith("nvidia/cuda:")
    # the same knowledge base where nvidia/cuda were linux/amd64 only: plan must not offer it on aarch64
    amd_only = tmp_path / "amd.toml"
    amd_only.write_text(
        "[[image_platforms]]\n"
        'id = "test.nvidia-cuda.amd64"\nrepository = "nvidia/cuda"\ntag_pattern = ".*"\n'
        'platforms = ["linux/amd64"]\nsource = "https://example.invalid"\nchecked = 2026-12-04\n',
        encoding="utf-8",
    )
    kept = [f for f in facts if f.id != "image.platforms.nvidia-cuda"]
    other = Facts([*kept, *load_file(amd_only)], facts.snapshot)
    plan = make_plan(["torch==2.9.0"], other, host, max_matrices=1)
    assert plan.matrices and plan.matrices[0].image is None
    assert [r.code for r in plan.matrices[0].images_rejected] == ["CA404"]
    on_x86 = make_plan(
        ["torch==2.9.0"],
        other,
        dataclasses.replace(host, os=dataclasses.replace(host.os, arch="x86_64")),
        max_matrices=1,
    )
    assert (on_x86.matrices[0].image or "").startswith("nvidia/cuda:")


@pytest.mark.parametrize(
    ("gpus", "arch", "machine"),
    [
        (["GH200"], None, "aarch64"),  # Grace superchips, DGX Spark and Jetson come only on Arm hosts
        (["GB200", "GB200"], None, "aarch64"),
        (["NVIDIA GB10"], None, "aarch64"),
        (["Jetson AGX Orin"], None, "aarch64"),
        (["H100"], None, "x86_64"),
        (["GH200", "H100"], None, "x86_64"),  # no one machine the GPUs imply
        (["sm_90"], None, "x86_64"),  # a capability names no product
        ([], None, "x86_64"),
        (["GH200"], "x86_64", "x86_64"),  # --arch is what the user says
    ],
)
def test_a_described_hosts_machine_follows_its_gpus(
    facts: Facts, gpus: list[str], arch: str | None, machine: str
) -> None:
    assert describe_host(facts, gpus=gpus, driver=NEW, arch=arch).os.arch == machine


def test_a_gh200_host_without_arch_gets_the_finding(judge: Judge, facts: Facts) -> None:
    host = describe_host(facts, gpus=["GH200"], driver=NEW)
    assert judge("CA404", [], host, image="pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime")


def test_no_two_platform_facts_cover_one_tag(facts: Facts) -> None:
    """Each tag of a family has one answer: the facts' ranges do not overlap on any release the snapshot
    knows (nor on the moving tags)."""
    probes = {
        "vllm/vllm-openai": [f"v{r}{s}" for r in facts.snapshot.releases("vllm") for s in ("", "-cu129")],
        "pytorch/pytorch": [
            f"{r}{s}"
            for r in facts.snapshot.releases("torch")
            for s in ("-cuda12.1-cudnn8-runtime", "-cuda13.0-cudnn9-devel", "-runtime")
        ],
        "nvidia/cuda": ["12.8.1-runtime-ubuntu22.04", "13.0.2-cudnn-devel-ubuntu24.04", "11.8.0-base-ubi8"],
        "huggingface/text-generation-inference": ["3.3.0", "v1.4.5", "2.0", "latest"],
    }
    from cudalign.facts.image_platforms import _covers, _facts

    for repo, tags in probes.items():
        assert tags, repo
        for tag in [*tags, "latest", "nightly"]:
            covering = [f.id for f in _facts(facts, repo) if _covers(f, tag)]
            assert len(covering) <= 1, (repo, tag, covering)
