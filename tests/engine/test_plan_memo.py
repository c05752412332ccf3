"""Plan's shortcuts change nothing it answers.

``make_plan`` keeps answers per knowledge base (base images, driver-branch questions, upgrade targets) and
completes a matrix's base image only when the ranking reaches it. A plan must read the same whatever was
planned before it on the same knowledge base, and the same as the eager ranking (every matrix completed,
sorted by ``_sort_key``, the first of each driver change and series kept) that the lazy one stands for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from cudalign import plan as plan_module
from cudalign.facts import Facts, load
from cudalign.hosts import describe_host
from cudalign.model import Host, Matrix
from cudalign.plan import make_plan, plan_report
from cudalign.render import render

# (requirements, GPUs, driver, Python, arch): datacenter and consumer GPUs, old and new drivers, no driver
# (a plan per branch), forward compatibility (V100, A100), CUDA variant wheels (R570), neighbours
CASES: list[tuple[list[str], list[str], str | None, str | None, str | None]] = [
    (["vllm"], ["V100"], "535.183.01", None, None),
    (["vllm"], ["RTX 5090"], "570.133.07", None, None),
    (["torch"], ["H100"], "580.95.05", None, None),
    (["vllm"], ["A100"], None, None, None),
    (["torch==2.6.0+cu124"], ["T4"], "470.256.02", None, None),
    (["sglang"], ["H100"], "550.54.15", "3.10", None),
    (["faster-whisper", "torch"], ["T4"], "535.183.01", None, None),
    (["vllm"], ["GB200"], "570.133.20", None, "aarch64"),
    (["torch"], ["Jetson Orin"], "540.4.0", None, "aarch64"),
    (["vllm", "torch==2.5.1"], ["A100"], "550.127.05", None, None),
    (["vllm==0.13.0"], ["RTX 6000 Ada", "RTX 6000 Ada"], "550.107.02", None, None),
    (["vllm"], ["L4"], "525.147.05", "3.12", None),
]


SLOW = 9
"""The case whose plan takes longest (every vLLM release against torch 2.5.1): planned in one test only."""


def _host(facts: Facts, gpus: list[str], driver: str | None, python: str | None, arch: str | None) -> Host:
    return describe_host(facts, gpus=gpus, driver=driver, python=python, arch=arch)


def _plans(facts: Facts, order: Sequence[int], **kw: Any) -> dict[int, str]:
    out = {}
    for i in order:
        reqs, gpus, driver, python, arch = CASES[i]
        host = _host(facts, gpus, driver, python, arch)
        out[i] = render(plan_report(make_plan(reqs, facts, host, **kw), host), "json")
    return out


def test_a_plan_reads_the_same_whatever_was_planned_before_it() -> None:
    """Each plan alone on a fresh knowledge base, then all of them in reverse order on one knowledge base:
    an answer kept per knowledge base under too narrow a key would leak from one plan into the next."""
    cases = [i for i in range(len(CASES)) if i != SLOW]
    alone = {i: _plans(load(), [i])[i] for i in cases}
    shared = _plans(load(), cases[::-1])
    assert [i for i in alone if alone[i] != shared[i]] == []
    again = _plans(load(), [2, 4], max_matrices=1)
    assert any(again[i] != alone[i] for i in again)  # --max 1 answers differently: the comparison can fail


def _eager_choose(found: Sequence[Matrix | Any], max_matrices: int) -> tuple[list[Matrix], list[Matrix]]:
    """The ranking as written before the image became lazy: complete every matrix, sort, keep the first of
    each (driver change, series)."""
    done = [m.make() if isinstance(m, plan_module._Pending) else m for m in found]
    chosen: list[Matrix] = []
    keys: set[tuple[Any, ...]] = set()
    for m in sorted(done, key=plan_module._sort_key):
        k = (m.driver_change, plan_module._series(m.stack))
        if k not in keys:
            keys.add(k)
            chosen.append(m)
    return [m for m in chosen if not m.driver_change], [m for m in chosen if m.driver_change]


@pytest.mark.parametrize("max_matrices", [1, 4])
def test_the_lazy_ranking_picks_what_the_eager_one_picks(
    monkeypatch: pytest.MonkeyPatch, max_matrices: int
) -> None:
    cases = [i for i in range(len(CASES)) if i != SLOW or max_matrices == 1]
    lazy = _plans(load(), cases, max_matrices=max_matrices)
    monkeypatch.setattr(plan_module, "_choose", _eager_choose)
    eager = _plans(load(), cases, max_matrices=max_matrices)
    assert [i for i in lazy if lazy[i] != eager[i]] == []


def test_the_lazy_ranking_completes_only_the_matrices_it_reaches(monkeypatch: pytest.MonkeyPatch) -> None:
    """vLLM on an RTX 5090 on R570 finds dozens of matrices (each series on the kept and the raised driver);
    a base image is chosen (a check per image tried) for a few of them only."""
    facts = load()
    made = []
    original = plan_module._with_image

    def counting(*args: Any) -> Matrix:
        made.append(args)
        return original(*args)

    monkeypatch.setattr(plan_module, "_with_image", counting)
    host = _host(facts, ["RTX 5090"], "570.133.07", None, None)
    monkeypatch.setattr(plan_module, "_choose", _eager_choose)
    eager = make_plan(["vllm"], facts, host)
    everything = len(made)
    made.clear()
    monkeypatch.undo()
    monkeypatch.setattr(plan_module, "_with_image", counting)
    lazy = make_plan(["vllm"], facts, host)
    assert lazy == eager
    assert 0 < len(made) < everything / 2


def test_rejected_candidates_checked_to_their_first_error_plan_as_fully_checked_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``plan`` stops checking a candidate at its first error that rests on no missing fact; the plan (its
    matrices, their findings and the rejections) must be the one a full check of every candidate gives."""
    cases = [i for i in range(len(CASES)) if i != SLOW]
    stopped = _plans(load(), cases)
    from cudalign.rules import check as original

    calls: list[bool] = []

    def full(*args: Any, first_error: bool = False, **kw: Any) -> Any:
        calls.append(first_error)
        return original(*args, **kw)

    monkeypatch.setattr(plan_module, "check", full)
    complete = _plans(load(), cases)
    assert any(calls)  # the plan does ask for the shortcut, so the comparison can fail
    assert [i for i in stopped if stopped[i] != complete[i]] == []


def test_the_engine_rules_run_in_code_order() -> None:
    """``check(first_error=True)`` relies on it: the first error found is the first error of the full run."""
    from cudalign.rules import ENGINE_RULES

    codes = [r.code for r in ENGINE_RULES]
    assert codes == sorted(codes)


def test_a_check_stopped_at_its_first_error_agrees_with_the_full_one() -> None:
    """Verdict and first finding, for failing and passing stacks alike; the shortcut runs fewer rules."""
    from cudalign.rules import check, verdict
    from cudalign.stack import resolve

    facts = load()
    shorter = 0
    for reqs, gpus, driver, python, arch in CASES:
        host = _host(facts, gpus, driver, python, arch)
        for extra in ([], ["torch==2.1.0"], ["vllm==0.4.0"]):
            stack = resolve([*reqs, *extra], facts, host)
            whole = check(host, stack, facts)
            first = check(host, stack, facts, first_error=True)
            assert verdict(first) == verdict(whole)
            assert first[:1] == whole[:1]
            shorter += len(first) < len(whole)
    assert shorter > 0
