"""torch 1.9 and 1.11-1.13 on Linux: the architectures the builder's release branches compiled, per variant.

The classic incident of 2020-2022: an RTX 30xx (sm_86) with the plain PyPI torch, whose Linux wheel was
built for CUDA 10.2 (sm_37 to sm_70) up to 1.12 and for CUDA 11.7 from 1.13.
"""

from __future__ import annotations

import pytest

from cudalign.facts import load, query
from cudalign.hosts import describe_host
from cudalign.model import Verdict
from cudalign.rules import check, verdict
from cudalign.stack import resolve


def _check(requirement: str, gpu: str, driver: str = "470.82.01") -> tuple[Verdict, dict[str, str]]:
    facts = load()
    host = describe_host(facts, gpus=[gpu], driver=driver)
    findings = check(host, resolve([requirement], facts, host), facts)
    return verdict(findings), {f.code: f.fix for f in findings}


@pytest.mark.parametrize(
    ("requirement", "alternative"),
    [("torch==1.9.0", "1.9.0+cu111"), ("torch==1.11.0", "1.11.0+cu115"), ("torch==1.12.1", "1.12.1+cu116")],
)
def test_the_cuda_10_2_pypi_build_has_no_ampere_code_and_the_fix_names_the_variant_that_has(
    requirement: str, alternative: str
) -> None:
    got, fixes = _check(requirement, "RTX 3090")
    assert got is Verdict.FAILS
    assert f"torch {alternative}" in fixes["CA201"]


@pytest.mark.parametrize(
    "requirement", ["torch==1.13.1", "torch==1.12.1+cu116", "torch==1.11.0+cu113", "torch==1.9.0+cu111"]
)
def test_a_cuda_11_build_runs_on_ampere(requirement: str) -> None:
    got, fixes = _check(requirement, "RTX 3090")
    assert got in (Verdict.OK, Verdict.CAVEATS)
    assert "CA201" not in fixes


def test_the_cuda_10_2_build_still_runs_on_volta_and_1_13_is_cuda_11_7_on_pypi() -> None:
    got, _ = _check("torch==1.12.1", "V100")
    assert got in (Verdict.OK, Verdict.CAVEATS)
    facts = load()
    series = query.torch_series(facts, "1.13.1")
    assert series is not None and series["pypi_default"]["linux_x86_64"] == "cu117"
    build = query.torch_build(facts, "1.13.1", "cu117", "linux_x86_64")
    assert build is not None and "8.6" in [str(a) for a in build["archs"]]
    assert build.ref.source.startswith("https://github.com/pytorch/builder/blob/")
