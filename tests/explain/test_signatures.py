"""The error signatures as data: each real example is caught by its own signature, look-alikes by none."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cudalign.explain import RULE_CODES, Signature, match_line, rule_code, signatures
from cudalign.facts import DATA_DIR, Facts, load_file

FACTS = Facts(load_file(DATA_DIR / "signatures.toml"))
SIGS = signatures(FACTS)
BY_ID = {s.id: s for s in SIGS}

EXAMPLES = [
    pytest.param(fact.id, ex, id=f"{fact.id}-{n}")
    for fact in FACTS.of_kind("signature")
    for n, ex in enumerate(fact["examples"])
]
COUNTERS = [
    pytest.param(fact.id, ex, id=f"{fact.id}-not-{n}")
    for fact in FACTS.of_kind("signature")
    for n, ex in enumerate(fact.get("counter_examples", ()))
]


def _claim(line: str) -> tuple[Signature, dict[str, str]]:
    hit = match_line(line, SIGS)
    assert hit is not None, f"no signature matched {line!r}"
    sig, m = hit
    return sig, {k: v for k, v in m.groupdict().items() if v is not None}


@pytest.mark.parametrize(("sig_id", "line"), EXAMPLES)
def test_each_real_example_is_claimed_by_its_own_signature(sig_id: str, line: str) -> None:
    """Catches: the line from the tracker issue is matched, and first by this signature (file order)."""
    sig, _ = _claim(line)
    assert sig.id == sig_id


@pytest.mark.parametrize(("sig_id", "line"), COUNTERS)
def test_look_alike_lines_match_no_signature(sig_id: str, line: str) -> None:
    """Catches not: a line that merely resembles a known error is not an error we explain."""
    assert match_line(line, SIGS) is None


def test_issue_6_messages_are_all_covered() -> None:
    rules = {s.rule for s in SIGS}
    wanted = {
        "gpu-arch-not-in-build", "driver-too-old", "image-requires-newer-driver", "nvml-driver-mismatch",
        "ptx-jit-unsupported", "extension-abi-mismatch", "library-not-on-path", "cuda-library-mismatch",
        "cuda-major-mismatch", "forward-compat-unsupported", "nccl-mismatch", "cpu-only-torch",
        "feature-needs-compute-capability",
    }  # fmt: skip
    assert wanted <= rules


def test_every_signature_is_sourced_and_mapped_to_a_catalogue_rule() -> None:
    for fact in FACTS.of_kind("signature"):
        assert fact["rule"] in RULE_CODES, fact.id
        assert re.match(
            r"https://(github\.com/[\w.-]+/[\w.-]+/(issues|pull)/\d+|docs\.nvidia\.com/)", fact.source
        )
        assert fact["examples"], fact.id


def test_rule_code_names_the_catalogue_code_and_ca000_for_an_unknown_rule() -> None:
    assert rule_code("image-requires-newer-driver") == "CA401"
    assert rule_code("nvml-driver-mismatch") == "CA105"
    assert rule_code("no-such-rule") == "CA000"
    assert RULE_CODES["ptx-jit-unsupported"] == "CA103"


@pytest.mark.parametrize(
    ("line", "sig_id", "groups"),
    [
        # other paths, versions, products and prefixes than the cited examples
        (
            "RuntimeError: The NVIDIA driver on your system is too old (found version 12040).",
            "sig.driver-too-old-found",
            {"found": "12040"},
        ),
        (
            "docker: Error response from daemon: ... nvidia-container-cli: requirement error: "
            "unsatisfied condition: cuda>=13.0, please update your driver to a newer version",
            "sig.container-require-cuda",
            {"cuda": "13.0"},
        ),
        (
            "NVIDIA RTX PRO 6000 Blackwell Server Edition with CUDA capability sm_120 is not compatible "
            "with the current PyTorch installation.",
            "sig.arch-not-in-torch",
            {"sm": "sm_120"},
        ),
        (
            "(RayWorkerWrapper pid=4121) ImportError: libcublas.so.12: cannot open shared object file: "
            "No such file or directory",
            "sig.cuda-library-missing",
            {"library": "libcublas", "major": "12"},
        ),
        (
            "OSError: libcudnn.so.9: cannot open shared object file: No such file or directory",
            "sig.cuda-library-missing",
            {"library": "libcudnn", "major": "9"},
        ),
        (
            "ImportError: /opt/venv/lib/python3.12/site-packages/vllm/_C.abi3.so: undefined symbol: "
            "_ZN3c104cuda29c10_cuda_check_implementationEiPKcS2_ib",
            "sig.extension-undefined-symbol",
            {"module": "_C", "symbol": "_ZN3c104cuda29c10_cuda_check_implementationEiPKcS2_ib"},
        ),
        (
            "ImportError: /usr/lib/python3/dist-packages/xformers/_C.so: undefined symbol: "
            "_ZN2at4_ops5zeros4callE",
            "sig.extension-undefined-symbol",
            {"module": "_C"},
        ),
        (
            "[rank1]: torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/"
            "ProcessGroupNCCL.cpp:3356, invalid usage (run with NCCL_DEBUG=WARN for details), "
            "NCCL version 2.21.5",
            "sig.nccl-error-with-version",
            {"nccl_error": "invalid usage", "nccl": "2.21.5"},
        ),
        (
            "ImportError: /venv/lib/python3.11/site-packages/torch/lib/libtorch_cuda.so: undefined symbol: "
            "ncclCommWindowRegister",
            "sig.nccl-undefined-symbol",
            {"symbol": "ncclCommWindowRegister"},
        ),
        (
            "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. "
            "Your Quadro RTX 8000 GPU has compute capability 7.5.",
            "sig.bf16-needs-cc80",
            {"need_cc": "8.0", "gpu": "Quadro RTX 8000", "cc": "7.5"},
        ),
        (
            "Could not load library libcudnn_cnn_infer.so.8. Error: libcudnn_cnn_infer.so.8: cannot open "
            "shared object file",
            "sig.cudnn-could-not-load",
            {"library": "libcudnn_cnn_infer", "major": "8"},
        ),
        (
            "E   RuntimeError: CUDA error: the provided PTX was compiled with an unsupported toolchain.",
            "sig.ptx-unsupported",
            {},
        ),
        (
            "torch._C._cuda_init() RuntimeError: Unexpected error from cudaGetDeviceCount(). Error 804: "
            "forward compatibility was attempted on non supported HW",
            "sig.forward-compat-804",
            {},
        ),
    ],
)
def test_variants_capture_what_varies(line: str, sig_id: str, groups: dict[str, str]) -> None:
    sig, got = _claim(line)
    assert sig.id == sig_id
    for key, value in groups.items():
        assert got[key] == value


@given(major=st.integers(min_value=9, max_value=14), minor=st.integers(min_value=0, max_value=9))
def test_container_requirement_captures_any_cuda_version(major: int, minor: int) -> None:
    """Property: 'unsatisfied condition: cuda>=X.Y' captures X.Y whatever the version and spacing."""
    for sep in (">=", " >= "):
        line = f"nvidia-container-cli: requirement error: unsatisfied condition: cuda{sep}{major}.{minor}"
        sig, groups = _claim(line)
        assert sig.id == "sig.container-require-cuda"
        assert groups["cuda"] == f"{major}.{minor}"


@given(found=st.integers(min_value=9000, max_value=139000))
def test_driver_too_old_captures_the_driver_cuda_number(found: int) -> None:
    sig, groups = _claim(f"The NVIDIA driver on your system is too old (found version {found}).")
    assert sig.id == "sig.driver-too-old-found"
    assert groups["found"] == str(found)


@given(cc=st.sampled_from(["sm_50", "sm_61", "sm_86", "sm_90", "sm_100", "sm_120", "sm_121"]))
def test_arch_message_captures_any_sm(cc: str) -> None:
    line = f"NVIDIA A999 with CUDA capability {cc} is not compatible with the current PyTorch installation"
    sig, groups = _claim(line)
    assert sig.id == "sig.arch-not-in-torch"
    assert groups["sm"] == cc


def test_the_explain_rule_table_agrees_with_the_catalogue() -> None:
    """The codes and severities explain reads without importing the catalogue are the catalogue's own."""
    from cudalign.explain.catalogue import RULES as TABLE
    from cudalign.rules import RULES

    by_name = {r.name: r for r in RULES}
    used = {s.rule for s in SIGS}
    assert used <= set(TABLE)
    for name, (code, severity) in TABLE.items():
        assert (by_name[name].code, by_name[name].severity.value) == (code, severity), name


def test_every_signature_family_and_severity_is_known() -> None:
    for fact in FACTS.of_kind("signature"):
        assert fact.get("family"), fact.id
        assert fact.get("severity") in (None, "error", "warning", "info"), fact.id
