"""`cudalign doctor`: what is on this host, what is wrong with it now, and whether a stack would run here."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cudalign.facts import Facts
    from cudalign.model import Host, Report

__all__ = ["SCHEMA", "add_arguments", "diagnose", "exit_status", "match_gpus", "run"]

SCHEMA = "cudalign.doctor/1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cudalign.cli.options import add_output_arguments

    parser.add_argument(
        "requirements",
        nargs="*",
        metavar="REQ",
        help="a stack to judge on this host (PEP 508, e.g. 'torch==2.9.0+cu128' 'vllm==0.11.0')",
    )
    parser.add_argument(
        "--image", metavar="IMG", help="a container image the stack runs in (nvidia/cuda:12.8.1-…)"
    )
    parser.add_argument("--index-url", metavar="URL", help="the package index the requirements come from")
    parser.add_argument("--show-uuids", action="store_true", help="print GPU UUIDs (masked by default)")
    parser.add_argument("--show-hostname", action="store_true", help="print the hostname (masked by default)")
    parser.add_argument(
        "--python",
        dest="target_python",
        metavar="PATH",
        help="look at the packages of this interpreter instead of the running one",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        metavar="S",
        help="seconds each driver call may take (default 3)",
    )
    add_output_arguments(parser, ("text", "json", "markdown"))


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
    requirements: list[str] | None = None,
    *,
    image: str | None = None,
    index_url: str | None = None,
) -> Report:
    """The doctor report for a host: findings about what is installed now, and the verdict for a stack."""
    from cudalign import rules, stack
    from cudalign.model import Report, to_jsonable

    host = match_gpus(host, facts)
    installed = stack.from_installed(host, facts)
    findings = rules.check(host, installed, facts)
    verdict = rules.verdict(findings)
    data: dict[str, Any] = {}
    if requirements or image:
        target = stack.resolve(list(requirements or ()), facts, host, image=image, index_url=index_url)
        target_findings = rules.check(host, target, facts)
        verdict = rules.verdict(target_findings, target)
        data["target"] = {
            "requirements": list(requirements or ()),
            "image": image,
            "verdict": verdict.value,
            "stack": to_jsonable(target),
            "findings": to_jsonable(target_findings),
        }
    return Report(schema=SCHEMA, verdict=verdict, host=host, stack=installed, findings=findings, data=data)


def exit_status(report: Report, fail_on: str) -> int:
    """1 when a finding about the host now, or about the requested stack, is at or above ``fail_on``."""
    from cudalign.model import Severity

    if fail_on == "never":
        return 0
    target = report.data.get("target") or {}
    severities = [f.severity for f in report.findings]
    severities += [Severity(f["severity"]) for f in target.get("findings", ())]
    return 1 if any(s.rank >= Severity(fail_on).rank for s in severities) else 0


def run(args: argparse.Namespace) -> int:
    import threading

    from cudalign.cli.options import emit
    from cudalign.facts import load
    from cudalign.probe import probe

    # Probe in a thread while the knowledge base loads: NVML and libcuda spend their time in C with the
    # GIL released, loading the facts is Python work; the two overlap instead of adding up.
    box: dict[str, Any] = {}

    def snapshot() -> None:
        try:
            box["host"] = probe(
                show_uuids=args.show_uuids,
                show_hostname=args.show_hostname,
                timeout=args.timeout,
                python=args.target_python,
            )
        except BaseException as exc:  # re-raised below, in the main thread
            box["error"] = exc

    thread = threading.Thread(target=snapshot, name="cudalign-probe", daemon=True)
    thread.start()
    facts = load()
    thread.join()
    if "error" in box:
        raise box["error"]
    report = diagnose(box["host"], facts, args.requirements, image=args.image, index_url=args.index_url)
    emit(report, args)
    return exit_status(report, args.fail_on)
