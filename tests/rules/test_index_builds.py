"""A third-party index's own torch builds (Jetson AI Lab), judged by the archs its build scripts list."""

from __future__ import annotations

import pytest

from cudalign.facts import query
from cudalign.hosts import describe_host
from cudalign.model import Severity

from .conftest import Judge


def _host(judge: Judge, gpu: str):  # type: ignore[no-untyped-def]
    return describe_host(judge.facts, gpus=(gpu,), python="3.10", arch="aarch64")


JP6 = "https://pypi.jetson-ai-lab.dev/jp6/cu126"


def _ca201(judge: Judge, gpu: str, index: str) -> list:  # type: ignore[type-arg]
    host = _host(judge, gpu)
    stack = judge.stack("torch==2.5.0", f"--index-url={index}", host=host)
    return judge.run("CA201", host, stack)


def test_catches_not_orin_on_the_jp6_index(judge: Judge) -> None:
    host = _host(judge, "Jetson Orin NX")
    stack = judge.stack("torch==2.5.0", f"--index-url={JP6}", host=host)
    assert [str(cc) for cc in stack.archs] == ["8.7"] and "archs" not in stack.unknown
    assert "index_build.jetson-ai-lab.jp6.torch" in {r.id for r in stack.facts}
    assert judge.run("CA201", host, stack) == []


def test_catches_xavier_on_the_jp6_index(judge: Judge) -> None:
    host = _host(judge, "Jetson Xavier NX")
    stack = judge.stack("torch==2.5.0", f"--index-url={JP6}", host=host)
    found = judge.run("CA201", host, stack) + judge.run("CA202", host, stack)
    assert [f.severity for f in found] == [Severity.ERROR] and not found[0].unknown
    assert "sm_72" in found[0].message


def test_catches_not_xavier_on_the_jp5_index(judge: Judge) -> None:
    host = _host(judge, "Jetson Xavier NX")
    stack = judge.stack("torch==2.5.0", "--index-url=https://pypi.jetson-ai-lab.io/jp5/cu114", host=host)
    assert judge.run("CA201", host, stack) + judge.run("CA202", host, stack) == []


def test_an_index_family_without_a_fact_stays_unknown(judge: Judge) -> None:
    found = _ca201(judge, "Jetson Orin NX", "https://pypi.jetson-ai-lab.dev/jp9/cu140")
    assert found and all(f.unknown for f in found)
    found = _ca201(judge, "Jetson Orin NX", "https://wheels.example.org/jp6/cu126")
    assert found and all(f.unknown for f in found)


@pytest.mark.parametrize(
    ("url", "fact"),
    [
        (JP6, "index_build.jetson-ai-lab.jp6.torch"),
        ("https://pypi.jetson-ai-lab.io/sbsa/cu130/+simple", "index_build.jetson-ai-lab.sbsa.torch"),
        ("https://PYPI.jetson-ai-lab.dev/JP4/cu102", "index_build.jetson-ai-lab.jp4.torch"),
        ("https://pypi.jetson-ai-lab.dev/", None),
        ("https://download.pytorch.org/whl/cu126", None),
        ("not a url", None),
        (None, None),
    ],
)
def test_index_build_query(judge: Judge, url: str | None, fact: str | None) -> None:
    got = query.index_build(judge.facts, url, "torch")
    assert (got.id if got is not None else None) == fact
    assert query.index_build(judge.facts, url, "torchvision") is None
