"""`cudalign fleet k8s|ray|slurm|collect …`: the same questions across a cluster, with no agent of our own."""

from __future__ import annotations

import argparse
from typing import Any

from cudalign.cli.options import add_output_arguments

__all__ = ["add_arguments", "reads", "run"]


def _output(parser: argparse.ArgumentParser, *, leaf: bool) -> None:
    """Output options on ``fleet`` and again on each leaf (where a value given there wins)."""
    if not leaf:
        add_output_arguments(parser, formats=("text", "json", "markdown"))
        return
    g = parser.add_argument_group("output")
    g.add_argument("--format", choices=("text", "json", "markdown"), default=argparse.SUPPRESS)
    g.add_argument("--json", action="store_const", const="json", dest="format", default=argparse.SUPPRESS)
    g.add_argument("--fail-on", choices=("info", "warning", "error", "never"), default=argparse.SUPPRESS)
    g.add_argument("-o", "--output", metavar="FILE", default=argparse.SUPPRESS)


def _questions(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="question", metavar="QUESTION", required=True)
    check = sub.add_parser("check", help="which nodes run a stack, and why the others do not")
    check.add_argument("requirements", nargs="+", metavar="REQ", help="PEP 508 requirements")
    check.add_argument("--image", metavar="IMG", help="container image the stack runs in")
    check.add_argument("--feature", action="append", default=[], metavar="NAME", help="needed feature")
    _output(check, leaf=True)
    plan = sub.add_parser("plan", help="one matrix for every GPU node, or the fewest driver upgrades")
    plan.add_argument("requirements", nargs="+", metavar="REQ", help="PEP 508 requirements")
    plan.add_argument("--index-url", metavar="URL", help="the torch index")
    plan.add_argument("--feature", action="append", default=[], metavar="NAME", help="needed feature")
    _output(plan, leaf=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _output(parser, leaf=False)
    sources = parser.add_subparsers(dest="source", metavar="SOURCE", required=True)
    k8s = sources.add_parser("k8s", help="Kubernetes nodes and their GPU Feature Discovery labels")
    where = k8s.add_mutually_exclusive_group()
    where.add_argument("--context", metavar="C", help="kubectl context (default: the current one)")
    where.add_argument("--nodes", metavar="FILE", help="the output of 'kubectl get nodes -o json'")
    _questions_k8s(k8s)
    ray = sources.add_parser(
        "ray", help="every alive node of a Ray cluster, probed once (needs cudalign[ray])"
    )
    ray.add_argument("--address", metavar="A", help="the cluster (default: RAY_ADDRESS or the local one)")
    ray.add_argument("--timeout", type=float, default=60.0, metavar="S", help="seconds to wait (default 60)")
    _questions(ray)
    slurm = sources.add_parser("slurm", help="Slurm nodes from 'scontrol show node -o'")
    slurm.add_argument("--nodes", metavar="FILE", required=True, help="the output of 'scontrol show node -o'")
    _questions(slurm)
    collect = sources.add_parser("collect", help="hosts written by 'cudalign doctor --json' on each node")
    collect.add_argument("paths", nargs="+", metavar="FILE|DIR", help="JSON files, or directories of them")
    collect.add_argument("--check", nargs="+", metavar="REQ", help="judge these requirements on every host")
    collect.add_argument("--plan", nargs="+", metavar="REQ", help="one matrix for every host")
    _output(collect, leaf=True)


def _questions_k8s(parser: argparse.ArgumentParser) -> None:
    _questions(parser)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    job = sub.add_parser("job", help="a Job or DaemonSet running 'cudalign doctor --json' on every GPU node")
    job.add_argument("--kind", choices=("daemonset", "job"), default="daemonset", help="(default: daemonset)")
    job.add_argument("--namespace", default="cudalign", metavar="NS", help="(default: cudalign)")
    job.add_argument(
        "--image",
        metavar="IMG",
        help="an image with cudalign installed (default: python:3.12-slim, which installs it at start)",
    )
    job.add_argument("-o", "--output", metavar="FILE", default=argparse.SUPPRESS)


def reads(args: argparse.Namespace, path: Any) -> str | None:
    """Why ``-o path`` would overwrite an input of this command."""
    from pathlib import Path

    from cudalign.cli.output import _same_file

    for p in [getattr(args, "nodes", None), *(getattr(args, "paths", None) or [])]:
        if not p:
            continue
        if _same_file(Path(p), Path(path)):
            return f"is the input {p}"
        try:
            inside = Path(path).resolve().is_relative_to(Path(p).resolve())
        except (OSError, RuntimeError):  # a symlink loop: the output check names it
            inside = False
        if inside:
            return f"is the input {p}"
    return None


def _nodes(args: argparse.Namespace, facts: Any) -> tuple[list[Any], str]:
    from pathlib import Path

    from cudalign.cli.options import read_json

    if args.source == "k8s":
        from cudalign.fleet.k8s import kubectl_nodes, nodes_from_json

        if args.nodes:
            return nodes_from_json(facts, read_json(Path(args.nodes)), where=args.nodes), args.nodes
        return nodes_from_json(facts, kubectl_nodes(args.context), where="kubectl"), "kubectl"
    if args.source == "slurm":
        from cudalign.fleet.slurm import nodes_from_scontrol, read_text

        return nodes_from_scontrol(facts, read_text(Path(args.nodes)), where=args.nodes), args.nodes
    if args.source == "collect":
        from cudalign.fleet.collect import collect

        return collect([Path(p) for p in args.paths]), " ".join(args.paths)
    from cudalign.fleet import ray
    from cudalign.render.progress import progress

    with progress("probing Ray nodes", json=args.format == "json") as task:
        nodes = ray.ray_nodes(
            args.address,
            timeout=args.timeout,
            probe=ray.PROBE or probe_here,
            on_answer=lambda _n: task.advance(),
        )
    return nodes, f"ray {args.address or 'auto'}"


def run(args: argparse.Namespace) -> int:
    from cudalign.cli.options import check_features, emit
    from cudalign.facts import load
    from cudalign.model import Report, Severity

    facts = load()
    if getattr(args, "question", None) == "job":
        from cudalign.cli.output import write_text
        from cudalign.fleet.job import manifest

        write_text(
            manifest(args.kind, namespace=args.namespace, image=args.image), getattr(args, "output", None)
        )
        return 0
    nodes, source = _nodes(args, facts)
    question = getattr(args, "question", None)
    reqs = list(getattr(args, "requirements", None) or [])
    if args.source == "collect":
        question, reqs = ("plan", args.plan) if args.plan else ("check", list(args.check or []))
    features = check_features(getattr(args, "feature", []), facts)
    if question == "plan":
        from cudalign.fleet.answer import fleet_plan

        value: Any = fleet_plan(
            reqs, facts, nodes, features=features, index_url=getattr(args, "index_url", None)
        )
        worst = [f.severity for g in value.groups for f in g.findings] if value.matrix else [Severity.ERROR]
    else:
        from cudalign.fleet.answer import fleet_check

        value = fleet_check(reqs, facts, nodes, image=getattr(args, "image", None), features=features)
        if args.source != "k8s":  # a pod's node affinity means nothing to Slurm, Ray or loose hosts
            import dataclasses

            value = dataclasses.replace(value, affinity=None)
        worst = [f.severity for g in value.groups for f in g.findings]
    report = Report(schema="cudalign.fleet/1", data={"fleet": value, "source": source}, exit_on=tuple(worst))
    return emit(report, args)


def probe_here() -> dict[str, Any]:
    """This machine's host, as ``doctor --json`` writes it: what each Ray node runs."""
    from cudalign.probe import probe

    return probe().to_json()
