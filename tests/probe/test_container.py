"""Container detection and the NVIDIA container toolkit's variables and compat libraries."""

from __future__ import annotations

from pathlib import Path

from cudalign.probe.container import detect_kind, read_container

from .fakes import make_root


def test_kinds(tmp_path: Path) -> None:
    bare = make_root(tmp_path / "bare", {})
    assert detect_kind(bare, {}, "0::/init.scope\n") is None
    assert detect_kind(bare, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, "0::/\n") == "kubernetes"
    assert (
        detect_kind(bare, {}, "0::/kubepods.slice/kubepods-besteffort.slice/cri-containerd-1.scope\n")
        == "kubernetes"
    )
    assert detect_kind(bare, {}, "12:cpu:/docker/3f2a\n") == "docker"
    assert detect_kind(bare, {"container": "podman"}, None) == "podman"
    assert detect_kind(make_root(tmp_path / "d", {".dockerenv": ""}), {}, None) == "docker"
    assert detect_kind(make_root(tmp_path / "p", {"run/.containerenv": ""}), {}, None) == "podman"
    assert detect_kind(bare, {"container": "systemd-nspawn"}, None) == "container"


def test_read_container_with_compat_libraries(tmp_path: Path) -> None:
    root = make_root(
        tmp_path,
        {
            ".dockerenv": "",
            "usr/local/cuda-12.8/compat/libcuda.so.570.124.06": "",
            "usr/local/cuda-12.8/version.json": '{"cuda": {"version": "12.8.1"}}',
            "etc/ld.so.conf.d/000_cuda.conf": "/usr/local/cuda/compat\n/usr/local/cuda/lib64\n",
        },
    )
    (root / "usr/local/cuda").symlink_to("cuda-12.8")
    env = {
        "NVIDIA_VISIBLE_DEVICES": "all",
        "NVIDIA_DRIVER_CAPABILITIES": "compute,utility",
        "NVIDIA_REQUIRE_CUDA": "cuda>=12.8 brand=tesla,driver>=535,driver<536",
        "NVIDIA_DISABLE_REQUIRE": "1",
    }
    info = read_container(root, env)
    assert info.kind == "docker" and info.nvidia_visible_devices == "all"
    assert info.nvidia_require_cuda and info.nvidia_require_cuda.startswith("cuda>=12.8")
    assert info.nvidia_disable_require is True
    assert info.compat_libs == ("/usr/local/cuda/compat",) and info.compat_cuda == "12.8"


def test_not_in_a_container(tmp_path: Path) -> None:
    info = read_container(make_root(tmp_path, {"proc/self/cgroup": "0::/user.slice\n"}), {})
    assert info.kind is None and info.compat_libs == () and info.nvidia_disable_require is False


def test_compat_libraries_beside_odd_files(tmp_path: Path) -> None:
    """A version.json nested 100k deep, or a link loop on the loader path: found, CUDA unknown."""
    root = make_root(
        tmp_path,
        {
            "usr/local/cuda-12.8/compat/libcuda.so.570.124.06": "",
            "usr/local/cuda-12.8/version.json": "[" * 100_000,
            "etc/ld.so.conf.d/000_cuda.conf": "/usr/local/cuda-12.8/compat\n/opt/loop/compat\n",
        },
        links={"opt/loop": "loop"},
    )
    info = read_container(root, {})
    assert info.compat_libs == ("/usr/local/cuda-12.8/compat",) and info.compat_cuda is None
