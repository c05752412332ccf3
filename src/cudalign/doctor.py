"""What is on a host, what is wrong with it now, and whether a given stack would run there.

:func:`diagnose` takes a host (probed by the caller, or recorded) and the knowledge base and returns the
``cudalign.doctor/1`` report: the host with each GPU matched to the knowledge base, the findings about the
installed stack, and, when requirements or an image are given, the verdict and findings for that stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cudalign._dataclass import replace

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cudalign.facts import Facts
    from cudalign.model import Host, Report

__all__ = ["SCHEMA", "diagnose", "match_gpus"]

SCHEMA = "cudalign.doctor/1"


def match_gpus(host: Host, facts: Facts) -> Host:
    """Name each GPU's knowledge-base product (by PCI id, then NVML name) and fill a missing capability."""
    from cudalign.errors import UnknownGpu

    gpus = []
    for gpu in host.gpus:
        fact = None
        for key in (gpu.pci_device_id, gpu.name):
            if not key:
                continue
            try:
                fact = facts.gpu(key)
                break
            except UnknownGpu:
                continue
        if fact is None:
            unknown = {
                **gpu.unknown,
                "fact_id": f"{gpu.name!r} ({gpu.pci_device_id}) is not in the knowledge base",
            }
            gpus.append(replace(gpu, unknown=unknown))
            continue
        unknown = dict(gpu.unknown)
        cc = gpu.cc
        if cc is None:
            cc = fact["cc"]
            unknown["cc"] = f"from the knowledge base ({fact.id}); the driver did not say"
        gpus.append(replace(gpu, fact_id=fact.id, cc=cc, unknown=unknown))
    return replace(host, gpus=tuple(gpus))


def diagnose(
    host: Host,
    facts: Facts,
    requirements: Sequence[str] | None = None,
    *,
    image: str | None = None,
    index_url: str | None = None,
) -> Report:
    """The doctor report for a host: findings about what is installed now, and the verdict for a stack.

    ``--fail-on`` is judged on both: the findings about the host now and those about the requested stack.
    """
    from cudalign import rules, stack
    from cudalign.model import Report, to_jsonable

    host = match_gpus(host, facts)
    installed = stack.from_installed(host, facts)
    findings = rules.check(host, installed, facts)
    verdict = rules.verdict(findings)
    severities = [f.severity for f in findings]
    data: dict[str, Any] = {}
    if requirements or image:
        target = stack.resolve(list(requirements or ()), facts, host, image=image, index_url=index_url)
        target_findings = rules.check(host, target, facts)
        verdict = rules.verdict(target_findings, target)
        severities += [f.severity for f in target_findings]
        data["target"] = {
            "requirements": list(requirements or ()),
            "image": image,
            "verdict": verdict.value,
            "stack": to_jsonable(target),
            "findings": to_jsonable(target_findings),
        }
    return Report(
        schema=SCHEMA,
        verdict=verdict,
        host=host,
        stack=installed,
        findings=findings,
        data=data,
        exit_on=tuple(severities),
    )
