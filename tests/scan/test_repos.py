"""The sample repositories under tests/repos: the expected findings by code, file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cudalign.facts import Facts
from cudalign.model import Severity
from cudalign.scan import ScanResult, scan

REPOS = Path(__file__).resolve().parents[1] / "repos"


def _repo_rules(result: ScanResult) -> set[tuple[str, str, int | None, str | None]]:
    return {
        (f.code, f.location.file if f.location else "", f.location.line if f.location else None, f.service)
        for f in result.findings
        if f.code.startswith("CA6")
    }


def _engine_findings_are_located(result: ScanResult) -> None:
    for f in result.findings:
        assert f.location is not None and f.location.file and f.location.line, f
        assert f.service is not None, f


def test_speech_llm_repo(facts: Facts) -> None:
    result = scan(REPOS / "speech_llm", facts)
    assert _repo_rules(result) == {
        ("CA604", "services/llm/requirements.txt", 1, "llm"),  # vllm>=0.6.3,<0.6.4
        ("CA603", "services/llm/requirements.txt", 1, "llm"),  # 12.4 devel image, vLLM's torch is cu121
        ("CA601", "services/stt/requirements.txt", 4, "stt"),  # torch 2.3.1 vs 2.5.1 (tts, worker)
        ("CA609", "services/stt/requirements.txt", 5, "stt"),  # numpy=1.26.4
        ("CA602", "services/tts/requirements.txt", 2, "tts"),  # cu124 vs cu121 (stt, worker)
        ("CA603", "services/tts/requirements.txt", 2, "tts"),  # 12.1 image, torch cu124
        ("CA606", "services/tts/requirements.txt", 3, "tts"),  # torchaudio 2.5.1 vs the Dockerfile's 2.5.0
        ("CA605", "services/worker/requirements.txt", 3, "worker"),  # +cu121 without an index
        ("CA607", "docker-compose.yml", 38, "worker"),  # GPU torch, no reservation
    }
    # the api pins httpx in two files: not a CUDA package, so not cudalign's business
    assert not any(f.service == "api" for f in result.findings)
    # ctranslate2>=4.0,<5 carries '# cudalign: ignore=CA604'
    assert result.suppressed == 1
    assert not any(f.code == "CA604" and "ctranslate2" in f.message for f in result.findings)
    by_name = {v.service.name: v for v in result.views}
    assert set(by_name) == {"tts", "stt", "llm", "worker", "api", "redis"}
    assert by_name["llm"].service.image is not None
    assert (
        by_name["llm"].service.image.reference == "nvidia/cuda:12.4.1-devel-ubuntu22.04"
    )  # compose build arg
    assert [c.workload for c in by_name["llm"].service.containers] == ["Deployment/llm"]
    assert by_name["llm"].host is not None and by_name["llm"].host.gpus[0].name.endswith("A10G")
    assert [c.workload for c in by_name["stt"].service.containers] == ["Deployment/stt"]
    severities = {f.code: f.severity for f in result.findings if f.code.startswith("CA6")}
    assert severities["CA605"] is Severity.ERROR


def test_speech_llm_repo_against_a_fleet_driver(facts: Facts) -> None:
    result = scan(REPOS / "speech_llm", facts, fleet_driver="535.104.05")
    # the llm's A10G nodes run its CUDA 12.4 image through forward compatibility: one finding (CA402),
    # not a CA608 beside it that says the opposite
    llm = [f for f in result.findings if f.location and f.location.file == "services/llm/Dockerfile"]
    assert [f.code for f in llm] == ["CA402"] and "forward compatibility" in llm[0].message
    # torch cu124 on a 535 driver runs through minor-version compatibility: the engine says so
    assert any(
        f.code == "CA102" and f.location and f.location.file == "services/tts/requirements.txt"
        for f in result.findings
    )
    _engine_findings_are_located(result)


def test_vllm_moving_from_cuda_12_1_to_12_9(facts: Facts) -> None:
    result = scan(REPOS / "vllm_cuda_upgrade", facts)
    assert _repo_rules(result) == {
        ("CA603", "requirements.txt", 3, "vllm"),  # 12.1.1 base image, torch 2.9.0 cu128
        ("CA606", "constraints.txt", 2, "vllm"),  # torch==2.3.0 left in the constraints
    }
    ca603 = next(f for f in result.findings if f.code == "CA603")
    assert "CUDA 12.1" in ca603.message and "CUDA 12.8" in ca603.message and "570.26" in ca603.message
    assert [v.service.name for v in result.views] == ["vllm"]
    assert result.views[0].service.files == (
        "Dockerfile",
        "requirements.txt",
        "constraints.txt",
        "deploy/vllm.yaml",
    )


def test_uv_workspace_monorepo(facts: Facts) -> None:
    result = scan(REPOS / "uv_workspace", facts)
    assert _repo_rules(result) == {
        ("CA604", "packages/serve/pyproject.toml", 11, "packages/serve"),  # bitsandbytes>=0.45
        ("CA606", "packages/serve/pyproject.toml", 11, "packages/serve"),  # ... which uv.lock lacks
        ("CA605", "packages/trainer/pyproject.toml", 6, "packages/trainer"),  # +cu118, no index
        ("CA606", "packages/trainer/pyproject.toml", 6, "packages/trainer"),  # pin vs uv.lock
    }
    # [tool.cudalign]: severity override, fleet driver, excluded legacy/
    assert all(f.severity is Severity.ERROR for f in result.findings if f.code == "CA604")
    assert result.fleet_driver == "550.54.15"
    assert not any(p.startswith("legacy/") for p in result.files)
    # vllm>=0.7.3 is pinned by the workspace lock, so it is not CA604
    assert not any("vllm" in f.message for f in result.findings if f.code == "CA604")
    serve = next(v for v in result.views if v.service.name == "packages/serve")
    assert "uv.lock" in serve.service.files


@pytest.mark.parametrize("fleet_driver", [None, "575.57.08"])
def test_clean_repo_has_no_findings(facts: Facts, fleet_driver: str | None) -> None:
    result = scan(REPOS / "clean", facts, fleet_driver=fleet_driver)
    assert result.findings == ()
    assert {v.service.name for v in result.views} == {"server", "web"}
