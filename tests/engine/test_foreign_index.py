"""A torch index that is neither PyPI nor PyTorch's (NVIDIA's Jetson AI Lab index) serves that index's own
CUDA build: never read as PyPI's CPU-only wheel, never judged on PyTorch's architecture lists."""

from __future__ import annotations

import pytest

from cudalign.facts import Facts, load
from cudalign.hosts import describe_host
from cudalign.rules import check, verdict
from cudalign.stack import resolve
from cudalign.stack.request import foreign_index_variant

JETSON = "https://pypi.jetson-ai-lab.io/jp6/cu126"


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


@pytest.mark.parametrize(
    ("url", "variant"),
    [
        (JETSON, "cu126"),
        ("https://pypi.jetson-ai-lab.dev/sbsa/cu130/", "cu130"),
        ("https://download.pytorch.org/whl/cu128", None),
        ("https://mirrors.aliyun.com/pytorch-wheels/cu121", None),  # a mirror of PyTorch's index
        ("https://pypi.org/simple", None),
        ("https://artifactory.example.com/api/pypi/simple", None),  # a mirror of PyPI
        (None, None),
    ],
)
def test_which_indexes_build_their_own_torch(url: str | None, variant: str | None) -> None:
    assert foreign_index_variant(url) == variant


def test_jetson_index_torch_is_its_cuda_build_with_its_build_scripts_archs(facts: Facts) -> None:
    host = describe_host(facts, gpus=["Jetson AGX Orin"], arch="aarch64")
    stack = resolve(["torch==2.5.0"], facts, host, index_url=JETSON)
    torch = stack.component("torch")
    assert torch is not None and torch.variant == "cu126"
    assert [str(cc) for cc in stack.archs] == ["8.7"]  # jetson-containers: JetPack 6 builds for Orin only
    findings = check(host, stack, facts)
    names = {f.name for f in findings}
    assert "cpu-only-torch" not in names and "no-wheel-for-platform" not in names
    assert verdict(findings, stack).value == "caveats"  # only the unstated driver remains a condition


def test_an_index_whose_builds_no_fact_describes_has_unknown_archs(facts: Facts) -> None:
    other = "https://wheels.example.org/jp6/cu126"
    host = describe_host(facts, gpus=["Jetson AGX Orin"], arch="aarch64")
    stack = resolve(["torch==2.5.0"], facts, host, index_url=other)
    torch = stack.component("torch")
    assert torch is not None and torch.variant == "cu126" and not stack.archs
    findings = check(host, stack, facts)
    assert verdict(findings, stack).value == "unknown"
    assert any(f.unknown and other in f.unknown for f in findings)


def test_pypi_torch_on_jetson_is_still_cpu_only(facts: Facts) -> None:
    host = describe_host(facts, gpus=["Jetson AGX Orin"], arch="aarch64")
    stack = resolve(["torch==2.5.0"], facts, host)
    assert "cpu-only-torch" in {f.name for f in check(host, stack, facts)}


def test_a_pytorch_index_keeps_its_facts(facts: Facts) -> None:
    host = describe_host(facts, gpus=["GTX 1050"], driver="550.163.01")
    stack = resolve(["torch==2.8.0"], facts, host, index_url="https://download.pytorch.org/whl/cu128")
    assert "gpu-arch-dropped" in {f.name for f in check(host, stack, facts)}
