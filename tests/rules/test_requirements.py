"""CA308 unknown-release and CA309 requirements-conflict, on a small snapshot built here.

The snapshot below holds a few releases of torch, vLLM and flashinfer-python, so the tests do not
depend on what the embedded snapshot holds today.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from cudalign.facts import Facts
from cudalign.facts.snapshot import MetadataRecord, PackageHistory, Release, Snapshot
from cudalign.hosts import describe_host
from cudalign.model import Finding, Host, Severity, Stack, Verdict
from cudalign.rules import Context, check, engine_rule, verdict
from cudalign.stack import resolve

INDEX = "https://pypi.org"


def _release(version: str, *requires: str) -> Release:
    meta = {"any": MetadataRecord(f"x-{version}.whl", INDEX, "test", tuple(requires))} if requires else {}
    return Release(version=version, uploaded="2026-01-01T00:00:00", metadata=meta)


def _history(name: str, *releases: Release) -> PackageHistory:
    return PackageHistory(name, "2026-01-01", f"{INDEX}/pypi/{name}/json", {r.version: r for r in releases})


def small_snapshot() -> Snapshot:
    return Snapshot(
        generated="2026-01-02T00:00:00",
        index=INDEX,
        origin="test",
        path="<test>",
        packages={
            "torch": _history("torch", *(_release(v) for v in ("2.5.0", "2.5.1", "2.6.0", "2.7.0"))),
            "vllm": _history(
                "vllm",
                _release("0.33.0", "torch==2.6.0", "flashinfer-python==0.7.2"),
                _release("0.34.0", "torch==2.7.0", "flashinfer-python==0.7.3"),
            ),
            "flashinfer-python": _history(
                "flashinfer-python", *(_release(v) for v in ("0.7.1", "0.7.2", "0.7.4"))
            ),
            "jax-cuda12-plugin": _history("jax-cuda12-plugin", _release("0.4.30")),
        },
    )


@pytest.fixture(scope="module")
def kb(facts: Facts) -> Facts:
    return Facts(list(facts), small_snapshot())


@pytest.fixture(scope="module")
def host(kb: Facts) -> Host:
    return describe_host(kb, gpus=["H100"], driver="580.95.05", python="3.12")


def _stack(kb: Facts, host: Host, reqs: Sequence[str], constraints: Sequence[str] = ()) -> Stack:
    return resolve(reqs, kb, host, constraints=constraints)


def _run(
    code: str, kb: Facts, host: Host, reqs: Sequence[str], constraints: Sequence[str] = ()
) -> list[Finding]:
    return engine_rule(code).run(Context(host, _stack(kb, host, reqs, constraints), kb))


# ---- CA308 unknown-release ---------------------------------------------------------------------------


def test_ca308_catches_a_release_the_index_never_had(kb: Facts, host: Host) -> None:
    (f,) = _run("CA308", kb, host, ["torch==2.5.9"])
    assert f.severity is Severity.ERROR and f.unknown is None
    assert "no torch 2.5.9" in f.message and "did you mean 2.5.1" in f.message
    assert "torch==2.5.1" in f.fix


def test_ca308_catches_a_release_newer_than_the_snapshot_as_unknown(kb: Facts, host: Host) -> None:
    stack = _stack(kb, host, ["torch==9.9.9"])
    found = check(host, stack, kb)
    (f,) = [x for x in found if x.code == "CA308"]
    assert f.unknown and "newest torch is 2.7.0" in f.message and "2026-01-02" in f.message
    assert verdict(found, stack) is Verdict.UNKNOWN


def test_ca308_catches_a_misspelt_package_with_did_you_mean(kb: Facts, host: Host) -> None:
    stack = _stack(kb, host, ["vlm==0.13.0"])
    found = check(host, stack, kb)
    (f,) = [x for x in found if x.code == "CA308"]
    assert "did you mean vllm" in f.message and f.unknown
    assert verdict(found, stack) is not Verdict.OK


def test_ca308_catches_a_range_no_release_meets(kb: Facts, host: Host) -> None:
    (f,) = _run("CA308", kb, host, ["torch>=2.5.2,<2.6"])
    assert f.severity is Severity.ERROR and "torch>=2.5.2,<2.6" in f.message


def test_ca308_catches_a_metadata_pin_on_a_release_the_index_never_had(kb: Facts, host: Host) -> None:
    found = _run("CA308", kb, host, ["vllm==0.34.0"])
    (f,) = found
    assert f.severity is Severity.ERROR
    assert "vllm 0.34.0 pins flashinfer-python==0.7.3" in f.message and "never had" in f.message


def test_ca308_catches_a_vcs_reference_as_unjudged(kb: Facts, host: Host) -> None:
    stack = _stack(kb, host, ["vllm @ git+https://github.com/vllm-project/vllm@main"])
    found = check(host, stack, kb)
    (f,) = [x for x in found if x.code == "CA308"]
    assert f.unknown and "VCS reference" in f.message
    assert verdict(found, stack) is Verdict.UNKNOWN


def test_ca308_catches_not_a_range_that_backs_off_the_uninstallable_release(kb: Facts, host: Host) -> None:
    stack = _stack(kb, host, ["vllm>=0.33"])
    vllm = stack.component("vllm")
    assert vllm is not None and vllm.version == "0.33.0"  # pip backtracks from 0.34.0 as well
    assert engine_rule("CA308").run(Context(host, stack, kb)) == []


def test_ca308_catches_not_releases_that_exist(kb: Facts, host: Host) -> None:
    found = _run("CA308", kb, host, ["torch==2.5.1", "vllm==0.33.0", "numpy==1.26.4"])
    # numpy is not tracked: said to be unchecked (info), nothing more
    assert [(f.severity, f.unknown, f.message.split(":")[0]) for f in found] == [
        (Severity.INFO, None, "numpy==1.26.4")
    ]


def test_ca308_catches_not_a_sibling_package_of_another_cuda_major(kb: Facts, host: Host) -> None:
    found = _run("CA308", kb, host, ["jax-cuda11-plugin==0.4.20"])
    assert [(f.severity, "did you mean" in f.message) for f in found] == [(Severity.INFO, False)]


def test_ca308_catches_not_a_direct_wheel_of_a_known_release(kb: Facts, host: Host) -> None:
    url = "https://download.pytorch.org/whl/cu124/torch-2.5.1%2Bcu124-cp312-cp312-linux_x86_64.whl"
    assert _run("CA308", kb, host, [f"torch @ {url}"]) == []


# ---- CA309 requirements-conflict ---------------------------------------------------------------------


def test_ca309_catches_two_exact_pins(kb: Facts, host: Host) -> None:
    (f,) = _run("CA309", kb, host, ["torch==2.5.1", "torch==2.6.0"])
    assert f.severity is Severity.ERROR and "ResolutionImpossible" in f.message
    assert "torch==2.5.1" in f.message and "torch==2.6.0" in f.message


def test_ca309_catches_a_constraint_that_excludes_the_requirement(kb: Facts, host: Host) -> None:
    (f,) = _run("CA309", kb, host, ["torch==2.6.0"], constraints=["torch<2.6"])
    assert "torch<2.6 (a constraint)" in f.message


def test_ca309_catches_ranges_no_release_meets_together(kb: Facts, host: Host) -> None:
    (f,) = _run("CA309", kb, host, ["torch>=2.6", "torch<2.6"])
    assert "torch>=2.6" in f.message and "torch<2.6" in f.message


def test_ca309_catches_two_variants_of_one_release(kb: Facts, host: Host) -> None:
    assert len(_run("CA309", kb, host, ["torch==2.5.1+cu124", "torch==2.5.1+cu121"])) == 1


def test_ca309_catches_a_direct_wheel_against_a_pin(kb: Facts, host: Host) -> None:
    wheel = "./wheels/torch-2.5.1+cu124-cp312-cp312-linux_x86_64.whl"
    (f,) = _run("CA309", kb, host, [wheel, "torch==2.6.0"])
    assert wheel in f.message


def test_ca309_catches_not_pins_that_agree_or_apply_elsewhere(kb: Facts, host: Host) -> None:
    assert _run("CA309", kb, host, ["torch==2.6.0", "torch>=2.5"], constraints=["torch<2.7"]) == []
    windows = ["torch==2.5.1; sys_platform == 'win32'", "torch==2.6.0; sys_platform == 'linux'"]
    assert _run("CA309", kb, host, windows) == []


def test_ca309_catches_not_a_constraint_on_a_package_not_installed(kb: Facts, host: Host) -> None:
    assert _run("CA309", kb, host, ["vllm==0.33.0"], constraints=["xformers<0.0.1", "xformers>0.1"]) == []


def test_a_constraint_against_a_release_pin_is_a_pin_conflict(kb: Facts, host: Host) -> None:
    (f,) = _run("CA301", kb, host, ["vllm==0.33.0"], constraints=["torch==2.5.1"])
    assert "vllm 0.33.0 pins torch==2.6.0, but torch==2.5.1 is a constraint" in f.message
