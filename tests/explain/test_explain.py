"""Explaining messages and logs: one finding per cause, with its line, specialised for the host."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from packaging.version import Version

from cudalign.explain import SCHEMA, driver_text, explain, scan, signatures
from cudalign.facts import Fact, Facts, load
from cudalign.facts.query import (
    max_cuda_for_driver,
    min_driver_for_cuda,
    recommended_driver,
    supported_branches,
)
from cudalign.hosts import describe_host
from cudalign.model import Host, InstalledPackage, Severity, host_from_json

DATA = Path(__file__).with_name("data")
CONTAINER = (
    "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.9, please update your driver "
    "to a newer version, or use an earlier cuda container: unknown"
)


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


def _line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(needle)


def test_container_message_on_a_workstation_says_driver_and_branch(facts: Facts) -> None:
    host = describe_host(facts, gpus=["RTX 6000 Ada", "RTX 6000 Ada"], driver="550.107.02")
    report = explain(CONTAINER, facts, host)
    assert report.schema == SCHEMA
    (f,) = report.findings
    assert (f.code, f.name, f.severity) == ("CA401", "image-requires-newer-driver", Severity.ERROR)
    have = max_cuda_for_driver(facts, "550.107.02").value
    need = min_driver_for_cuda(facts, "12.9").value
    assert have is not None and need is not None
    assert f"Your driver 550.107.02 supports CUDA up to {have}." in f.message
    rec = recommended_driver(facts, need).value  # the lowest still-supported branch that reaches it
    assert rec is not None and supported_branches(facts).value
    assert rec.major in supported_branches(facts).value
    assert f">= {driver_text(rec)}" in f.fix
    assert f"cudalign runbook --driver {rec.major}" in f.fix
    assert "NVIDIA_DISABLE_REQUIRE=1" not in f.fix  # no forward compatibility on workstation GPUs
    assert "nvidia/cuda:12.4" in f.fix  # the newest base image this driver runs as it is
    assert f.facts[0].id == "sig.container-require-cuda"
    assert f.location is not None and f.location.line == 1


def test_container_message_on_a_datacenter_gpu_offers_forward_compatibility(facts: Facts) -> None:
    host = describe_host(facts, gpus=["H100"], driver="550.107.02")
    (f,) = explain(CONTAINER, facts, host).findings
    assert "NVIDIA_DISABLE_REQUIRE=1" in f.fix


def test_container_message_says_what_the_forward_compat_fact_says(facts: Facts) -> None:
    """Forward compatibility per card from its fact: stated yes, stated no, or not stated (error 804)."""
    by_value: dict[bool | None, Fact] = {}
    for gpu in facts.of_kind("gpu"):
        by_value.setdefault(gpu.get("forward_compat"), gpu)
    for value, gpu in by_value.items():
        host = describe_host(facts, gpus=[str(gpu["name"])], driver="550.107.02")
        (finding,) = explain(CONTAINER, facts, host).findings
        said = f"{finding.message} {finding.fix}"
        if value is True:
            assert "NVIDIA_DISABLE_REQUIRE=1" in finding.fix, gpu["name"]
        elif value is False:
            assert "NVIDIA_DISABLE_REQUIRE=1 and" not in finding.fix and "is not an option" in said, gpu[
                "name"
            ]
        else:
            assert "NVIDIA_DISABLE_REQUIRE=1 and" not in finding.fix and "error 804" in said, gpu["name"]
    assert set(by_value) == {True, False, None}


def test_container_message_when_the_driver_is_new_enough_points_elsewhere(facts: Facts) -> None:
    host = describe_host(facts, gpus=["H100"], driver="580.65.06")
    (f,) = explain(CONTAINER, facts, host).findings
    assert "within what your driver supports" in f.message
    assert "runbook" not in f.fix


def test_without_a_host_the_generic_explanation_stands(facts: Facts) -> None:
    (f,) = explain(CONTAINER, facts, None).findings
    assert "On this host" not in f.message
    assert "NVIDIA_DISABLE_REQUIRE" in f.fix  # the signature's own fix, from the data


def test_driver_too_old_decodes_the_found_number(facts: Facts) -> None:
    text = "RuntimeError: The NVIDIA driver on your system is too old (found version 11040)."
    (f,) = explain(text, facts, None).findings
    assert "supports CUDA 11.4" in f.message


def test_cpu_torch_is_confirmed_from_the_installed_package(facts: Facts) -> None:
    base = describe_host(facts, gpus=["L40S"], driver="550.107.02")
    host = replace(base, packages=(InstalledPackage("torch", "2.9.0+cpu"),))
    (f,) = explain("AssertionError: Torch not compiled with CUDA enabled", facts, host).findings
    assert f.code == "CA305"
    assert "Torch 2.9.0+cpu is the CPU-only build" in f.message
    cuda = max_cuda_for_driver(facts, "550.107.02").value
    assert f"cu{str(cuda).replace('.', '')} or older" in f.fix


def test_missing_cuda13_runtime_in_a_cuda12_environment_names_the_major_mismatch(facts: Facts) -> None:
    base = describe_host(facts, gpus=["H100"], driver="580.65.06")
    host = replace(base, packages=(InstalledPackage("torch", "2.8.0+cu128", cuda="12.8"),))
    report = explain(
        "ImportError: libcudart.so.13: cannot open shared object file: No such file", facts, host
    )
    (f,) = report.findings
    assert f.name == "library-not-on-path"
    assert "belongs to CUDA 13" in f.message
    (entry,) = report.data["matches"]
    assert entry["related_rules"] == [{"code": "CA303", "name": "cuda-major-mismatch"}]


def test_arch_message_names_the_first_toolkit_for_the_capability(facts: Facts) -> None:
    text = (
        "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible "
        "with the current PyTorch installation."
    )
    host = describe_host(facts, gpus=["RTX 5090"], driver="550.107.02")
    (f,) = explain(text, facts, host).findings
    first = next(x for x in facts.of_kind("arch_support") if str(x["cc"]) == "12.0")["first_cuda"]
    assert f"first targeted by CUDA {first}" in f.message
    assert "newer driver than yours (550.107.02)" in f.fix
    # the torch index whose builds carry sm_120, the oldest such variant (the least driver change)
    variant = f.fix.split("download.pytorch.org/whl/", 1)[1].split()[0]
    builds = [b for b in facts.of_kind("torch_build") if b["variant"] == variant]
    assert builds and any(str(cc) == "12.0" for b in builds for cc in b["archs"])
    assert f"cu{str(first).replace('.', '')}" == variant


def test_bf16_message_judges_each_gpu_of_the_host(facts: Facts) -> None:
    text = "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0."
    host = describe_host(facts, gpus=["T4", "A100"], driver="550.107.02")
    (f,) = explain(text, facts, host).findings
    assert "compute capability 7.5: it does not" in f.message
    assert "compute capability 8.0: it has it" in f.message


def test_nothing_recognised_gives_no_findings(facts: Facts) -> None:
    report = explain("INFO 11-22 09:14:04 vLLM API server version 0.11.0", facts, None)
    assert report.findings == ()
    assert report.data["recognised"] is False


def test_vllm_log_reports_each_cause_once_with_first_line_and_count(facts: Facts) -> None:
    path = DATA / "vllm-startup.log"
    report = explain(path.read_text(encoding="utf-8"), facts, None, origin=str(path))
    by_sig = {m["signature"]: m for m in report.data["matches"]}
    assert set(by_sig) == {"sig.cuda-library-missing", "sig.torchvision-cuda"}
    lib = by_sig["sig.cuda-library-missing"]
    assert lib["line"] == _line_of(path, "ImportError: libcudart.so.13")
    assert lib["count"] == path.read_text(encoding="utf-8").count("libcudart.so.13: cannot open")
    vision = by_sig["sig.torchvision-cuda"]
    assert vision["line"] == _line_of(path, "compiled with different")  # wrapped over two lines
    assert vision["groups"] == {"torch_cuda": "12.8", "vision_cuda": "12.6"}
    assert [f.location.line for f in report.findings if f.location] == [lib["line"], vision["line"]]


def test_node_journal_finds_nvml_mismatch_and_container_requirement_not_the_env_dump(facts: Facts) -> None:
    path = DATA / "gpu-node-journal.log"
    host = describe_host(facts, gpus=["L40S"], driver="550.144.03")
    report = explain(path.read_text(encoding="utf-8"), facts, host, origin=str(path))
    found = [(m["signature"], m["line"], m["count"]) for m in report.data["matches"]]
    assert found == [
        ("sig.nvml-mismatch", _line_of(path, "Driver/library version mismatch"), 3),
        ("sig.container-require-cuda", _line_of(path, "requirement error"), 4),
    ]
    nvml = report.findings[0]
    assert "libraries are 550.163; the loaded kernel module is 550.144.03" in nvml.message


def test_colour_codes_and_carriage_returns_do_not_hide_a_message(facts: Facts) -> None:
    text = "\x1b[31mERROR\x1b[0m Failed to initialize NVML: Driver/library version mismatch\r\n"
    (m,) = scan(text.splitlines(), signatures(facts))
    assert m.signature.id == "sig.nvml-mismatch"
    assert "\x1b" not in m.text


@pytest.mark.parametrize(
    "error",
    [
        "ImportError: /opt/venv/lib/python3.12/site-packages/vllm/_C.abi3.so: undefined symbol: _ZN3c10",
        "NVML library version: 550.163",
    ],
)
def test_the_line_before_an_error_does_not_claim_it_through_the_join(facts: Facts, error: str) -> None:
    """Catches not: a message that fits on its own line is reported there, not on the line above it."""
    (m,) = scan(["torch.cuda.is_available() returns True", error], signatures(facts))
    assert m.line == 2
    assert m.text == error


def test_a_long_line_is_quoted_around_the_match(facts: Facts) -> None:
    line = "x" * 500 + " nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.8"
    (m,) = scan([line], signatures(facts))
    assert m.text.startswith("…")
    assert "unsatisfied condition: cuda>=12.8" in m.text


# --------------------------------------------------------------------------- recorded hosts


def _recorded(name: str) -> Host:
    path = Path(__file__).parents[1] / "hosts" / f"{name}.json"
    return host_from_json(json.loads(path.read_text(encoding="utf-8")))


def test_nvml_mismatch_on_a_recorded_host_names_both_versions(facts: Facts) -> None:
    host = _recorded("nvml-mismatch")
    assert host.driver is not None and host.driver.library_version
    (f,) = explain("Failed to initialize NVML: Driver/library version mismatch", facts, host).findings
    assert f"kernel module is {host.driver.version}" in f.message
    assert f"reboot to load {host.driver.library_version}" in f.fix


def test_no_kernel_image_on_a_recorded_rtx5090_lists_its_gpu_and_torch(facts: Facts) -> None:
    host = _recorded("rtx5090-driver570")
    torch = host.package("torch")
    assert torch is not None and host.gpus and host.gpus[0].cc is not None
    (f,) = explain(
        "RuntimeError: CUDA error: no kernel image is available for execution on the device", facts, host
    ).findings
    assert f"({host.gpus[0].cc})" in f.message
    assert f"the installed torch is {torch.version}" in f.message.lower()


def test_flash_attention_message_uses_the_feature_fact(facts: Facts) -> None:
    from cudalign.facts.query import feature

    fa2 = feature(facts, "flashattention-2")
    assert fa2 is not None
    host = describe_host(facts, gpus=["T4", "L40S"], driver="550.107.02")
    (f,) = explain("RuntimeError: FlashAttention only supports Ampere GPUs or newer.", facts, host).findings
    assert f.code == "CA203"
    assert fa2.id in [r.id for r in f.facts]
    assert f"compute capability 7.5: it does not (needs {fa2['cc']})" in f.message
    assert f"compute capability 8.9: it has it (needs {fa2['cc']})" in f.message


def test_no_cuda_gpus_shows_the_visible_devices(facts: Facts) -> None:
    host = replace(
        describe_host(facts, gpus=["L40S"], driver="550.107.02"), env={"CUDA_VISIBLE_DEVICES": "1"}
    )
    (f,) = explain("RuntimeError: No CUDA GPUs are available", facts, host).findings
    assert (f.code, f.name) == ("CA403", "container-no-gpu")
    assert "CUDA_VISIBLE_DEVICES='1' with 1 GPU(s) visible" in f.message


# --------------------------------------------------------------------------- computed fixes


def test_a_described_host_without_driver_says_driver_not_given(facts: Facts) -> None:
    """A described host whose driver was not stated has one nobody named: never 'no driver loaded'."""
    host = describe_host(facts, gpus=["L40S"])
    report = explain(CONTAINER, facts, host)
    (f,) = report.findings
    assert "driver not given" in f.message.lower()
    assert "no nvidia driver loaded" not in f.message.lower()
    from cudalign.render.explain import text

    assert "driver not given" in text(report)


def test_the_recommended_driver_is_on_a_supported_branch_never_an_eol_one(facts: Facts) -> None:
    """Catches: CUDA 12.9's own driver is on R575 (end of life); the fix names the lowest supported branch."""
    need = min_driver_for_cuda(facts, "12.9").value
    assert need is not None and need.major not in supported_branches(facts).value  # R575 is EOL
    host = describe_host(facts, gpus=["L40S"], driver="550.107.02")
    (f,) = explain(CONTAINER, facts, host).findings
    branch = int(f.fix.split("cudalign runbook --driver ", 1)[1].split("`", 1)[0])
    assert branch in supported_branches(facts).value


def test_the_torch_index_within_the_driver_is_the_newest_variant_with_the_arch(facts: Facts) -> None:
    host = describe_host(facts, gpus=["L40S"], driver="580.65.06")
    text = "NVIDIA L40S with CUDA capability sm_89 is not compatible with the current PyTorch installation."
    (f,) = explain(text, facts, host).findings
    variant = f.fix.split("download.pytorch.org/whl/", 1)[1].split()[0]
    from cudalign.facts.query import max_cuda_for_driver, variant_cuda

    have = max_cuda_for_driver(facts, "580.65.06").value
    assert have is not None
    fitting: dict[str, Version] = {}
    for b in facts.of_kind("torch_build"):
        cuda = variant_cuda(b["variant"])
        sass = any(cc.major == 8 and cc.minor <= 9 for cc in b["archs"])  # sm_86 code runs on sm_89
        if b["platform"] == "linux_x86_64" and sass and cuda is not None and cuda <= have:
            fitting[b["variant"]] = cuda
    assert variant in fitting
    assert fitting[variant] == max(fitting.values())
    assert "newer driver" not in f.fix


def test_a_toolchain_arch_message_names_the_toolkits_that_target_it(facts: Facts) -> None:
    text = "nvcc fatal   : Unsupported gpu architecture 'compute_120'"
    (f,) = explain(text, facts, None).findings
    first = next(x for x in facts.of_kind("arch_support") if str(x["cc"]) == "12.0")["first_cuda"]
    assert f"first targeted by CUDA {first}" in f.message
    assert f"compile with a CUDA toolkit from {first} on" in f.fix


def test_a_missing_cuda_library_names_the_wheel_of_its_major(facts: Facts) -> None:
    """The fix is a command: the cuda_library fact's wheel with the CUDA major the message asks for."""
    line = "RuntimeError: Library libcublas.so.12 is not found or cannot be loaded"
    (f,) = explain(line, facts, None).findings
    assert "pip install nvidia-cublas-cu12," in f.fix
    assert "cuda_library.cublas" in [r.id for r in f.facts]


def test_a_cudnn_major_is_not_read_as_a_cuda_major(facts: Facts) -> None:
    """Catches not: libcudnn.so.9 is cuDNN 9, not CUDA 9; no nvidia-cudnn-cu9 is suggested."""
    line = "OSError: libcudnn.so.9: cannot open shared object file: No such file"
    (f,) = explain(line, facts, None).findings
    assert "-cu9" not in f.fix


def test_a_missing_library_of_a_cuda_the_driver_lacks_adds_the_driver_to_move_to(facts: Facts) -> None:
    line = "ImportError: libcudart.so.13: cannot open shared object file: No such file or directory"
    old = describe_host(facts, gpus=["H100"], driver="550.107.02")
    (f,) = explain(line, facts, old).findings
    assert "pip install 'nvidia-cuda-runtime==13.*'," in f.fix
    assert "CUDA 13 also needs a newer driver" in f.fix
    new = describe_host(facts, gpus=["H100"], driver="580.65.06")
    (g,) = explain(line, facts, new).findings
    assert "newer driver" not in g.fix


def test_an_nvcc_build_error_names_torchs_cuda_toolkit_not_a_torchvision_reinstall(facts: Facts) -> None:
    """Catches: an extension build that ran an old nvcc is fixed with the toolkit of torch's CUDA; the
    companion wheel advice is only for the torchvision and torchaudio messages."""
    base = describe_host(facts, gpus=["L40S"], driver="550.107.02")
    host = replace(base, packages=(InstalledPackage("torch", "2.6.0+cu124", cuda="12.4"),))
    line = "nvcc fatal   : Unknown option '-generate-dependencies-with-compile'"
    (f,) = explain(line, facts, host).findings
    assert "CUDA 12.4 toolkit" in f.fix
    assert "torchvision" not in f.fix
    text = "RuntimeError: PyTorch and torchvision were compiled with different CUDA major versions."
    (g,) = explain(text, facts, host).findings
    assert "reinstall torchvision from https://download.pytorch.org/whl/cu124" in g.fix


@pytest.mark.parametrize(
    "line",
    [
        "Could not locate cudnn_ops_infer64_8.dll. Please make sure it is in your library path!",
        "OSError: libcurand.so.10: cannot open shared object file: No such file or directory",
        "OSError: libnvToolsExt.so.1: cannot open shared object file: No such file or directory",
    ],
)
def test_a_library_numbered_apart_from_cuda_is_not_read_as_a_cuda_major(facts: Facts, line: str) -> None:
    """Catches not: cuDNN 8, cuRAND 10 or NVTX 1 taken for CUDA 8, 10 or 1 ('move torch to CUDA 8')."""
    base = describe_host(facts, gpus=["L40S"], driver="550.107.02")
    host = replace(base, packages=(InstalledPackage("torch", "2.6.0+cu124", cuda="12.4"),))
    report = explain(line, facts, host)
    (f,) = report.findings
    assert "move torch" not in f.fix
    assert report.data["matches"][0]["related_rules"] == []


def test_a_toolchain_message_that_states_its_own_cuda_floor_keeps_it(facts: Facts) -> None:
    """Catches: FlashInfer asks for CUDA 12.9 on SM 12.x although nvcc 12.8 already targets it; the fix must
    not send the user to 12.8."""
    host = describe_host(facts, gpus=["RTX 5090"], driver="575.51.03")
    (f,) = explain("Failed to get device capability: SM 12.x requires CUDA >= 12.9.", facts, host).findings
    assert f.severity == Severity.WARNING
    assert "from 12.9 on" in f.fix
    (bare,) = explain("Failed to get device capability: SM 12.x requires CUDA >= 12.9.", facts, None).findings
    assert "12.9 or newer" in bare.fix
