"""Which nvidia/cuda tags exist, known offline from NVIDIA's own tag lists.

Catches: a tag written with X.Y (``12.1-devel-ubuntu22.04``), a CUDA release NVIDIA published no image
of (``12.8.2``), a tag without a version (``latest``), in ``check``, in ``scan`` on a Dockerfile FROM
line, and ``plan`` no longer proposing such a base image. Catches not: published tags, a digest pin,
a version newer than the lists, and a tag a registry actually serves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cudalign.cli import main
from cudalign.facts import load, query
from cudalign.facts.image_tags import fact_toml, judge_tag, parse_tag_lists
from cudalign.facts.registry import ImageConfig
from cudalign.hosts import describe_host
from cudalign.plan import make_plan
from cudalign.stack.images import image_info, parse_reference
from cudalign.stack.registry import info_from_config

LISTS = (
    """## Supported tags
### ubuntu22.04
#### CUDA 12.1.1
- [`12.1.1-base-ubuntu22.04` (*12.1.1/ubuntu22.04/base/Dockerfile*)](https://gitlab.com/x)
- [`12.1.1-cudnn8-devel-ubuntu22.04` (*12.1.1/ubuntu22.04/devel/cudnn8/Dockerfile*)](https://gitlab.com/x)
""",
    """## Unsupported tags
### ubuntu22.04
#### CUDA 12.1.0
- `12.1.0-base-ubuntu22.04`
- `12.1.0-devel-ubuntu22.04`
### amzn2023
#### CUDA 12.1.0
- `12.1.0-runtime-amzn2023`
""",
)


def test_the_lists_parse_into_a_fact_that_loads_back() -> None:
    tags = parse_tag_lists(LISTS)
    assert tags == {
        "12.1.1": {"base-ubuntu22.04", "cudnn8-devel-ubuntu22.04"},
        "12.1.0": {"base-ubuntu22.04", "devel-ubuntu22.04", "runtime-amzn2023"},
    }
    text = fact_toml(tags, repository="nvidia/cuda", fact_id="t", source="s", checked="2026-12-04", note="n")
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    fact = tomllib.loads(text)["image_tags"][0]
    assert fact["versions"] == "<=12.1.1" and fact["version_parts"] == 3
    assert fact["tags"]["12.1.0"] == "amzn2023: runtime; ubuntu22.04: base devel"


def test_every_shipped_tag_is_written_x_y_z_and_matches_the_family_grammar() -> None:
    facts = load()
    (fact,) = facts.of_kind("image_tags")
    family = next(f for f in facts.of_kind("image_family") if f["repository"] == "nvidia/cuda")
    assert len(fact["tags"]) > 30
    for version, text in fact["tags"].items():
        assert len(version.split(".")) == fact["version_parts"]
        for part in text.split(";"):
            os, _, flavours = part.partition(":")
            for flavour in flavours.split():
                if flavour.startswith("tensorrt"):
                    continue  # 13.0.0's TensorRT images: not an image the family's rules judge
                tag = f"{version}-{flavour}-{os.strip()}"
                assert family["tag_pattern"].fullmatch(tag), tag


@pytest.mark.parametrize(
    ("tag", "nearest"),
    [
        ("12.1-devel-ubuntu22.04", "12.1.1-devel-ubuntu22.04"),
        ("12.8.2-runtime-ubuntu22.04", "12.8.1-runtime-ubuntu22.04"),  # a toolkit release without images
        ("11.4.0-base-centos7", "11.4.3-base-centos7"),  # deleted under NVIDIA's support policy
        ("12.4.1-cudnn9-devel-ubuntu22.04", "12.4.1-cudnn-devel-ubuntu22.04"),  # 12.4.1 names it cudnn
        ("latest", None),
    ],
)
def test_tags_nvidia_never_published_are_caught(tag: str, nearest: str | None) -> None:
    said = judge_tag(load(), "nvidia/cuda", tag)
    assert said.exists is False and said.suggestion == nearest
    info = image_info(load(), f"nvidia/cuda:{tag}")
    assert "image_tag" in info.unknown and info.require is None


@pytest.mark.parametrize(
    "reference",
    [
        "nvidia/cuda:12.1.1-devel-ubuntu22.04",
        "nvidia/cuda:12.3.2-cudnn9-runtime-ubuntu22.04",
        "nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04",
        "nvcr.io/nvidia/cuda:13.0.2-base-ubuntu24.04",
        "nvidia/cuda:13.2.0-base-ubuntu24.04",  # newer than the lists: not judged
        "nvidia/cuda@sha256:" + "0" * 64,  # a digest pin is not judged by a tag
    ],
)
def test_published_or_uncovered_tags_are_not_caught(reference: str) -> None:
    assert "image_tag" not in image_info(load(), reference).unknown


def test_an_x_y_tag_beyond_the_lists_names_the_releases() -> None:
    facts = load()
    said = judge_tag(facts, "nvidia/cuda", "13.2-base-ubuntu24.04")
    releases = [str(f["version"]) for f in query.toolkits(facts) if str(f["version"]).startswith("13.2.")]
    assert said.exists is False and releases and all(r in said.reason for r in releases)


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, object]]:
    code = main([*argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_check_says_the_tag_does_not_exist_and_names_the_nearest(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _json(capsys, ["check", "--image", "nvidia/cuda:12.1-devel-ubuntu22.04", "--gpu", "T4"])
    assert code == 1 and report["verdict"] == "fails"
    findings = report["findings"]
    assert isinstance(findings, list)
    (finding,) = [f for f in findings if f["code"] == "CA308"]
    assert "does not exist" in finding["message"]
    assert finding["fix"].startswith("Use nvidia/cuda:12.1.1-devel-ubuntu22.04")
    assert finding["facts"][0]["id"] == "image.tags.nvidia-cuda"


def test_check_of_a_published_tag_has_no_such_finding(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _json(
        capsys, ["check", "--image", "nvidia/cuda:12.1.1-devel-ubuntu22.04", "--gpu", "T4", "--driver", "535"]
    )
    assert code == 0 and report["verdict"] == "ok" and report["findings"] == []


@pytest.mark.parametrize(
    ("tag", "caught"), [("12.1-devel-ubuntu22.04", True), ("12.1.1-devel-ubuntu22.04", False)]
)
def test_scan_reads_the_from_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tag: str, caught: bool
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM nvidia/cuda:{tag}\nRUN pip install torch==2.5.1\n")
    _, report = _json(capsys, ["scan", str(tmp_path)])
    findings = report["findings"]
    assert isinstance(findings, list)
    hits = [f for f in findings if f["code"] == "CA308"]
    assert bool(hits) is caught
    if caught:
        assert hits[0]["location"]["line"] == 1 and "12.1.1-devel-ubuntu22.04" in hits[0]["fix"]


def test_plan_proposes_only_a_published_base_image() -> None:
    facts = load()
    host = describe_host(facts, gpus=["L4"], driver="570.86.15")
    plan = make_plan(["torch==2.7.1+cu128"], facts, host, max_matrices=1)
    image = plan.matrices[0].image
    assert image is not None and image.startswith("nvidia/cuda:12.8.")
    assert judge_tag(facts, "nvidia/cuda", image.split(":", 1)[1]).exists is True


def test_a_tag_the_registry_serves_wins_over_the_lists() -> None:
    facts = load()
    name = parse_reference("registry.example/nvidia/cuda:12.1-devel-ubuntu22.04")
    cfg = ImageConfig(
        "registry.example",
        "nvidia/cuda",
        "12.1-devel-ubuntu22.04",
        "sha256:" + "1" * 64,
        "sha256:" + "2" * 64,
        "linux/amd64",
        env={"CUDA_VERSION": "12.1.1", "NVIDIA_REQUIRE_CUDA": "cuda>=12.1"},
    )
    info = info_from_config(facts, name, cfg, checked="2026-12-04")
    assert "image_tag" not in info.unknown and info.require == "cuda>=12.1"
