"""Installed packages read from metadata and text, never imported; torch's cuDNN/NCCL; system copies."""

from __future__ import annotations

import sys
from pathlib import Path

from cudalign.probe.packages import (
    find_system_library,
    interesting,
    read_packages,
    read_toolkits,
    torch_libraries,
    torch_version_py,
    variant_cuda,
)

from .fakes import make_root, make_site, recording


def test_recorded_torch_version_py() -> None:
    found = torch_version_py(recording("h100", "torch_version.py.txt"))
    assert found["__version__"] == "2.11.0+cu130" and found["cuda"] == "13.0" and found["hip"] is None


def test_cpu_torch_version_py() -> None:
    text = "__version__ = '2.9.0+cpu'\ndebug = False\ncuda: Optional[str] = None\nhip: Optional[str] = None\n"
    assert torch_version_py(text) == {"__version__": "2.9.0+cpu", "cuda": None, "hip": None}


def test_variant_cuda() -> None:
    assert variant_cuda("2.6.0+cu124") == "12.4"
    assert variant_cuda("0.21.0+cu118") == "11.8"
    assert variant_cuda("2.9.0+cu130") == "13.0"
    assert variant_cuda("2.9.0+cpu") is None and variant_cuda("2.9.0") is None


def test_interesting() -> None:
    assert all(
        interesting(n) for n in ("torch", "vllm", "nvidia-cudnn-cu12", "jax-cuda12-plugin", "cupy-cuda12x")
    )
    assert not any(interesting(n) for n in ("requests", "numpy", "torchmetrics"))


def test_read_packages(tmp_path: Path) -> None:
    site = make_site(
        tmp_path / "site",
        [
            ("torch", "2.9.0", ["nvidia-cudnn-cu12==9.10.2.21; platform_system == 'Linux'", "triton==3.5.0"]),
            ("torchvision", "0.24.0+cu126", ["torch==2.9.0"]),
            ("vllm", "0.11.0", ["torch==2.8.0"]),
            ("nvidia-cudnn-cu12", "9.10.2.21", []),
            ("nvidia-nccl-cu12", "2.27.5", []),
            ("requests", "2.32.0", []),
        ],
        {"torch/version.py": "__version__ = '2.9.0+cu128'\ncuda: Optional[str] = '12.8'\n"},
    )
    shadowed = make_site(tmp_path / "later", [("vllm", "0.6.0", [])])
    pkgs = {p.name: p for p in read_packages([str(site), str(shadowed), str(tmp_path / "missing")])}
    assert set(pkgs) == {"torch", "torchvision", "vllm", "nvidia-cudnn-cu12", "nvidia-nccl-cu12"}
    assert (pkgs["torch"].version, pkgs["torch"].cuda) == ("2.9.0+cu128", "12.8")
    assert (pkgs["torchvision"].version, pkgs["torchvision"].cuda) == ("0.24.0+cu126", "12.6")
    assert pkgs["vllm"].version == "0.11.0" and pkgs["vllm"].requires == ("torch==2.8.0",)
    assert "torch" not in sys.modules
    cudnn, nccl = torch_libraries(tuple(pkgs.values()))
    assert cudnn == {"torch": "9.10.2.21"} and nccl == {"torch": "2.27.5"}


def test_stale_version_py_loses_to_metadata(tmp_path: Path) -> None:
    site = make_site(
        tmp_path, [("torch", "2.9.1", [])], {"torch/version.py": "__version__ = '2.8.0+cu126'\n"}
    )
    (torch,) = read_packages([str(site)])
    assert torch.version == "2.9.1"


def test_torch_libraries_bundled_in_torch_lib(tmp_path: Path) -> None:
    site = make_site(
        tmp_path,
        [("torch", "2.1.0+cu118", [])],
        {
            "torch/version.py": "__version__ = '2.1.0+cu118'\ncuda = '11.8'\n",
            "torch/lib/libnccl.so.2.18.1": "",
        },
    )
    cudnn, nccl = torch_libraries(read_packages([str(site)]))
    assert nccl == {"torch": "2.18.1"} and cudnn == {}


def test_cpu_torch_loads_no_cuda_libraries(tmp_path: Path) -> None:
    site = make_site(tmp_path, [("torch", "2.9.0+cpu", []), ("nvidia-cudnn-cu12", "9.1.0.70", [])])
    assert torch_libraries(read_packages([str(site)])) == ({}, {})


def test_system_libraries_pick_the_highest(tmp_path: Path) -> None:
    root = make_root(
        tmp_path,
        {
            "usr/lib/x86_64-linux-gnu/libcudnn.so.9": "",
            "usr/lib/x86_64-linux-gnu/libcudnn.so.9.14.0": "",
            "usr/local/cuda/lib64/libcudnn.so.8.9.7": "",
            "usr/lib/x86_64-linux-gnu/libnccl.so.2.28.3": "",
        },
    )
    assert find_system_library(root, "libcudnn") == "9.14.0"
    assert find_system_library(root, "libnccl") == "2.28.3"
    assert find_system_library(root, "libcublas") is None


def test_toolkits(tmp_path: Path) -> None:
    root = make_root(
        tmp_path,
        {
            "usr/local/cuda-12.4/version.json": '{"cuda": {"name": "CUDA SDK", "version": "12.4.1"}}',
            "usr/local/cuda-11.8/version.txt": "CUDA Version 11.8.89\n",
            "usr/local/cuda-13.0/include/cuda.h": "#define CUDA_VERSION 13000\n",
        },
    )
    (root / "usr/local/cuda").symlink_to("cuda-12.4")
    assert read_toolkits(root) == ("11.8.89", "12.4.1", "13.0")
    assert read_toolkits(make_root(tmp_path / "none", {})) == ()


def test_metadata_headers_stop_at_the_body() -> None:
    from cudalign.probe.packages import parse_metadata_headers

    text = (
        "Metadata-Version: 2.4\nName: vllm\nVersion: 0.11.0\nRequires-Dist: torch==2.8.0\n"
        "Requires-Dist: xformers==0.0.32.post1;\n platform_system == 'Linux'\nLicense: Apache\n\n"
        "Requires-Dist: not-a-header-this-is-the-readme\n"
    )
    headers = parse_metadata_headers(text)
    assert headers["name"] == ["vllm"] and headers["version"] == ["0.11.0"]
    assert headers["requires-dist"] == ["torch==2.8.0", "xformers==0.0.32.post1; platform_system == 'Linux'"]


def test_toolkits_from_odd_files(tmp_path: Path) -> None:
    """Deep JSON, Latin-1 headers, a number too long to convert and a link loop: skipped, not raised."""
    root = make_root(
        tmp_path,
        {
            "usr/local/cuda-12.4/version.json": "[" * 100_000,
            "usr/local/cuda-12.4/include/cuda.h": "/* caf\xe9 */\n#define CUDA_VERSION 12040\n",
            "usr/local/cuda-12.5/include/cuda.h": "#define CUDA_VERSION " + "1" * 5000 + "\n",
            "usr/local/cuda-12.6/version.txt": b"\xff\xfe CUDA Version 12.6.3\n",
        },
        links={"usr/local/cuda-loop": "cuda-loop", "usr/local/cuda": "cuda-12.4"},
    )
    (root / "usr/local/cuda-12.4/include/cuda.h").write_bytes(b"/* caf\xe9 */\n#define CUDA_VERSION 12040\n")
    assert read_toolkits(root) == ("12.4", "12.6.3")
