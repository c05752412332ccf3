"""Hosts that are not probed: described with flags (``--gpu``/``--driver``) and completed from facts.

A described driver's ``cuda`` is the highest CUDA it supports, read from the driver-branch and toolkit facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cudalign.model import (
    ComputeCapability,
    DriverInfo,
    Gpu,
    Host,
    OsInfo,
    driver_branch,
    driver_version,
    python_version,
)

if TYPE_CHECKING:
    from cudalign.facts import Facts

__all__ = ["describe_host", "gpu_from_text"]


def gpu_from_text(facts: Facts, text: str, index: int) -> Gpu:
    """A GPU from what a user typed: a product name or alias, a PCI id, or a capability (``sm_120``)."""
    from cudalign.errors import InvalidInput, UnknownGpu
    from cudalign.facts import GPU_HINT

    try:
        fact = facts.gpu(text)
    except UnknownGpu as unknown:
        try:
            cc = ComputeCapability.parse(text).device  # a GPU, not a build target (sm_90a names 9.0)
        except InvalidInput:
            raise UnknownGpu(f"unknown GPU {text!r}", hint=unknown.hint or GPU_HINT) from None
        return Gpu(index=index, name=cc.sm, cc=cc)
    mem = fact.get("memory_gb", ())
    return Gpu(
        index=index,
        name=fact["name"],
        cc=fact["cc"],
        pci_device_id=(fact.get("pci_ids") or (None,))[0],
        memory_mib=int(max(mem) * 1024) if mem else None,
        fact_id=fact.id,
    )


_WSL = ("wsl2", "wsl")
WSL_KERNEL = "microsoft-standard-WSL2"
"""The kernel a described WSL2 host reports (``uname -r`` ends so under WSL2)."""


def _os_from_text(text: str | None) -> tuple[str, str | None, str | None, str | None]:
    """``--os`` as people write it: a distribution (``ubuntu22.04``), ``windows`` (``win11``,
    ``Windows 10``), or WSL2 (``wsl2``, ``wsl2-ubuntu22.04``: Linux wheels on the Windows driver).
    Returns (system, kernel, distro id, distro version)."""
    import re

    if not text:
        return "Linux", None, None, None
    low = text.strip().lower()
    if re.fullmatch(r"win(?:dows)?[\s\-_]?(?:\d+|server[\s\-_]?\d*)?", low):
        return "Windows", None, None, None
    kernel = None
    for prefix in _WSL:
        if low.startswith(prefix):
            kernel, low = WSL_KERNEL, low[len(prefix) :].lstrip(" -_:/")
            break
    distro_id = distro_version = None
    m = re.match(r"^([a-z]+)[\s\-_:]?([\d.]+)?$", low)
    if m:
        distro_id, distro_version = m.group(1), m.group(2)
    return "Linux", kernel, distro_id, distro_version


def _implied_arch(facts: Facts, gpus: Sequence[Gpu]) -> str:
    """The machine a host described without ``--arch`` is: the one its GPUs come only with (``gpu_host``
    facts: GH200, GB200, DGX Spark and Jetson are ``aarch64``), else ``x86_64``."""
    implied = set()
    for gpu in gpus:
        arch = next((str(f["arch"]) for f in facts.of_kind("gpu_host") if gpu.fact_id in f["gpus"]), None)
        if arch is None:
            return "x86_64"
        implied.add(arch)
    return implied.pop() if len(implied) == 1 else "x86_64"


def describe_host(
    facts: Facts,
    *,
    gpus: Sequence[str] = (),
    driver: str | None = None,
    os: str | None = None,
    arch: str | None = None,
    python: str | None = None,
) -> Host:
    """A host built from flags; what the flags do not say is ``None`` with the reason."""
    unknown: dict[str, str] = {}
    drv = None
    if driver is not None:
        from cudalign.facts.query import branch_first_release, driver_text, max_cuda_for_driver

        given = None
        branch = driver_branch(driver)
        if branch is not None:  # '580', 'R580', '580.x': that branch, judged on its first release
            first = branch_first_release(facts, branch).value
            given, driver = driver, driver_text(first) if first is not None else str(branch)
        top = max_cuda_for_driver(facts, driver_version(driver)).value
        drv = DriverInfo(
            version=driver, cuda=str(top) if top is not None else None, source="described", given=given
        )
        if top is None:
            unknown["driver.cuda"] = f"no driver_branch or toolkit fact covers driver {driver}"
    else:
        unknown["driver"] = "not given (--driver)"
    system, kernel, distro_id, distro_version = _os_from_text(os)
    described = tuple(gpu_from_text(facts, g, i) for i, g in enumerate(gpus))
    return Host(
        origin="described",
        python=python_version(python) if python is not None else None,
        os=OsInfo(
            system=system,
            distro_id=distro_id,
            distro_version=distro_version,
            kernel=kernel,
            arch=arch or _implied_arch(facts, described),
        ),
        driver=drv,
        gpus=described,
        unknown=unknown,
    )
