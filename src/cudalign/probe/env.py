"""The environment variables that change how CUDA, torch, NCCL and vLLM behave, with secrets masked."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["MASK", "PREFIXES", "VARIABLES", "is_secret", "read_env"]

MASK = "***"
VARIABLES = frozenset(
    {
        "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CUDA_HOME", "CUDA_PATH", "CUDA_MODULE_LOADING",
        "CUDA_LAUNCH_BLOCKING", "LD_LIBRARY_PATH", "LD_PRELOAD", "PYTORCH_CUDA_ALLOC_CONF",
        "PYTORCH_ALLOC_CONF", "TORCH_CUDA_ARCH_LIST", "CUDNN_PATH", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
        "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION", "CONDA_PREFIX", "VIRTUAL_ENV",
        "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_TORCH_BACKEND",
    }
)  # fmt: skip
PREFIXES = ("NCCL_", "NVIDIA_", "VLLM_", "TORCH_", "CUDNN_", "CUBLAS_", "NVSHMEM_", "UCX_")
_SECRET = re.compile(r"TOKEN|KEY|SECRET|PASSW|CREDENTIAL|AUTH", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<cred>[^/@\s]+)@", re.IGNORECASE)


def is_secret(name: str) -> bool:
    """Names that look like they hold a secret: ``*TOKEN*``, ``*KEY*``, ``*SECRET*``, ``*PASSWORD*`` …"""
    return bool(_SECRET.search(name))


def _mask(name: str, value: str) -> str:
    if is_secret(name):
        return MASK
    return _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{MASK}@", value)


def read_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables that matter, sorted by name, secrets masked (index URLs lose their credentials)."""
    return {
        name: _mask(name, value)
        for name, value in sorted(environ.items())
        if name in VARIABLES or name.startswith(PREFIXES)
    }
