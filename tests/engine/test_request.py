"""What the user asked for is read whole: direct references by their file name, every pin of a package."""

from __future__ import annotations

import pytest

from cudalign.errors import InvalidInput
from cudalign.facts import Facts, load
from cudalign.hosts import describe_host
from cudalign.stack import parse_requirements, resolve

WHEEL = "torch-2.5.1%2Bcu124-cp311-cp311-linux_x86_64.whl"


@pytest.mark.parametrize(
    "text",
    [
        f"torch @ https://download.pytorch.org/whl/cu124/{WHEEL}",
        "./wheels/torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl",
        f"file:///opt/wheels/{WHEEL}",
        f"https://download.pytorch.org/whl/cu124/{WHEEL}",
        f"torch @ file:///opt/wheels/{WHEEL}#sha256=abc",
    ],
)
def test_a_direct_wheel_is_judged_by_its_file_name(text: str) -> None:
    req = parse_requirements([text])
    assert str(req.specs["torch"].specifier) == "==2.5.1"
    assert req.variants["torch"] == "cu124"
    assert req.index_url is None  # a wheel URL is not an index
    assert req.written["torch"][0].text == text


def test_a_direct_sdist_is_judged_by_its_version() -> None:
    req = parse_requirements(["flash-attn @ https://example.org/flash_attn-2.7.4.post1.tar.gz"])
    assert str(req.specs["flash-attn"].specifier) == "==2.7.4.post1"


@pytest.mark.parametrize(
    ("text", "key", "why"),
    [
        ("vllm @ git+https://github.com/vllm-project/vllm@main", "vllm", "VCS reference"),
        ("vllm @ https://example.org/vllm/archive/", "vllm", "not a wheel or sdist"),
        ("./src/mypkg", "./src/mypkg", "local path"),
        ("torch @ https://example.org/vllm-0.13.0-py3-none-any.whl", "torch", "a file of vllm"),
    ],
)
def test_a_reference_without_a_version_is_kept_with_why(text: str, key: str, why: str) -> None:
    req = parse_requirements([text])
    assert why in req.unjudged[key]
    assert not req.specs


def test_every_pin_of_a_package_is_kept_and_intersected() -> None:
    req = parse_requirements(["torch>=2.5", "torch<2.7"], constraints=["torch!=2.6.0", "vllm<1"])
    assert [w.text for w in req.written["torch"]] == ["torch>=2.5", "torch<2.7", "torch!=2.6.0"]
    spec = req.specs["torch"].specifier
    assert spec.contains("2.5.1") and not spec.contains("2.6.0")
    assert "vllm" not in req.specs and "vllm" in req.constraints and req.order == ("torch",)


def test_a_bad_requirement_is_still_an_input_error() -> None:
    with pytest.raises(InvalidInput):
        parse_requirements(["torch @"])


@pytest.mark.parametrize(
    ("text", "column"),
    [("torch==", 6), ("torch>=2;;", 10), ("vllm[ab", 5), ('torch; python_version >>= "3"', 24)],
)
def test_a_bad_requirement_is_one_line_naming_the_column(text: str, column: int) -> None:
    """packaging's message spans three lines (the text and a caret under it): the user gets one."""
    with pytest.raises(InvalidInput) as caught:
        parse_requirements([text])
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"requirement {text!r}: ")
    assert message.endswith(f"(at column {column})")


def test_resolve_keeps_the_direct_wheel_version_and_variant() -> None:
    facts: Facts = load()
    host = describe_host(facts, gpus=["H100"], driver="550.54.15", python="3.11")
    stack = resolve([f"torch @ https://download.pytorch.org/whl/cu124/{WHEEL}"], facts, host)
    torch = stack.component("torch")
    assert torch is not None and torch.version == "2.5.1" and torch.variant == "cu124"
    assert stack.cuda_runtime == "12.4"
    assert stack.requested == (f"torch @ https://download.pytorch.org/whl/cu124/{WHEEL}",)
