"""[tool.cudalign] and inline suppressions."""

from __future__ import annotations

from cudalign.model import Finding, Location, Severity
from cudalign.scan.config import ScanConfig, apply_config, config_from_pyproject, suppressions


def _finding(code: str, name: str, line: int, severity: Severity = Severity.WARNING) -> Finding:
    return Finding(code, name, severity, "m", "f", location=Location("r.txt", line))


def test_config_values() -> None:
    data = {
        "tool": {
            "cudalign": {
                "fleet-driver": "550.54.15",
                "exclude": ["vendor/**"],
                "ignore": ["CA601"],
                "gpus": ["A10G"],
                "fail-on": "warning",
                "severity": {"CA604": "error", "duplicate-pin": "off"},
            }
        }
    }
    config, problems = config_from_pyproject("pyproject.toml", data)
    assert problems == []
    assert config.fleet_driver == "550.54.15"
    assert config.exclude == ("vendor/**",)
    assert config.ignore == frozenset({"CA601"})
    assert config.gpus == ("A10G",)
    assert config.fail_on == "warning"
    assert config.severity == {"CA604": Severity.ERROR, "duplicate-pin": None}


def test_bad_config_values_are_problems() -> None:
    data = {"tool": {"cudalign": {"severity": {"CA604": "fatal"}, "exclude": 3, "fail-on": "always"}}}
    _, problems = config_from_pyproject("pyproject.toml", data)
    assert len(problems) == 3
    assert all(p.message.startswith("[tool.cudalign]") for p in problems)


def test_no_section_is_the_default() -> None:
    assert config_from_pyproject("pyproject.toml", {"project": {}}) == (ScanConfig(), [])


def test_inline_suppressions_cover_their_line_and_the_next() -> None:
    text = "a\ntorch>=2  # cudalign: ignore=CA604\n# cudalign: ignore=CA606, torch-drift\nvllm\n"
    assert suppressions(text) == {
        2: frozenset({"CA604"}),
        3: frozenset({"CA604", "CA606", "TORCH-DRIFT"}),
        4: frozenset({"CA606", "TORCH-DRIFT"}),
    }


def test_apply_config() -> None:
    findings = [
        _finding("CA604", "unpinned-cuda-package", 2),
        _finding("CA601", "torch-drift", 4),
        _finding("CA606", "duplicate-pin", 9),
        _finding("CA602", "cuda-drift", 9),
        _finding("CA607", "gpu-service-without-reservation", 9),
    ]
    config = ScanConfig(severity={"CA602": Severity.ERROR, "gpu-service-without-reservation": None})
    inline = {"r.txt": {2: frozenset({"CA604"}), 4: frozenset({"TORCH-DRIFT"})}}
    kept, dropped = apply_config(findings, config, inline)
    assert [(f.code, f.severity) for f in kept] == [("CA606", Severity.WARNING), ("CA602", Severity.ERROR)]
    assert dropped == 3
