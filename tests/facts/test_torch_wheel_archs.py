"""torch's aarch64 build facts are what its PyPI wheels' libtorch_cuda.so carries (recorded readings)."""

from __future__ import annotations

import json
from pathlib import Path

from cudalign.facts import Facts, load, query
from cudalign.model import ComputeCapability

RECORD = Path(__file__).resolve().parents[1] / "recordings" / "wheels" / "torch.json"


def _cc(name: str) -> str:
    return str(ComputeCapability.parse(name))


def test_aarch64_torch_builds_are_what_the_pypi_wheels_carry() -> None:
    facts: Facts = load()
    rows = [r for r in json.loads(RECORD.read_text())["wheels"] if r["platform"] == "linux_aarch64"]
    cuda = {"2.11.0", "2.12.0", "2.12.1", "2.13.0", "2.14.0", "2.14.1", "2.15.0"}
    assert {r["version"] for r in rows if r["member"]} == cuda
    assert all(r["member"] is None for r in rows if r["version"] not in cuda)  # 2.8-2.10: CPU-only wheels
    for r in rows:
        if r["member"] is None:
            continue
        variant = facts.get(f"torch.{'.'.join(r['version'].split('.')[:2])}")["pypi_default"]["linux_aarch64"]
        fact = query.torch_build(facts, r["version"], variant, "linux_aarch64")
        assert fact is not None, r["version"]
        assert [str(c) for c in fact["archs"]] == [_cc(n) for n in r["sass"]], fact.id
        assert [str(c) for c in fact.get("ptx", ())] == [_cc(n) for n in r["ptx"]] == [], fact.id
        assert fact.source.startswith("https://files.pythonhosted.org/packages/"), fact.id


def test_arch_specific_extras_change_no_answer_the_plain_list_gives() -> None:
    facts = load()
    fact = query.torch_build(facts, "2.13.0", "cu130", "linux_aarch64")
    assert fact is not None
    from cudalign.rules.common import jit_only, runs

    archs, ptx = fact["archs"], fact.get("ptx", ())
    for cc, ok in (
        ("9.0", True),
        ("10.0", True),
        ("10.3", True),
        ("11.0", True),
        ("12.1", True),
        ("8.7", True),
    ):
        assert runs(ComputeCapability.parse(cc), archs, ptx) is ok, cc
        assert not jit_only(ComputeCapability.parse(cc), archs, ptx)
    for cc in ("7.5", "7.2"):  # no Turing/Xavier code and no PTX to JIT
        assert not runs(ComputeCapability.parse(cc), archs, ptx), cc
