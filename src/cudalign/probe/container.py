"""Whether we run inside a container (Docker, Podman, Kubernetes) and what the NVIDIA toolkit gave it."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from cudalign.model import ContainerInfo

__all__ = ["compat_libraries", "detect_kind", "read_container"]


def detect_kind(root: Path, environ: Mapping[str, str], cgroup: str | None) -> str | None:
    """``kubernetes``, ``docker``, ``podman``, ``container`` (some other engine) or ``None``.

    Kubernetes first (its pods also run under containerd or Docker): the service variables it injects,
    or ``kubepods`` in our cgroup. Then the marker files the engines create (``/.dockerenv``,
    ``/run/.containerenv``), the ``container`` variable (Podman, systemd-nspawn) and the cgroup path.
    """
    text = cgroup or ""
    if environ.get("KUBERNETES_SERVICE_HOST") or "kubepods" in text:
        return "kubernetes"
    if (root / "run/.containerenv").exists() or environ.get("container") == "podman" or "libpod" in text:
        return "podman"
    if (root / ".dockerenv").exists() or re.search(r"/docker[/-]", text):
        return "docker"
    if environ.get("container") or re.search(r"containerd|/lxc/|cri-o|crio-", text):
        return "container"
    return None


def _loader_dirs(root: Path, environ: Mapping[str, str]) -> list[str]:
    dirs = [d for d in environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    conf = root / "etc/ld.so.conf.d"
    try:
        files = sorted(conf.iterdir())
    except OSError:
        files = []
    for f in files:
        try:
            lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        dirs.extend(line.strip() for line in lines if line.strip().startswith("/"))
    return dirs


def compat_libraries(root: Path, environ: Mapping[str, str]) -> tuple[tuple[str, ...], str | None]:
    """Forward-compatibility ``libcuda.so`` folders on the loader path, and the CUDA they are for."""
    found: list[str] = []
    cuda = None
    for d in _loader_dirs(root, environ):
        if "compat" not in d or d in found:
            continue
        path = root / d.lstrip("/")
        try:
            has_libcuda = any(e.name.startswith("libcuda.so") for e in os.scandir(path))
        except OSError:
            continue
        if not has_libcuda:
            continue
        found.append(d)
        try:
            data = json.loads((path.resolve().parent / "version.json").read_text(encoding="utf-8"))
            full = str(data["cuda"]["version"])
            cuda = cuda or ".".join(full.split(".")[:2])
        except (OSError, ValueError, KeyError, TypeError, RecursionError, RuntimeError):
            pass
    return tuple(found), cuda


def read_container(root: Path, environ: Mapping[str, str]) -> ContainerInfo:
    """The container facts of this process."""
    try:
        cgroup: str | None = (root / "proc/self/cgroup").read_text(encoding="utf-8", errors="replace")
    except OSError:
        cgroup = None
    compat, compat_cuda = compat_libraries(root, environ)
    disable = environ.get("NVIDIA_DISABLE_REQUIRE", "").strip().lower()
    return ContainerInfo(
        kind=detect_kind(root, environ, cgroup),
        nvidia_visible_devices=environ.get("NVIDIA_VISIBLE_DEVICES"),
        nvidia_driver_capabilities=environ.get("NVIDIA_DRIVER_CAPABILITIES"),
        nvidia_require_cuda=environ.get("NVIDIA_REQUIRE_CUDA"),
        nvidia_disable_require=disable in ("1", "true", "yes"),
        compat_libs=compat,
        compat_cuda=compat_cuda,
    )
