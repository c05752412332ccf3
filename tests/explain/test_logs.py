"""``explain --log`` on whole logs copied from public threads (data/SOURCES.md names each thread).

Each cause is reported once, with the line it first appeared on and how often; causes come in the order
they matter (errors before warnings and notes, then by first line); a message a cause explains is folded
under it instead of being reported as a cause of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cudalign.cli import main
from cudalign.explain import explain
from cudalign.facts import Facts, load
from cudalign.hosts import describe_host
from cudalign.model import Severity

DATA = Path(__file__).with_name("data")


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


def _line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(needle)


def _causes(path: Path, facts: Facts) -> list[tuple[str, int, int]]:
    report = explain(path.read_text(encoding="utf-8"), facts, None, origin=str(path))
    return [(m["signature"], m["line"], m["count"]) for m in report.data["matches"]]


def test_every_log_names_its_thread() -> None:
    sources = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    for log in DATA.glob("*.log"):
        if log.name in ("vllm-startup.log", "gpu-node-journal.log"):
            continue  # composed for the first explain tests; the rest are copied from threads
        assert f"`{log.name}` | https://github.com/" in sources, log.name


def test_a_vllm_worker_log_reports_the_fp8_cause_judged_on_the_gpus(facts: Facts) -> None:
    path = DATA / "vllm-fp8-ampere.log"
    assert _causes(path, facts) == [("sig.triton-fp8e4nv", _line_of(path, "fp8e4nv"), 1)]
    host = describe_host(facts, gpus=["A100"], driver="580.65.06")
    (f,) = explain(path.read_text(encoding="utf-8"), facts, host).findings
    assert f.severity is Severity.ERROR
    assert "compute capability 8.0: it does not (needs >=8.9)" in f.message
    assert "feature.fp8" in [r.id for r in f.facts]


def test_a_container_runtime_error_is_one_cause_not_the_debug_lines(facts: Facts) -> None:
    path = DATA / "docker-driver-not-loaded.log"
    assert _causes(path, facts) == [("sig.container-cli-no-driver", _line_of(path, "driver not loaded"), 1)]


def test_a_failed_flash_attn_build_finds_the_wrapped_cuda_mismatch(facts: Facts) -> None:
    path = DATA / "pip-flash-attn.log"
    report = explain(path.read_text(encoding="utf-8"), facts, None)
    (m,) = report.data["matches"]
    assert (m["signature"], m["line"]) == ("sig.extension-cuda-mismatch", _line_of(path, "detected CUDA"))
    assert m["groups"] == {"nvcc": "12.9", "torch_cuda": "11.8"}  # the message wraps over two lines


def test_kubernetes_pod_events_name_the_device_plugin_not_an_error(facts: Facts) -> None:
    path = DATA / "k8s-pod-events.log"
    report = explain(path.read_text(encoding="utf-8"), facts, None)
    assert _causes(path, facts) == [("sig.k8s-insufficient-gpu", _line_of(path, "FailedScheduling"), 1)]
    (f,) = report.findings
    assert f.severity is Severity.WARNING  # all GPUs taken is a normal state, not a broken stack
    assert "device plugin" in f.fix


def test_a_consequence_is_folded_under_its_cause(facts: Facts) -> None:
    path = DATA / "onnxruntime-provider.log"
    report = explain(path.read_text(encoding="utf-8"), facts, None)
    (m,) = report.data["matches"]
    first = _line_of(path, "Failed to load library")
    assert (m["signature"], m["line"]) == ("sig.ort-provider-library", first)
    assert [(c["signature"], c["line"]) for c in m["consequences"]] == [
        ("sig.ort-create-provider-failed", _line_of(path, "Failed to create CUDAExecutionProvider"))
    ]
    assert len(report.findings) == 1


def test_alone_the_consequence_is_its_own_cause(facts: Facts) -> None:
    """Catches not: folding needs the cause in the same input; a consequence pasted alone is reported."""
    line = (
        "[W:onnxruntime:Default, onnxruntime_pybind_state.cc:861 CreateExecutionProviderInstance] Failed to "
        "create CUDAExecutionProvider. Please reference https://onnxruntime.ai/docs/execution-providers"
    )
    (f,) = explain(line, facts, None).findings
    assert f.severity is Severity.WARNING


def test_errors_come_before_warnings_whatever_their_lines(facts: Facts) -> None:
    text = "\n".join(
        [
            "UserWarning: Specified provider 'CUDAExecutionProvider' is not in available provider names.",
            "RuntimeError: CUDA error: no kernel image is available for execution on the device",
        ]
    )
    report = explain(text, facts, None)
    assert [m["signature"] for m in report.data["matches"]] == ["sig.no-kernel-image", "sig.ort-cpu-only"]


def test_the_cli_log_text_shows_the_folded_consequence(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["explain", "--no-probe", "--log", str(DATA / "onnxruntime-provider.log")])
    out = capsys.readouterr().out
    assert code == 1
    assert "then (line 11): onnxruntime fell back to the CPU, a consequence of this cause" in out


def test_the_cli_log_json_lists_each_cause_with_line_and_count(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["explain", "--no-probe", "--json", "--log", str(DATA / "gpu-node-journal.log")])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    causes = [
        (m["signature"], m["count"], [c["signature"] for c in m["consequences"]]) for m in data["matches"]
    ]
    assert causes == [
        ("sig.nvml-mismatch", 3, ["sig.nvml-unknown-error"]),
        ("sig.container-require-cuda", 4, []),
    ]
