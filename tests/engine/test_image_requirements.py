"""An image's NVIDIA_REQUIRE_CUDA as check judges it: recorded, partly known (its cuda>=X.Y clause only),
absent (pytorch/pytorch runtime, NGC releases), and a GPU left unstated (its brand becomes a condition)."""

from __future__ import annotations

from typing import Any

import pytest
from packaging.version import Version

from cudalign.facts import Facts, load
from cudalign.hosts import describe_host
from cudalign.model import Finding
from cudalign.rules import check, verdict
from cudalign.stack import resolve
from cudalign.stack.images import image_info


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


def judge(facts: Facts, image: str, reqs: tuple[str, ...] = (), **host: Any) -> tuple[str, list[Finding]]:
    h = describe_host(facts, gpus=host.get("gpus", ()), driver=host.get("driver"), arch=host.get("arch"))
    stack = resolve(reqs, facts, h, image=image)
    found = list(check(h, stack, facts))
    return verdict(found, stack).value, found


def names(found: list[Finding]) -> set[str]:
    return {f.name for f in found if not f.unknown}


def test_a_version_without_a_recorded_list_keeps_its_cuda_clause(facts: Facts) -> None:
    info = image_info(facts, "nvidia/cuda:11.3.1-base-ubuntu20.04")
    assert info.require == "cuda>=11.3" and "image_require_brands" in info.unknown
    # a driver that supports the image's CUDA starts it, whatever the brand clauses say
    got, found = judge(facts, "nvidia/cuda:11.3.1-base-ubuntu20.04", gpus=["RTX 3090"], driver="470.82.01")
    assert got in ("ok", "caveats") and not any(f.unknown for f in found)


def test_catches_an_older_driver_as_undecided_not_as_a_refusal(facts: Facts) -> None:
    got, found = judge(
        facts, "nvidia/cuda:11.3.1-base-ubuntu20.04", gpus=["A100 80GB PCIe"], driver="455.23.05"
    )
    ca401 = [f for f in found if f.code == "CA401"]
    assert got == "unknown" and ca401 and ca401[0].unknown and "11.3" in ca401[0].unknown


def test_recorded_lists_decide_geforce_on_an_older_branch(facts: Facts) -> None:
    # 12.3 lists geforce on R535: the container starts (and then runs on compat libraries it cannot use)
    got, found = judge(facts, "nvidia/cuda:12.3.2-base-ubuntu22.04", gpus=["RTX 4090"], driver="535.129.03")
    assert "image-requires-newer-driver" not in names(found)
    # 12.6 lists no geforce: refused
    got, found = judge(facts, "nvidia/cuda:12.6.3-base-ubuntu22.04", gpus=["RTX 4090"], driver="535.129.03")
    assert got == "fails" and "image-requires-newer-driver" in names(found)
    # but a Tesla brand on R535 starts it
    got, found = judge(
        facts, "nvidia/cuda:12.6.3-base-ubuntu22.04", gpus=["A100 80GB PCIe"], driver="535.129.03"
    )
    assert "image-requires-newer-driver" not in names(found)


def test_an_unstated_gpu_on_a_brand_clause_driver_is_a_condition(facts: Facts) -> None:
    got, found = judge(facts, "nvidia/cuda:12.6.3-base-ubuntu22.04", driver="535.129.03")
    conds = [f for f in found if f.code == "CA401" and f.condition is not None]
    assert got == "caveats" and conds and conds[0].condition is not None
    assert conds[0].condition.subject == "gpu" and "tesla" in conds[0].condition.text
    assert "geforce" not in conds[0].condition.text
    assert not any(f.unknown for f in found)


def test_pytorch_runtime_images_set_no_requirement_and_their_torch_decides(facts: Facts) -> None:
    info = image_info(facts, "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime")
    assert info.require == "" and not info.unknown and info.torch_variant == "cu121"
    # an R535 GeForce host: no requirement refuses it; cu121 torch runs (CUDA 12.2 driver)
    got, found = judge(
        facts, "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime", gpus=["RTX 3090"], driver="535.104.05"
    )
    assert got in ("ok", "caveats") and "image-requires-newer-driver" not in names(found)
    # and the devel flavour (FROM nvidia/cuda) keeps the base's requirement
    assert image_info(facts, "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-devel").require


def test_a_serving_projects_release_resolves_to_its_nvidia_cuda_base(facts: Facts) -> None:
    info = image_info(facts, "ghcr.io/huggingface/text-generation-inference:1.3.4")
    assert info.cuda == "12.1.0" and info.require and info.require.startswith("cuda>=12.1")
    got, found = judge(
        facts,
        "ghcr.io/huggingface/text-generation-inference:1.3.4",
        gpus=["A100 80GB PCIe"],
        driver="520.61.05",
    )
    assert got == "fails" and "image-requires-newer-driver" in names(found)


def test_a_flavour_without_cudnn_is_known_to_have_none(facts: Facts) -> None:
    assert image_info(facts, "nvidia/cuda:12.0.0-runtime-ubuntu22.04").cudnn == ""
    assert image_info(facts, "nvidia/cuda:12.3.2-cudnn9-runtime-ubuntu22.04").cudnn == "9"
    assert image_info(facts, "vllm/vllm-openai:v0.9.0").cudnn is None  # its tags do not say


def test_catches_a_cudnn_user_in_a_flavour_without_cudnn(facts: Facts) -> None:
    reqs = ("faster-whisper==1.0.3", "ctranslate2==4.4.0")
    got, found = judge(
        facts, "nvidia/cuda:12.0.0-runtime-ubuntu22.04", reqs, gpus=["RTX 3060"], driver="535.104.05"
    )
    assert got == "fails" and any(f.name == "library-not-on-path" and "cuDNN 8" in f.message for f in found)
    # catches not: the cudnn8 flavour of the same CUDA holds it
    got, found = judge(
        facts, "nvidia/cuda:12.2.2-cudnn8-runtime-ubuntu22.04", reqs, gpus=["RTX 3060"], driver="535.104.05"
    )
    assert got in ("ok", "caveats") and "library-not-on-path" not in names(found)


def test_a_moving_vllm_tag_is_judged_as_the_newest_release_and_says_so(facts: Facts) -> None:
    info = image_info(facts, "vllm/vllm-openai:latest")
    newest = max(facts.snapshot.releases("vllm"), key=Version)
    assert info.vllm == str(Version(newest)) and "image_channel" in info.unknown
    assert image_info(facts, "vllm/vllm-openai:cu130-nightly").cuda == "13.0"
    _, found = judge(facts, "vllm/vllm-openai:latest", gpus=["H100 SXM"], driver="580.65.06")
    assert any(f.code == "CA401" and "moves with each release" in f.message for f in found)
    # a release tag is no moving tag
    assert "image_channel" not in image_info(facts, "vllm/vllm-openai:v0.9.0").unknown


def test_ngc_releases_start_on_an_older_driver_and_need_forward_compatibility(facts: Facts) -> None:
    info = image_info(facts, "nvcr.io/nvidia/tritonserver:24.05-vllm-python-py3")
    assert info.cuda == "12.4.1" and info.require == "" and info.compat
    got, found = judge(facts, "nvcr.io/nvidia/pytorch:24.05-py3", gpus=["RTX 4090"], driver="535.104.05")
    assert got == "fails" and "forward-compat-unsupported" in names(found)
    assert "image-requires-newer-driver" not in names(found)  # it starts: no requirement refuses it
    got, _ = judge(facts, "nvcr.io/nvidia/pytorch:24.05-py3", gpus=["A100 80GB PCIe"], driver="535.104.05")
    assert got in ("ok", "caveats")


def test_a_moving_tag_with_a_pinned_vllm_is_that_releases_image(facts: Facts) -> None:
    h = describe_host(facts, gpus=["RTX 4090"], driver="550.54.14")
    stack = resolve(["vllm==0.6.3"], facts, h, image="vllm/vllm-openai:latest")
    assert stack.image == "vllm/vllm-openai:latest" and stack.image_cuda == "12.1" and not stack.conflicts
    assert stack.component("vllm") is not None and str(stack.component("vllm").version) == "0.6.3"  # type: ignore[union-attr]


def test_an_untagged_reference_is_its_latest_tag(facts: Facts) -> None:
    # Docker pulls :latest when no tag is written; NVIDIA publishes no nvidia/cuda:latest
    assert "image_tag" in image_info(facts, "nvidia/cuda").unknown
    assert "image_tag" not in image_info(facts, "nvidia/cuda:12.4.1-base-ubuntu22.04").unknown
    assert "image_tag" not in image_info(facts, "vllm/vllm-openai").unknown  # no tag list: not judged
