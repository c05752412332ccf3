"""Scan configuration: ``[tool.cudalign]`` in the repo's ``pyproject.toml`` and inline suppressions
(``# cudalign: ignore=CA604`` on the finding's line or the line above)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from cudalign._dataclass import dataclass, field
from cudalign.model import Finding, Location, Severity
from cudalign.scan.model import Problem

__all__ = ["ScanConfig", "apply_config", "config_from_pyproject", "suppressions"]

_IGNORE = re.compile(r"#\s*cudalign:\s*ignore\s*=\s*([\w\-, ]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """``[tool.cudalign]``: what the repository says about its own scan."""

    severity: Mapping[str, Severity | None] = field(default_factory=dict)
    """Rule code or name -> severity, ``None`` for ``"off"``."""
    ignore: frozenset[str] = frozenset()
    """Rule codes or names never reported."""
    exclude: tuple[str, ...] = ()
    """Globs of repo-relative paths left out of the scan."""
    fleet_driver: str | None = None
    """The lowest driver version of the target fleet."""
    gpus: tuple[str, ...] = ()
    """The fleet's GPUs, as ``--gpu`` takes them."""
    fail_on: str | None = None


def config_from_pyproject(path: str, data: Mapping[str, Any]) -> tuple[ScanConfig, list[Problem]]:
    """Read ``[tool.cudalign]`` from a parsed ``pyproject.toml``; bad values are problems, not errors."""
    tool = data.get("tool")
    section = tool.get("cudalign") if isinstance(tool, Mapping) else None
    if not isinstance(section, Mapping):
        return ScanConfig(), []
    problems: list[Problem] = []
    where = Location(path, 1)

    def bad(message: str) -> None:
        problems.append(Problem(where, f"[tool.cudalign] {message}"))

    severity: dict[str, Severity | None] = {}
    raw = section.get("severity", {})
    if isinstance(raw, Mapping):
        for code, value in raw.items():
            text = str(value).lower()
            if text == "off":
                severity[str(code)] = None
            elif text in {s.value for s in Severity}:
                severity[str(code)] = Severity(text)
            else:
                bad(f"severity.{code} = {value!r}: expected error, warning, info or off")
    else:
        bad("severity must be a table")

    def strings(key: str) -> tuple[str, ...]:
        value = section.get(key, [])
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        bad(f"{key} must be a list of strings")
        return ()

    fleet = section.get("fleet-driver")
    if fleet is not None and not isinstance(fleet, str):
        fleet = str(fleet)
    fail_on = section.get("fail-on")
    if fail_on is not None and fail_on not in ("error", "warning", "info", "never"):
        bad(f"fail-on = {fail_on!r}: expected error, warning, info or never")
        fail_on = None
    return (
        ScanConfig(
            severity=severity,
            ignore=frozenset(strings("ignore")),
            exclude=strings("exclude"),
            fleet_driver=fleet,
            gpus=strings("gpus"),
            fail_on=fail_on,
        ),
        problems,
    )


def suppressions(text: str) -> dict[int, frozenset[str]]:
    """Line -> rule codes (or names) suppressed there by an inline ``# cudalign: ignore=…`` comment,
    which covers its own line and the line below."""
    out: dict[int, set[str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        m = _IGNORE.search(line)
        if m:
            codes = {c.strip().upper() for c in m.group(1).split(",") if c.strip()}
            for target in (number, number + 1):
                out.setdefault(target, set()).update(codes)
    return {k: frozenset(v) for k, v in out.items()}


def _matches(finding: Finding, names: Iterable[str]) -> bool:
    wanted = {n.upper() for n in names}
    return finding.code.upper() in wanted or finding.name.upper() in wanted or "ALL" in wanted


def apply_config(
    findings: Iterable[Finding], config: ScanConfig, inline: Mapping[str, Mapping[int, frozenset[str]]]
) -> tuple[list[Finding], int]:
    """Drop ignored and suppressed findings and apply severity overrides; also return how many were
    suppressed."""
    out: list[Finding] = []
    dropped = 0
    overrides = {k.upper(): v for k, v in config.severity.items()}
    for f in findings:
        loc = f.location
        codes = inline.get(loc.file, {}).get(loc.line or 0, frozenset()) if loc else frozenset()
        if _matches(f, config.ignore) or (codes and _matches(f, codes)):
            dropped += 1
            continue
        key = f.code.upper() if f.code.upper() in overrides else f.name.upper()
        if key in overrides:
            sev = overrides[key]
            if sev is None:
                dropped += 1
                continue
            f = replace(f, severity=sev)
        out.append(f)
    return out, dropped
