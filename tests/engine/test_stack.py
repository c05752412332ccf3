"""Requirements and images -> Stack: ranges newest first, pins followed, variants, CUDA facts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cudalign.errors import InvalidInput
from cudalign.facts import Facts, load
from cudalign.hosts import describe_host
from cudalign.model import Host, host_from_json
from cudalign.stack import from_installed, parse_requirements, resolve

HOSTS = Path(__file__).resolve().parents[1] / "hosts"


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


@pytest.fixture(scope="module")
def host(facts: Facts) -> Host:
    return describe_host(facts, gpus=["H100"], driver="580.95.05", python="3.12")


def test_local_label_names_the_variant() -> None:
    req = parse_requirements(["torch==2.6.0+cu124"])
    assert req.variants["torch"] == "cu124"
    assert str(req.specs["torch"].specifier) == "==2.6.0"


def test_index_url_names_the_variant() -> None:
    assert (
        parse_requirements(["torch", "https://download.pytorch.org/whl/cu128"]).variants["torch"] == "cu128"
    )
    assert (
        parse_requirements(["torch", "--extra-index-url", "https://download.pytorch.org/whl/cu126"]).variants[
            "torch"
        ]
        == "cu126"
    )


def test_bad_requirement_is_an_input_error() -> None:
    with pytest.raises(InvalidInput):
        parse_requirements(["vllm=>0.12"])


@given(
    st.sampled_from(["torch", "vllm", "xformers", "flash_attn", "torch.vision"]),
    st.sampled_from(["", ">=1", "==2.0"]),
)
def test_requirement_names_are_normalised(name: str, spec: str) -> None:
    req = parse_requirements([name + spec])
    (key,) = req.specs
    assert key == key.lower() and "_" not in key and "." not in key


def test_vllm_pin_is_followed_to_torch_and_its_pypi_variant(facts: Facts, host: Host) -> None:
    stack = resolve(["vllm==0.13.0"], facts, host)
    torch = stack.component("torch")
    assert torch is not None and torch.version == "2.9.0" and torch.variant == "cu128"
    assert stack.cuda_runtime == "12.8" and stack.cudnn and stack.nccl
    vllm = stack.component("vllm")
    assert vllm is not None and vllm.cuda == "12.9"


def test_range_resolves_newest_first(facts: Facts, host: Host) -> None:
    stack = resolve(["vllm>=0.12,<0.14"], facts, host)
    vllm = stack.component("vllm")
    assert vllm is not None and vllm.version == "0.13.0"


def test_explicit_variant_wins_over_pypi_default(facts: Facts, host: Host) -> None:
    stack = resolve(["torch==2.9.0+cu130"], facts, host)
    assert stack.cuda_runtime == "13.0"
    torch = stack.component("torch")
    assert torch is not None and torch.index_url == "https://download.pytorch.org/whl/cu130"


def test_pin_conflict_is_recorded(facts: Facts, host: Host) -> None:
    stack = resolve(["vllm==0.13.0", "torch==2.8.0"], facts, host)
    assert any("torch==2.9.0" in c for c in stack.conflicts)


def test_image_gives_cuda_require_and_vllm(facts: Facts, host: Host) -> None:
    stack = resolve([], facts, host, image="vllm/vllm-openai:v0.13.0")
    assert stack.image_cuda == "12.9" and stack.image_require and stack.image_require.startswith("cuda>=12.9")
    vllm = stack.component("vllm")
    assert vllm is not None and vllm.version == "0.13.0"


def test_from_installed_reads_local_labels(facts: Facts) -> None:
    host = host_from_json(json.loads((HOSTS / "h100-mixed-cuda.json").read_text()))
    stack = from_installed(host, facts)
    torch, vision = stack.component("torch"), stack.component("torchvision")
    assert torch is not None and torch.variant == "cu130"
    assert vision is not None and vision.variant == "cu126" and vision.cuda == "12.6"
