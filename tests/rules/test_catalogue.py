"""Meta-tests of the catalogue: unique codes and names, docs, and each rule run on its table of cases."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from cudalign.facts import Facts
from cudalign.hosts import describe_host
from cudalign.model import Finding, Severity, Stack, Verdict
from cudalign.rules import (
    ENGINE_RULES,
    REPO_RULES,
    RULES,
    AnyRule,
    Context,
    RepoRule,
    engine_rule,
    rule,
    verdict,
)
from cudalign.scan import scan
from cudalign.stack import from_installed, resolve

from .cases import CASES, EngineCase, RepoCase

ROOT = Path(__file__).resolve().parents[2]
BRIEF_CODES = {
    "CA101": "driver-too-old", "CA102": "minor-version-compat", "CA103": "ptx-jit-unsupported",
    "CA104": "no-driver", "CA105": "nvml-driver-mismatch", "CA201": "gpu-arch-not-in-build",
    "CA202": "gpu-arch-dropped", "CA203": "feature-needs-compute-capability", "CA301": "torch-pin-conflict",
    "CA302": "extension-abi-mismatch", "CA303": "cuda-major-mismatch", "CA304": "cuda-library-mismatch",
    "CA305": "cpu-only-torch", "CA306": "no-wheel-for-platform", "CA307": "nccl-mismatch",
    "CA308": "unknown-release", "CA309": "requirements-conflict",
    "CA401": "image-requires-newer-driver", "CA402": "forward-compat-unsupported",
    "CA403": "container-no-gpu", "CA404": "image-platform-missing",
    "CA501": "library-not-on-path", "CA502": "fabric-manager-missing",
}  # fmt: skip


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_rule_docs", ROOT / "scripts" / "gen_rule_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_rule_docs"] = module
    spec.loader.exec_module(module)
    return module


def test_codes_and_names_are_the_briefs_and_unique() -> None:
    assert {r.code: r.name for r in ENGINE_RULES} == BRIEF_CODES
    assert len({r.code for r in RULES}) == len({r.name for r in RULES}) == len(RULES)


def test_one_catalogue_holds_engine_and_repo_rules() -> None:
    assert (*ENGINE_RULES, *REPO_RULES) == RULES
    assert [r.code for r in REPO_RULES] == [f"CA6{i:02d}" for i in range(1, 13)]
    assert rule("CA605") is REPO_RULES[4] and rule("duplicate-pin").code == "CA606"


@pytest.mark.parametrize("r", ENGINE_RULES, ids=[r.code for r in ENGINE_RULES])
def test_every_rule_has_a_docstring_with_the_four_parts(r) -> None:  # type: ignore[no-untyped-def]
    for part in ("**What it checks.**", "**Why.**", "**How to fix.**", "**Example.**"):
        assert part in r.doc, f"{r.code} docstring lacks {part}"


def _findings(code: str, case: EngineCase | RepoCase, facts: Facts, tmp: Path) -> list[Finding]:
    """Run one rule of the catalogue on one case's input."""
    if isinstance(case, RepoCase):
        root = tmp / "repo"
        for rel, text in case.files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")
        return [f for f in scan(root, facts, fleet_driver=case.fleet_driver).findings if f.code == code]
    host = describe_host(facts, gpus=case.gpus, driver=case.driver, python=case.python)
    host = dataclasses.replace(host, os=dataclasses.replace(host.os, **case.os), **case.host)
    if case.driver_info:
        assert host.driver is not None
        host = dataclasses.replace(host, driver=dataclasses.replace(host.driver, **case.driver_info))
    if case.installed:
        stack = from_installed(host, facts)
    else:
        stack = resolve(case.requirements, facts, host, image=case.image, constraints=case.constraints)
    return engine_rule(code).run(Context(host, stack, facts, case.features))


def _cases() -> list[tuple[str, bool, EngineCase | RepoCase]]:
    return [
        (code, catches, case)
        for code, table in CASES.items()
        for catches, cases in ((True, table.catches), (False, table.catches_not))
        for case in cases
    ]


@pytest.mark.parametrize("r", RULES, ids=[r.code for r in RULES])
def test_every_rule_has_cases_it_catches_and_cases_it_does_not(r: AnyRule) -> None:
    table = CASES.get(r.code)
    assert table is not None, f"add {r.code}'s catching and non-catching inputs to tests/rules/cases.py"
    assert table.catches and table.catches_not, f"{r.code} needs both kinds of case in tests/rules/cases.py"
    kind = RepoCase if isinstance(r, RepoRule) else EngineCase
    assert all(isinstance(c, kind) for c in (*table.catches, *table.catches_not)), r.code


def test_the_case_table_names_only_rules_of_the_catalogue() -> None:
    assert set(CASES) <= {r.code for r in RULES}


@pytest.mark.parametrize(
    ("code", "catches", "case"),
    _cases(),
    ids=[f"{code}-{'catches' if catches else 'catches-not'}-{case.what}" for code, catches, case in _cases()],
)
def test_each_rule_on_its_cases(
    code: str, catches: bool, case: EngineCase | RepoCase, facts: Facts, tmp_path: Path
) -> None:
    found = _findings(code, case, facts, tmp_path)
    if catches:
        assert [f for f in found if not f.unknown], f"{code} does not catch {case.what}: {found}"
    else:
        assert found == [], f"{code} catches {case.what}, which it must not: {found}"


def test_committed_docs_match_the_generator() -> None:
    pages = _generator().pages()
    codes = [r.code for r in RULES]
    assert set(pages) == {f"{code}.md" for code in codes} | {"index.md"}
    for name, text in pages.items():
        path = ROOT / "docs" / "rules" / name
        assert path.exists() and path.read_text(encoding="utf-8") == text, (
            f"{name} is stale: run scripts/gen_rule_docs.py"
        )


def test_rule_lookup_by_code_and_name() -> None:
    assert rule("CA102").name == "minor-version-compat"
    assert rule("ca102").code == "CA102"
    assert rule("cuda-major-mismatch").code == "CA303"
    with pytest.raises(KeyError):
        rule("CA999")


def _f(severity: Severity, unknown: str | None = None) -> Finding:
    return Finding("CA000", "x", severity, "m", "f", unknown=unknown)


def test_verdict_order() -> None:
    """fails on any error; unknown when a fact is missing; caveats on warnings; ok otherwise."""
    assert verdict([]) is Verdict.OK
    assert verdict([_f(Severity.INFO)]) is Verdict.OK
    assert verdict([_f(Severity.WARNING)]) is Verdict.CAVEATS
    assert verdict([_f(Severity.WARNING), _f(Severity.INFO, "gpu")]) is Verdict.UNKNOWN
    assert verdict([_f(Severity.ERROR), _f(Severity.INFO, "gpu")]) is Verdict.FAILS


def test_a_stack_that_did_not_resolve_is_unknown_not_ok() -> None:
    unresolved = Stack(unknown={"resolution": "no release satisfies vllm==9.9"})
    assert verdict([], unresolved) is Verdict.UNKNOWN
    assert verdict([_f(Severity.ERROR)], unresolved) is Verdict.FAILS
    assert verdict([], Stack()) is Verdict.OK
