"""``runbook --from-plan FILE`` with a file that is not a usable plan: one line naming the file, exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import Result

Cli = Callable[..., Result]
Check = Callable[..., None]

_CHANGE = {"label": "A", "driver_change": True, "driver": "575.57.08"}


@pytest.mark.parametrize(
    ("plan", "label", "expected"),
    [
        ({"schema": "cudalign.plan/1", "matrices": None}, None, "'matrices' is not a list"),
        ({"schema": "cudalign.plan/1", "matrices": "A"}, None, "'matrices' is not a list"),
        ({"schema": "cudalign.plan/1"}, None, "'matrices' is not a list"),
        (
            {"schema": "cudalign.check/1", "matrices": [_CHANGE]},
            None,
            "not the output of 'cudalign plan --json'",
        ),
        ([_CHANGE], None, "not the output of 'cudalign plan --json'"),
        (
            {"schema": "cudalign.plan/1", "matrices": [{**_CHANGE, "driver_change": False}]},
            None,
            "changes the driver",
        ),
        ({"schema": "cudalign.plan/1", "matrices": [_CHANGE]}, "B", "no matrix 'B' (have 'A')"),
        ({"schema": "cudalign.plan/1", "matrices": [{**_CHANGE, "driver": 575}]}, None, "names no driver"),
        ({"schema": "cudalign.plan/1", "matrices": [_CHANGE], "host": {}}, None, "missing field 'origin'"),
    ],
)
def test_a_bad_plan_is_one_line_naming_the_file(
    plan: object,
    label: str | None,
    expected: str,
    tmp_path: Path,
    cli: Cli,
    usage_error: Check,
    digests: Callable[[Path], dict[str, str]],
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    before = digests(tmp_path)
    argv = ["runbook", "--from-plan", str(path), "--os", "ubuntu22.04"]
    usage_error(cli(*argv, *(["--matrix", label] if label else [])), str(path), expected)
    assert digests(tmp_path) == before


def test_a_plan_nested_too_deeply_is_one_line(tmp_path: Path, cli: Cli, usage_error: Check) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"schema": "cudalign.plan/1", "matrices": ' + "[" * 100_000 + "]" * 100_000 + "}")
    usage_error(cli("runbook", "--from-plan", str(path), "--gpu", "H100"), str(path), "nested too deeply")
