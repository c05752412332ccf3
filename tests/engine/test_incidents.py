"""Real incidents from public trackers (tests/engine/incidents.toml): ``check`` must agree with each."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

import pytest

from cudalign.facts import Facts, load
from cudalign.hosts import describe_host
from cudalign.model import ContainerInfo, Finding, Host, Verdict
from cudalign.rules import RULES, check, verdict
from cudalign.stack import resolve

CASES_FILE = Path(__file__).with_name("incidents.toml")
CASES: list[dict[str, Any]] = tomllib.loads(CASES_FILE.read_text(encoding="utf-8"))["case"]
RULE_NAMES = {r.name for r in RULES}


def _params() -> list[Any]:
    return [pytest.param(c, id=c["id"]) for c in CASES]


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


def host_of(case: dict[str, Any], facts: Facts) -> Host:
    host = describe_host(
        facts,
        gpus=case.get("gpus", ()),
        driver=case.get("driver"),
        os=case.get("os"),
        arch=case.get("arch"),
        python=case.get("python"),
    )
    if case.get("container"):
        compat = case.get("compat_cuda")
        host = dataclasses.replace(
            host,
            container=ContainerInfo(
                kind="docker",
                nvidia_visible_devices="all",
                compat_libs=("/usr/local/cuda/compat/libcuda.so.1",) if compat else (),
                compat_cuda=compat,
            ),
        )
    if case.get("cuda_toolkits"):
        host = dataclasses.replace(host, cuda_toolkits=tuple(case["cuda_toolkits"]))
    if case.get("cudnn"):
        host = dataclasses.replace(host, cudnn={"system": case["cudnn"]})
    if case.get("nvswitch"):
        host = dataclasses.replace(host, nvswitch=True, fabric_manager=case.get("fabric_manager"))
    if case.get("nvml_mismatch") and host.driver is not None:
        host = dataclasses.replace(host, driver=dataclasses.replace(host.driver, nvml_mismatch=True))
    return host


def run_case(case: dict[str, Any], facts: Facts) -> tuple[Verdict, tuple[Finding, ...]]:
    host = host_of(case, facts)
    stack = resolve(
        case.get("requirements", ()), facts, host, image=case.get("image"), index_url=case.get("index_url")
    )
    findings = check(host, stack, facts, features=case.get("features", ()))
    return verdict(findings, stack), findings


def test_there_are_at_least_120_cited_cases() -> None:
    assert len(CASES) >= 120
    for case in CASES:
        assert case["url"].startswith("https://github.com/"), case["id"]
        assert set(case.get("rules", ())) <= RULE_NAMES, case["id"]
        assert case.get("quote") and case.get("confirmed"), case["id"]


def test_cases_that_work_are_represented() -> None:
    assert sum(c["verdict"] in ("ok", "caveats") for c in CASES) >= 40


def test_known_misses_are_few_and_say_why() -> None:
    misses = [c for c in CASES if c.get("known_miss")]
    assert len(misses) <= len(CASES) // 10
    assert all(len(c["known_miss"]) > 20 for c in misses)


def test_case_ids_are_unique() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))


def unstated(case: dict[str, Any]) -> set[str]:
    """The host values the thread does not state: each may only become a condition, never an excuse."""
    return {subject for subject, key in (("driver", "driver"), ("gpu", "gpus")) if not case.get(key)}


def expected_conditions(case: dict[str, Any]) -> set[str]:
    """What the verdict must be conditional on: the case's ``conditions`` where it names them, else, for
    a stack that runs, every host value the thread leaves out (a stack that fails may fail for a reason
    that no unstated value changes, so its conditions are only bounded by them)."""
    if "conditions" in case:
        return set(case["conditions"])
    return unstated(case) if case["verdict"] in ("ok", "caveats") else set()


def agrees(case: dict[str, Any], got: Verdict, findings: tuple[Finding, ...]) -> bool:
    """Whether ``check`` agrees with the case: verdict, rules, and conditions on exactly what is unstated."""
    subjects = {f.condition.subject for f in findings if f.condition is not None}
    return (
        got.value == case["verdict"]
        and set(case.get("rules", ())) <= {f.name for f in findings}
        and subjects <= unstated(case)
        and expected_conditions(case) <= subjects
        and not any(f.unknown and f.unknown.startswith("host ") for f in findings)
    )


@pytest.mark.parametrize("case", _params())
def test_incident(case: dict[str, Any], facts: Facts) -> None:
    got, findings = run_case(case, facts)
    if case.get("known_miss"):
        # a miss the knowledge base cannot avoid yet, said why; it must still miss, so a fix is noticed
        assert not agrees(case, got, findings), f"{case['id']} now agrees: drop its known_miss"
        pytest.xfail(case["known_miss"])
    summary = "; ".join(f"{f.code} {f.name} [{f.unknown or f.severity.value}] {f.message}" for f in findings)
    assert got.value == case["verdict"], f"{case['url']}: {summary}"
    names = {f.name for f in findings}
    for name in case.get("rules", ()):
        assert name in names, f"{case['url']}: expected {name}; got {summary}"
    subjects = {f.condition.subject for f in findings if f.condition is not None}
    assert subjects <= unstated(case), f"{case['url']}: a condition on a stated value: {summary}"
    assert expected_conditions(case) <= subjects, f"{case['url']}: conditions missing: {summary}"
    assert not any(f.unknown and f.unknown.startswith("host ") for f in findings), summary
