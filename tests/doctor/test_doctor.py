"""doctor over recorded and built hosts: what it shows, which findings the engine returns, exit codes."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cudalign.cli import main
from cudalign.cli.options import exit_code, host_from_args
from cudalign.doctor import SCHEMA, diagnose, match_gpus
from cudalign.facts import Facts, load
from cudalign.model import Host, Verdict, host_from_json
from cudalign.render import render

HOSTS = Path(__file__).resolve().parents[1] / "hosts"
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


def host(name: str) -> Host:
    return host_from_json(json.loads((HOSTS / f"{name}.json").read_text(encoding="utf-8")))


def codes(name: str, facts: Facts) -> list[str]:
    return sorted(f.code for f in diagnose(host(name), facts).findings)


# ---------------------------------------------------------------------------- real hardware


def test_real_h100_is_healthy_and_shown_as_nvidia_smi_and_torch_saw_it(facts: Facts) -> None:
    report = diagnose(host("h100"), facts)
    assert report.verdict == Verdict.OK and [f for f in report.findings if f.severity.value == "error"] == []
    text = render(report, "text")
    assert "580.159.04 (open kernel module, read from nvml), supports CUDA up to 13.0" in text
    assert (
        "0: NVIDIA H100 80GB HBM3  cc 9.0  81559 MiB  PCI 0x2330  MIG off  GPU-<hidden>  -> gpu.h100-sxm"
        in text
    )
    assert "cuDNN       torch loads 9.19.0.56 · system 9.14.0" in text
    assert "NCCL        torch loads 2.28.9 · system 2.28.3" in text
    info = [f for f in report.findings if f.code == "CA304"]
    assert info and info[0].severity.value == "info"
    assert (
        "torch loads cuDNN 9.19.0.56 from its nvidia-cudnn wheel, not the system cuDNN 9.14.0"
        in info[0].message
    )


def test_real_h200_pair_shows_its_fabric(facts: Facts) -> None:
    report = diagnose(host("h200x2"), facts)
    assert report.verdict == Verdict.OK
    # the one finding: torch loads its wheel's cuDNN, not the system's (same major: info)
    assert [(f.code, f.severity.value) for f in report.findings] == [("CA304", "info")]
    text = render(report, "text")
    assert "GPUs        2\n" in text and text.count("NVIDIA H200  cc 9.0  143771 MiB  PCI 0x2335") == 2
    assert "NVLink      yes · NVSwitch yes · fabric manager running" in text
    assert "torchvision        0.26.0+cu130  CUDA 13.0" in text
    assert "CUDA toolkits  13.0" in text


# ---------------------------------------------------------------------------- built hosts


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rtx5090-driver570", ["CA201"]),  # torch 2.6.0+cu124 has no sm_120
        ("driver470", ["CA101"]),  # CUDA 12.1 torch on a CUDA 11.4 driver
        ("nvml-mismatch", ["CA105"]),
        ("container-no-visible-devices", ["CA403"]),
        ("h100-vllm-pin", ["CA301", "CA302"]),  # vLLM pins torch 2.8.0 (and is built for it), 2.9.0 is in
        ("mig-enabled", []),
        ("driver-no-gpu", []),
        ("no-driver", []),  # a CPU torch needs no driver
        ("smi-hang", []),
    ],
)
def test_findings_of_built_hosts(name: str, expected: list[str], facts: Facts) -> None:
    assert codes(name, facts) == expected


def test_torch_and_torchvision_for_different_cuda(facts: Facts) -> None:
    report = diagnose(host("h100-mixed-cuda"), facts)
    assert [f.code for f in report.findings] == ["CA303"]
    assert "torchvision 0.24.0+cu126" in report.findings[0].message


def test_the_host_carries_what_the_cuda_mismatch_rule_needs() -> None:
    pkgs = {p.name: p for p in host("h100-mixed-cuda").packages}
    assert (pkgs["torch"].cuda, pkgs["torchvision"].cuda) == ("13.0", "12.6")


def test_no_driver_is_a_clear_report_with_packages(facts: Facts) -> None:
    report = diagnose(host("no-driver"), facts)
    text = render(report, "text")
    assert "Driver      no NVIDIA driver found\n" in text
    assert "- NVML: libnvidia-ml.so.1 not found" in text
    assert "- the nvidia kernel module is not loaded (no /proc/driver/nvidia/version)" in text
    assert "torch  2.9.0+cpu" in text
    assert exit_code(report, "error") == 0


def test_no_driver_with_a_cuda_torch_is_an_error(facts: Facts) -> None:
    base = host("no-driver")
    cuda_torch = host("driver-no-gpu").packages
    from dataclasses import replace

    report = diagnose(replace(base, packages=cuda_torch), facts)
    assert [f.code for f in report.findings] == ["CA104"]
    assert "no NVIDIA driver found" in report.findings[0].message
    assert exit_code(report, "error") == 1


def test_mig_and_missing_gpu_are_shown(facts: Facts) -> None:
    assert "MIG on" in render(diagnose(host("mig-enabled"), facts), "text")
    assert "GPUs        none: NVML lists no GPUs" in render(diagnose(host("driver-no-gpu"), facts), "text")


def test_hung_nvidia_smi_is_reported_and_the_gpu_still_matched(facts: Facts) -> None:
    text = render(diagnose(host("smi-hang"), facts), "text")
    assert "Not read\n  nvidia-smi timed out after 3 s\n" in text
    assert "580.159.04 (open kernel module, read from proc)" in text
    assert "cc 9.0" in text and "-> gpu.h100-sxm" in text


def test_match_gpus_fills_capability_from_the_knowledge_base(facts: Facts) -> None:
    raw = host("smi-hang")
    assert raw.gpus[0].cc is None
    matched = match_gpus(raw, facts)
    gpu = matched.gpus[0]
    assert gpu.fact_id == facts.gpu("0x2330").id and gpu.cc == facts.gpu("0x2330")["cc"]
    assert "knowledge base" in gpu.unknown["cc"]


def test_unknown_gpu_is_said_so(facts: Facts) -> None:
    from dataclasses import replace

    h = host("h100")
    odd = replace(h, gpus=(replace(h.gpus[0], name="NVIDIA Prototype X", pci_device_id="0xffff"),))
    gpu = match_gpus(odd, facts).gpus[0]
    assert gpu.fact_id is None and "not in the knowledge base" in gpu.unknown["fact_id"]


# ---------------------------------------------------------------------------- a stack to judge


def test_requirements_get_a_verdict(facts: Facts) -> None:
    report = diagnose(host("h100"), facts, ["torch==2.9.0+cu128", "vllm==0.11.0"])
    target = report.data["target"]
    assert report.verdict == Verdict.FAILS and target["verdict"] == "fails"
    pin = [f for f in target["findings"] if f["code"] == "CA301"]
    assert pin and "vllm 0.11.0 pins torch==2.8.0" in pin[0]["message"]
    assert exit_code(report, "error") == 1 and exit_code(report, "never") == 0
    assert "Verdict for torch==2.9.0+cu128 vllm==0.11.0: fails" in render(report, "text")


# ---------------------------------------------------------------------------- JSON and the CLI


def test_json_is_read_back_by_check(tmp_path: Path, facts: Facts) -> None:
    report = diagnose(host("rtx5090-driver570"), facts)
    data = json.loads(render(report, "json"))
    assert data["schema"] == SCHEMA and data["host"]["schema"] == "cudalign.host/1"
    assert data["host"]["hostname"] == "<hidden>" and data["host"]["gpus"][0]["uuid"] == "GPU-<hidden>"
    assert data["findings"][0]["code"] == "CA201"
    path = tmp_path / "host.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    back = host_from_args(argparse.Namespace(host=str(path)), facts)
    assert back == report.host


def test_markdown(facts: Facts) -> None:
    md = render(diagnose(host("driver470"), facts), "markdown")
    assert md.startswith("## cudalign doctor") and "**CA101 driver-too-old**" in md


def test_cli_exit_codes_on_a_recorded_host(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import cudalign.probe

    monkeypatch.setattr(cudalign.probe, "probe", lambda **_: host("rtx5090-driver570"))
    assert main(["doctor"]) == 1
    assert "CA201 gpu-arch-not-in-build" in capsys.readouterr().out
    assert main(["doctor", "--fail-on", "never", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "fails"
    monkeypatch.setattr(cudalign.probe, "probe", lambda **_: host("h100"))
    assert main(["doctor"]) == 0


def test_doctor_on_this_machine_never_imports_torch(tmp_path: Path) -> None:
    """The real probe, on whatever machine runs the tests; the answer is a valid report either way."""
    code = (
        "import sys, json; from cudalign.cli import main;"
        f"rc = main(['doctor', '--json', '--fail-on', 'never', '-o', {str(tmp_path / 'out.json')!r}]);"
        "print(rc, 'torch' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, check=True
    )
    assert out.stdout.split() == ["0", "False"]
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert host_from_json(data).origin == "probe"


def test_an_image_gets_a_verdict(facts: Facts) -> None:
    # the CUDA 12.8 image admits R470 by a brand clause and the A100 supports its compat libraries
    report = diagnose(host("driver470"), facts, [], image="nvidia/cuda:12.8.1-runtime-ubuntu22.04")
    target = report.data["target"]
    assert target["image"] == "nvidia/cuda:12.8.1-runtime-ubuntu22.04" and target["verdict"] == "ok"
    assert [(f["code"], f["severity"]) for f in target["findings"]] == [("CA402", "info")]
    # the CUDA 13.0 image names no R470 clause: the container does not start
    report = diagnose(host("driver470"), facts, [], image="nvidia/cuda:13.0.2-runtime-ubuntu22.04")
    assert report.data["target"]["verdict"] == "fails"
    assert {"CA101", "CA401"} <= {f["code"] for f in report.data["target"]["findings"]}


def test_check_reads_doctors_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cudalign doctor --json > host.json` on one machine, `cudalign check --host host.json` anywhere."""
    import cudalign.probe

    monkeypatch.setattr(cudalign.probe, "probe", lambda **_: host("rtx5090-driver570"))
    out = tmp_path / "host.json"
    assert main(["doctor", "--json", "--fail-on", "never", "-o", str(out)]) == 0
    code = main(["check", "--host", str(out), "torch==2.6.0+cu124", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 1 and result["verdict"] == "fails"
    assert "CA201" in {f["code"] for f in result["findings"]}
