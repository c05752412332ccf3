"""GPU Feature Discovery labels -> a described :class:`~cudalign.model.Host`.

GFD (NVIDIA's k8s-device-plugin, ``docs/gpu-feature-discovery/README.md``) writes the product as NVML
names it with spaces turned into dashes (``NVIDIA-GeForce-RTX-4090``), ``-SHARED`` appended under a
sharing strategy that renames the resource, and ``-MIG-<profile>`` under the ``single`` MIG strategy. The
driver is ``nvidia.com/cuda.driver-version.full`` (or ``.major/.minor/.revision``), or only the deprecated
``nvidia.com/cuda.driver.major/minor/rev`` in older releases; the CUDA the driver supports is
``nvidia.com/cuda.runtime-version.*`` or the deprecated ``nvidia.com/cuda.runtime.*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from cudalign.model import ComputeCapability, DriverInfo, Gpu, Host, OsInfo

if TYPE_CHECKING:
    from cudalign.facts import Facts

__all__ = [
    "COUNT",
    "DRIVER_KEYS",
    "GPU_RESOURCE",
    "PRODUCT",
    "driver_from_labels",
    "host_from_labels",
    "product_name",
]

PRODUCT = "nvidia.com/gpu.product"
COUNT = "nvidia.com/gpu.count"
MEMORY = "nvidia.com/gpu.memory"
GPU_RESOURCE = "nvidia.com/gpu"
"""The device plugin's resource name (capacity, requests, limits)."""
DRIVER_KEYS = (
    (
        "nvidia.com/cuda.driver-version.major",
        "nvidia.com/cuda.driver-version.minor",
        "nvidia.com/cuda.driver-version.revision",
    ),
    ("nvidia.com/cuda.driver.major", "nvidia.com/cuda.driver.minor", "nvidia.com/cuda.driver.rev"),
)
"""The driver's parts, current spelling first, then the deprecated one older GFD releases write alone."""
RUNTIME_KEYS = (
    ("nvidia.com/cuda.runtime-version.major", "nvidia.com/cuda.runtime-version.minor"),
    ("nvidia.com/cuda.runtime.major", "nvidia.com/cuda.runtime.minor"),
)
_ARCH = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}


def product_name(product: str) -> tuple[str, str | None, bool]:
    """``(GPU product, MIG profile or None, shared?)`` of a ``gpu.product`` label value."""
    name, shared = product, False
    if name.upper().endswith("-SHARED"):
        name, shared = name[: -len("-SHARED")], True
    mig = None
    at = name.upper().rfind("-MIG-")
    if at > 0:
        name, mig = name[:at], name[at + len("-MIG-") :]
    return name, mig, shared


def _number(text: str | None) -> int | None:
    if text is None or not text.strip().isdigit():
        return None
    return int(text.strip())


def driver_from_labels(labels: Mapping[str, str]) -> str | None:
    """The driver version the labels give (``550.107.02``), or ``None``."""
    from packaging.version import InvalidVersion, Version

    full = labels.get("nvidia.com/cuda.driver-version.full", "").strip()
    if full:
        try:
            Version(full)
        except InvalidVersion:
            full = ""
        else:
            return full
    for keys in DRIVER_KEYS:
        parts = [labels.get(k, "").strip() for k in keys]
        if parts[0].isdigit():
            return ".".join(p for p in parts if p.isdigit())
    return None


def _runtime(labels: Mapping[str, str]) -> str | None:
    full = labels.get("nvidia.com/cuda.runtime-version.full", "").strip()
    if full:
        return full
    for keys in RUNTIME_KEYS:
        major, minor = (labels.get(k, "").strip() for k in keys)
        if major.isdigit():
            return f"{major}.{minor if minor.isdigit() else 0}"
    return None


def _gpu(facts: Facts, labels: Mapping[str, str], product: str, index: int) -> tuple[Gpu, list[str]]:
    from cudalign.errors import UnknownGpu

    notes: list[str] = []
    name, mig, shared = product_name(product)
    major = _number(labels.get("nvidia.com/gpu.compute.major"))
    minor = _number(labels.get("nvidia.com/gpu.compute.minor"))
    cc = ComputeCapability(major, minor or 0) if major is not None else None
    memory = _number(labels.get(MEMORY))
    fact_id = None
    shown = name.replace("-", " ")
    try:
        fact = facts.gpu(name)
    except UnknownGpu:
        if cc is None:
            notes.append(f"GPU {name!r} is not in the knowledge base and no compute capability is labelled")
    else:
        fact_id, shown = fact.id, str(fact["name"])
        cc = cc or fact["cc"]
    if mig:
        notes.append(f"MIG devices of profile {mig}: {labels.get(COUNT, '?')} of them (single strategy)")
    if shared:
        notes.append(f"GPUs shared ({labels.get('nvidia.com/gpu.replicas', '?')} replicas each)")
    gpu = Gpu(
        index=index,
        name=shown,
        cc=cc,
        memory_mib=memory,
        mig_mode=True if mig or labels.get("nvidia.com/mig.strategy") == "mixed" else None,
        fact_id=fact_id,
    )
    return gpu, notes


def host_from_labels(
    facts: Facts, name: str, labels: Mapping[str, str], arch: str | None = None
) -> tuple[Host, tuple[str, ...]]:
    """The host a node's GFD labels describe (no hostname: alike nodes share it), and what they leave open."""
    del name  # the labels alone describe the host
    product = labels[PRODUCT]
    count = _number(labels.get(COUNT))
    _, mig, _ = product_name(product)
    n = 1 if mig or not count else count
    gpu, notes = _gpu(facts, labels, product, 0)
    gpus = tuple(
        Gpu(
            index=i,
            name=gpu.name,
            cc=gpu.cc,
            memory_mib=gpu.memory_mib,
            mig_mode=gpu.mig_mode,
            fact_id=gpu.fact_id,
        )
        for i in range(n)
    )
    unknown: dict[str, str] = {}
    version = driver_from_labels(labels)
    driver = None
    if version is not None:
        from cudalign.facts.query import max_cuda_for_driver

        cuda = _runtime(labels)
        if cuda is None:
            top = max_cuda_for_driver(facts, version).value
            cuda = str(top) if top is not None else None
        driver = DriverInfo(version=version, cuda=cuda, source="labels")
    else:
        unknown["driver"] = "no nvidia.com/cuda.driver-version.* or cuda.driver.* label"
        notes.append("driver not labelled: judged as if any driver could be installed")
    raw_arch = labels.get("kubernetes.io/arch") or labels.get("beta.kubernetes.io/arch") or arch
    host = Host(
        origin="described",
        os=OsInfo(system="Linux", arch=_ARCH.get((raw_arch or "amd64").lower(), raw_arch)),
        driver=driver,
        gpus=gpus,
        unknown=unknown,
    )
    return host, tuple(notes)
