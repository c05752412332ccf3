"""The emitted files pass the tools of the field: hadolint, the Compose Specification's JSON schema,
kubernetes-validate (the Kubernetes schemas), and uv reading the pyproject back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest
import yaml

from emit.scenarios import SCENARIOS, emitted

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is a test dependency (pip install '.[test]')"
    return path


def write(tmp_path: Path, scenario: str, kind: str) -> Path:
    for f in emitted(scenario, kind):
        (tmp_path / f.path).write_text(f.text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_dockerfile_passes_hadolint(tmp_path: Path, scenario: str) -> None:
    root = write(tmp_path, scenario, "dockerfile")
    proc = subprocess.run(
        [tool("hadolint"), "--no-color", "--failure-threshold", "info", str(root / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_catches_what_it_should(tmp_path: Path) -> None:
    """The same call fails on a Dockerfile that runs as a named user and pip-installs without pins."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04\nRUN pip install torch\nUSER app\n")
    proc = subprocess.run(
        [tool("hadolint"), "--no-color", "--failure-threshold", "info", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "DL3013" in proc.stdout


@lru_cache(maxsize=1)
def compose_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / "compose-spec.json").read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_compose_file_follows_the_compose_specification(scenario: str) -> None:
    doc = yaml.safe_load(emitted(scenario, "compose")[0].text)
    jsonschema.Draft7Validator(compose_schema()).validate(doc)
    service = next(iter(doc["services"].values()))
    assert service["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


def test_the_compose_schema_catches_a_wrong_field() -> None:
    doc = yaml.safe_load(emitted("a-rtx6000ada-550", "compose")[0].text)
    doc["services"]["vllm"]["restart"] = ["always"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(compose_schema()).validate(doc)


def kubernetes_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("kubernetes-validate"), "--strict", str(path)], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_k8s_manifests_validate_against_the_kubernetes_schemas(tmp_path: Path, scenario: str) -> None:
    root = write(tmp_path, scenario, "k8s")
    proc = kubernetes_validate(root / "k8s.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    docs = list(yaml.safe_load_all((root / "k8s.yaml").read_text()))
    spec = docs[0]["spec"]["template"]["spec"]
    keys = {
        e["key"]
        for t in spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"
        ]
        for e in t["matchExpressions"]
    }
    assert keys == {"nvidia.com/gpu.product", "nvidia.com/cuda.driver.major"}
    container = spec["containers"][0]
    assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(container)
    assert any(v.get("emptyDir", {}).get("medium") == "Memory" for v in spec["volumes"])


def test_kubernetes_validate_catches_a_wrong_field(tmp_path: Path) -> None:
    text = emitted("a-rtx6000ada-550", "k8s")[0].text.replace("replicas: 1", "replicas: one")
    (tmp_path / "k8s.yaml").write_text(text)
    assert kubernetes_validate(tmp_path / "k8s.yaml").returncode != 0


def uv_reads(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    """``uv lock --offline`` on the pyproject: uv parses it and its [tool.uv] tables, then stops at the
    first package it would have to download."""
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    env = {**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_NO_CONFIG": "1"}
    return subprocess.run(
        [tool("uv"), "lock", "--offline", "--no-progress", "--color", "never", "--directory", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_uv_reads_the_pyproject_back(tmp_path: Path, scenario: str) -> None:
    proc = uv_reads(tmp_path, emitted(scenario, "uv")[0].text)
    # offline with an empty cache uv cannot resolve; what matters is that it got that far: it parsed the
    # file and split the resolution on the sources' platform marker
    assert "Failed to parse" not in proc.stderr and "TOML parse error" not in proc.stderr, proc.stderr
    assert "No solution found" in proc.stderr or "offline" in proc.stderr.lower(), proc.stderr
    if "[tool.uv.sources]" in emitted(scenario, "uv")[0].text:
        assert "sys_platform == 'linux'" in proc.stderr, proc.stderr


def test_uv_refuses_a_broken_source(tmp_path: Path) -> None:
    """The read-back fails where uv would: a source naming an index the file does not define."""
    text = emitted("a-rtx6000ada-550", "uv")[0].text.replace('index = "pytorch-cu128"', 'index = "nowhere"')
    proc = uv_reads(tmp_path, text)
    assert proc.returncode != 0 and "nowhere" in proc.stderr
