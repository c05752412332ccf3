"""The highest CUDA the user-space driver supports, from ``cuDriverGetVersion`` in ``libcuda.so.1``.

``cuDriverGetVersion`` needs no ``cuInit`` and no GPU, so it answers even on a machine whose GPUs are
hidden; it is the second source after NVML.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cudalign.probe.nvml import cuda_from_int

__all__ = ["LIBCUDA", "read_cuda_driver_version"]

LIBCUDA = "libcuda.so.1"


def _load(name: str) -> Any:
    import ctypes

    return ctypes.CDLL(name)


def read_cuda_driver_version(loader: Callable[[str], Any] | None = None) -> tuple[str | None, str | None]:
    """``(cuda, None)`` such as ``("12.4", None)``, or ``(None, reason)``."""
    import ctypes

    try:
        lib = (loader or _load)(LIBCUDA)
    except OSError as exc:
        return None, f"{LIBCUDA} could not be loaded ({exc})"
    fn = getattr(lib, "cuDriverGetVersion", None)
    if fn is None:
        return None, f"{LIBCUDA} has no cuDriverGetVersion"
    value = ctypes.c_int(0)
    try:
        status = int(fn(ctypes.byref(value)))
    except Exception as exc:  # a foreign function call can fail in odd ways; report, never raise
        return None, f"cuDriverGetVersion failed: {exc}"
    if status != 0:
        return None, f"cuDriverGetVersion returned CUDA error {status}"
    cuda = cuda_from_int(value.value)
    return (cuda, None) if cuda else (None, f"cuDriverGetVersion gave {value.value}")
