"""Plan: every matrix it returns passes ``check`` on the same host; --no-driver-change keeps the driver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cudalign.facts import Facts, load, query
from cudalign.hosts import describe_host
from cudalign.model import Host, Verdict, host_from_json
from cudalign.plan import make_plan, with_driver
from cudalign.rules import check, verdict

HOSTS = Path(__file__).resolve().parents[1] / "hosts"
FACTS = load()

RECORDED = [
    host_from_json(json.loads((HOSTS / f"{name}.json").read_text()))
    for name in ("rtx5090-driver570", "h100", "driver470", "nvml-mismatch", "mig-enabled")
]
GPUS = [
    "V100",
    "T4",
    "A100",
    "A10",
    "RTX A6000",
    "RTX 4090",
    "RTX 6000 Ada",
    "L40S",
    "H100",
    "RTX 5090",
    "B200",
]
DRIVERS = ["470.256.02", "535.183.01", "550.107.02", "560.35.03", "570.133.07", "575.57.08", "580.95.05"]
REQUIREMENTS = [
    ["vllm"],
    ["vllm>=0.12"],
    ["vllm<0.10"],
    ["torch"],
    ["torch==2.9.*", "vllm==0.13.0"],
    ["torch>=2.6,<2.9"],
    ["vllm==0.11.2"],
]


def described() -> st.SearchStrategy[Host]:
    return st.builds(
        lambda gpu, n, drv: describe_host(FACTS, gpus=[gpu] * n, driver=drv),
        st.sampled_from(GPUS),
        st.integers(min_value=1, max_value=2),
        st.sampled_from(DRIVERS),
    )


HOST = st.one_of(st.sampled_from(RECORDED), described())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOST, st.sampled_from(REQUIREMENTS), st.booleans())
def test_every_matrix_passes_check_on_the_same_host(host: Host, reqs: list[str], keep: bool) -> None:
    """Every matrix plan returns gets ok or caveats from check on the same host, its driver target applied."""
    plan = make_plan(reqs, FACTS, host, no_driver_change=keep)
    for m in plan.matrices:
        target = host if not m.driver_change else with_driver(host, FACTS, m.driver or "")
        assert verdict(check(target, m.stack, FACTS)) in (Verdict.OK, Verdict.CAVEATS), (
            m.label,
            m.torch,
            m.vllm,
        )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOST, st.sampled_from(REQUIREMENTS))
def test_no_driver_change_never_proposes_a_driver_change(host: Host, reqs: list[str]) -> None:
    plan = make_plan(reqs, FACTS, host, no_driver_change=True)
    current = host.driver.version if host.driver else None
    for m in plan.matrices:
        assert not m.driver_change and not m.reboot and m.runbook is None
        assert m.driver == current


@pytest.fixture(scope="module")
def facts() -> Facts:
    return FACTS


def test_worked_example_rtx_6000_ada_on_r550_runs_now_with_caveats(facts: Facts) -> None:
    host = describe_host(facts, gpus=["RTX 6000 Ada", "RTX 6000 Ada"], driver="550.107.02")
    plan = make_plan(["torch==2.9.*", "vllm==0.13.0"], facts, host, no_driver_change=True)
    a = plan.matrices[0]
    assert (a.vllm, a.torch, a.verdict) == ("0.13.0", "2.9.0+cu128", Verdict.CAVEATS)
    assert any("minor-version-compat" in c for c in a.caveats)
    assert "--torch-backend=cu128" in a.install_uv and "--extra-index-url" in a.install_pip


def test_newest_vllm_on_v100_is_the_last_cuda_12_series(facts: Facts) -> None:
    host = describe_host(facts, gpus=["V100"], driver="535.183.01")
    plan = make_plan(["vllm"], facts, host)
    a = plan.matrices[0]
    assert a.vllm is not None and a.vllm.startswith("0.19.")
    assert any("gpu-arch-dropped" in r.reason or r.name == "gpu-arch-dropped" for r in plan.rejected)


def test_driver_upgrade_matrix_names_the_runbook(facts: Facts) -> None:
    host = describe_host(facts, gpus=["RTX 5090"], driver="570.133.07")
    plan = make_plan(["vllm==0.13.0"], facts, host)
    upgrades = [m for m in plan.matrices if m.driver_change]
    assert upgrades and upgrades[0].reboot and upgrades[0].driver_branch is not None
    assert upgrades[0].runbook == f"cudalign runbook --driver {upgrades[0].driver_branch[1:]}"


def test_max_one_keeps_the_top_ranked_matrix(facts: Facts) -> None:
    """Ranking puts no driver change first: with --max 1 a kept-driver matrix wins over an upgrade."""
    host = describe_host(facts, gpus=["V100"], driver="535.183.01")
    (only,) = make_plan(["vllm"], facts, host, max_matrices=1).matrices
    assert not only.driver_change and only.label == "A"


def test_gpu_newer_than_the_driver_needs_an_upgrade(facts: Facts) -> None:
    host = describe_host(facts, gpus=["RTX 5090"], driver="560.35.03")
    plan = make_plan(["vllm"], facts, host)
    assert plan.matrices and all(m.driver_change for m in plan.matrices)


def test_a_datacenter_gpu_keeps_its_driver_by_running_the_vllm_image(facts: Facts) -> None:
    """On R535 the pip install of vLLM 0.13.0 fails on an H100 (CUDA 12.9 PTX), but its image's compat
    libraries make it run: forward compatibility, offered as a caveat that names the image."""
    host = describe_host(facts, gpus=["H100"], driver="535.183.01")
    plan = make_plan(["vllm==0.13.0"], facts, host, no_driver_change=True)
    (a,) = plan.matrices
    assert (a.image, a.verdict, a.driver_change) == ("vllm/vllm-openai:v0.13.0", Verdict.CAVEATS, False)
    assert any("forward compatibility" in c and "CA103" in c for c in a.caveats)


def test_a_geforce_card_gets_no_forward_compat_matrix(facts: Facts) -> None:
    host = describe_host(facts, gpus=["RTX 4090"], driver="535.183.01")
    plan = make_plan(["vllm==0.13.0"], facts, host, no_driver_change=True)
    assert all(m.image != "vllm/vllm-openai:v0.13.0" for m in plan.matrices)


def test_pins_that_cannot_all_hold_are_the_reason_no_matrix_runs(facts: Facts) -> None:
    host = describe_host(facts, gpus=["H100"], driver="580.65.06")
    plan = make_plan(["torch==2.9.0", "torch==2.8.0"], facts, host)
    assert plan.matrices == () and plan.considered == 0
    assert [(r.family, r.code) for r in plan.rejected] == [("stack", "CA309")]
    assert "torch==2.9.0 and torch==2.8.0 cannot both hold" in plan.rejected[0].reason


def test_a_plan_that_finds_candidates_has_no_stack_rejection(facts: Facts) -> None:
    host = describe_host(facts, gpus=["H100"], driver="580.65.06")
    plan = make_plan(["torch==2.9.0"], facts, host)
    assert plan.matrices and all(r.family != "stack" for r in plan.rejected)


def test_no_driver_given_plans_per_supported_branch() -> None:
    """Without --driver, each still-supported branch gets its best matrix; none is end-of-life."""
    host = describe_host(FACTS, gpus=["RTX 5090"])
    plan = make_plan(["vllm"], FACTS, host)
    branches = [m.driver_branch for m in plan.matrices]
    assert len(branches) >= 2 and len(set(branches)) == len(branches)
    supported = {f"R{b}" for b in query.supported_branches(FACTS).value}
    assert set(branches) <= supported
    for m in plan.matrices:
        assert m.driver_assumed and not m.driver_change and m.verdict in (Verdict.OK, Verdict.CAVEATS)
        assert verdict(check(with_driver(host, FACTS, m.driver or ""), m.stack, FACTS)) is m.verdict


def test_no_driver_given_skips_branches_that_dropped_the_gpu() -> None:
    plan = make_plan(["torch"], FACTS, describe_host(FACTS, gpus=["V100"]))
    assert [m.driver_branch for m in plan.matrices] == ["R580"]
