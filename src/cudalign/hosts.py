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
            cc = ComputeCapability.parse(text)
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
    distro_id = distro_version = None
    if os:
        import re

        m = re.match(r"^([a-z]+)[\s\-_:]?([\d.]+)?$", os.strip().lower())
        if m:
            distro_id, distro_version = m.group(1), m.group(2)
    return Host(
        origin="described",
        python=python_version(python) if python is not None else None,
        os=OsInfo(system="Linux", distro_id=distro_id, distro_version=distro_version, arch=arch or "x86_64"),
        driver=drv,
        gpus=tuple(gpu_from_text(facts, g, i) for i, g in enumerate(gpus)),
        unknown=unknown,
    )
