"""plan gives a vLLM CUDA variant wheel the vLLM image of that CUDA, or none: never another CUDA's image."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cudalign.facts import DATA_DIR, Facts, load
from cudalign.hosts import describe_host
from cudalign.model import Matrix
from cudalign.plan import make_plan

FACTS = load()
R570 = "570.195.03"


def _variant(facts: Facts, gpu: str, release: str = "0.25.0") -> Matrix | None:
    host = describe_host(facts, gpus=[gpu], driver=R570)
    plan = make_plan([f"vllm=={release}"], facts, host, max_matrices=4)
    return next((m for m in plan.matrices if m.vllm == f"{release}+cu129" and not m.driver_change), None)


@pytest.fixture(scope="module")
def no_cu129_image(tmp_path_factory: pytest.TempPathFactory) -> Facts:
    """The knowledge base with the '-cu129' image tag of vLLM 0.20-0.33 taken out (the variant wheel kept)."""
    data = Path(shutil.copytree(DATA_DIR, tmp_path_factory.mktemp("facts") / "data"))
    path = data / "vllm.toml"
    text = path.read_text(encoding="utf-8")
    entry = 'image_cuda = { "" = "13.0", "-cu129" = "12.9" }'
    assert text.count(entry) == 1
    path.write_text(text.replace(entry, 'image_cuda = { "" = "13.0" }'), encoding="utf-8")
    return load(data, snapshot=FACTS.snapshot)


def test_cu129_wheel_rescued_on_r570_names_the_cu129_image_of_its_release() -> None:
    m = _variant(FACTS, "H100")  # the wheel's PTX needs R575+; the image's compat libraries run it
    assert m is not None
    assert m.image == "vllm/vllm-openai:v0.25.0-cu129"
    assert m.stack.image_cuda == "12.9"
    assert any("vllm/vllm-openai:v0.25.0-cu129" in c and "CUDA 12.9 compat" in c for c in m.caveats)
    assert not any("vllm/vllm-openai:v0.25.0:" in c or "CUDA 13.0" in c for c in m.caveats)


def test_cu129_wheel_that_runs_on_the_host_gets_the_cu129_image_or_a_cuda_base() -> None:
    m = _variant(FACTS, "RTX 4090")  # GeForce: no forward compatibility; the wheel runs through MVC
    assert m is not None
    assert m.image != "vllm/vllm-openai:v0.25.0"
    assert m.image is None or m.image.endswith("-cu129") or m.image.startswith("nvidia/cuda:12.")


def test_pypi_wheel_keeps_the_unsuffixed_image() -> None:
    host = describe_host(FACTS, gpus=["H100"], driver="580.95.05")
    plan = make_plan(["vllm==0.25.0"], FACTS, host)
    default = next(m for m in plan.matrices if m.vllm == "0.25.0")
    assert default.image == "vllm/vllm-openai:v0.25.0"


def test_no_variant_image_in_the_facts_means_no_vllm_image_not_the_default_one(no_cu129_image: Facts) -> None:
    m = _variant(no_cu129_image, "H100")
    if m is not None:  # never rescued through the CUDA 13.0 image of another build
        assert not (m.image or "").startswith("vllm/vllm-openai:")
        assert not any("vllm/vllm-openai" in c for c in m.caveats)
    shipped = _variant(FACTS, "H100")
    assert shipped is not None and shipped.image == "vllm/vllm-openai:v0.25.0-cu129"
    # a variant the host runs without help: a plain CUDA base image of the wheel's major, not vLLM's
    geforce = _variant(no_cu129_image, "RTX 4090")
    assert geforce is not None
    assert geforce.image is None or geforce.image.startswith("nvidia/cuda:12.")
