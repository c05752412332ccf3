"""The README's plan scenarios, each as (requirements, host flags), and their emitted files."""

from __future__ import annotations

from functools import cache, lru_cache

from cudalign.emit import KINDS, EmitSource, EmittedFile, emit, source_from_plan
from cudalign.facts import Facts, load
from cudalign.hosts import describe_host
from cudalign.model import Host

__all__ = ["SCENARIOS", "emitted", "host_flags", "scenario_source"]

SCENARIOS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "a-rtx6000ada-550": (("torch==2.9.*", "vllm==0.13.0"), ("RTX 6000 Ada", "RTX 6000 Ada"), "550.107.02"),
    "b-a6000-550": (("vllm>=0.12",), ("RTX A6000",), "550.163.01"),
    "c-rtx5090-570": (("vllm",), ("RTX 5090",), "570.133.07"),
    "d-v100-535": (("vllm",), ("V100",), "535.183.01"),
}
"""Name -> (requirements, GPUs, driver): examples (a)-(d) of the README's ``plan`` tour."""


@lru_cache(maxsize=1)
def facts() -> Facts:
    return load()


def scenario_host(name: str) -> Host:
    _, gpus, driver = SCENARIOS[name]
    return describe_host(facts(), gpus=gpus, driver=driver)


def host_flags(name: str) -> list[str]:
    _, gpus, driver = SCENARIOS[name]
    return [*(x for g in gpus for x in ("--gpu", g)), "--driver", driver]


@cache
def scenario_source(name: str) -> EmitSource:
    from cudalign.plan import make_plan

    reqs, _, _ = SCENARIOS[name]
    host = scenario_host(name)
    return source_from_plan(make_plan(reqs, facts(), host), host, facts())


@cache
def emitted(name: str, kind: str) -> tuple[EmittedFile, ...]:
    assert kind in KINDS
    return emit(scenario_source(name), kind, facts())
