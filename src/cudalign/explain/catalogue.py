"""The catalogue codes and severities of the rules error signatures map to, without importing the rule
catalogue (its import costs more than a one-line explain may take). ``tests/explain`` holds this table to
the catalogue: a rule renamed or re-coded there fails the test until it is updated here."""

from __future__ import annotations

__all__ = ["RULES"]

RULES: dict[str, tuple[str, str]] = {
    "container-no-gpu": ("CA403", "error"),
    "cpu-only-torch": ("CA305", "error"),
    "cuda-library-mismatch": ("CA304", "error"),
    "cuda-major-mismatch": ("CA303", "error"),
    "driver-too-old": ("CA101", "error"),
    "extension-abi-mismatch": ("CA302", "error"),
    "fabric-manager-missing": ("CA502", "error"),
    "feature-needs-compute-capability": ("CA203", "error"),
    "forward-compat-unsupported": ("CA402", "error"),
    "gpu-arch-dropped": ("CA202", "error"),
    "gpu-arch-not-in-build": ("CA201", "error"),
    "image-platform-missing": ("CA404", "error"),
    "image-requires-newer-driver": ("CA401", "error"),
    "library-not-on-path": ("CA501", "error"),
    "nccl-mismatch": ("CA307", "error"),
    "no-driver": ("CA104", "error"),
    "no-wheel-for-platform": ("CA306", "error"),
    "nvml-driver-mismatch": ("CA105", "error"),
    "ptx-jit-unsupported": ("CA103", "error"),
    "unknown-release": ("CA308", "error"),
}
