"""The environment that matters, with secrets masked."""

from __future__ import annotations

from cudalign.probe.env import MASK, is_secret, read_env


def test_selects_and_masks() -> None:
    env = {
        "CUDA_VISIBLE_DEVICES": "0,1",
        "NCCL_DEBUG": "INFO",
        "NCCL_IB_HCA": "mlx5",
        "HF_TOKEN": "hf_secret",
        "WANDB_API_KEY": "k",
        "VLLM_API_KEY": "k2",
        "NVIDIA_VISIBLE_DEVICES": "all",
        "PIP_EXTRA_INDEX_URL": "https://user:pa55@pypi.example.com/simple",
        "HOME": "/root",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    out = read_env(env)
    assert out == {
        "CUDA_VISIBLE_DEVICES": "0,1",
        "HF_TOKEN": MASK,
        "NCCL_DEBUG": "INFO",
        "NCCL_IB_HCA": "mlx5",
        "NVIDIA_VISIBLE_DEVICES": "all",
        "PIP_EXTRA_INDEX_URL": f"https://{MASK}@pypi.example.com/simple",
        "VLLM_API_KEY": MASK,
    }


def test_secret_names() -> None:
    assert all(is_secret(n) for n in ("HF_TOKEN", "NGC_API_KEY", "DB_PASSWORD", "MY_SECRET", "GITHUB_AUTH"))
    assert not any(is_secret(n) for n in ("CUDA_VISIBLE_DEVICES", "NCCL_DEBUG", "LD_LIBRARY_PATH"))
