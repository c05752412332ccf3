"""The engine over many nodes: per-node verdicts, one matrix for all, the fewest upgrades, node affinity.

Nodes that describe the same host are judged once (a fleet has a few kinds of node, not thousands).
``fleet_plan`` looks for the matrix every GPU node runs on its current driver; failing that, for each
driver level of the fleet from the lowest up, the matrix the nodes at or above that level run, with the
nodes below it upgraded: the first level that works needs the fewest upgrades, since raising the level
only adds nodes below it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from cudalign._dataclass import dataclass
from cudalign.fleet import Node
from cudalign.model import (
    DriverInfo,
    Finding,
    Gpu,
    Host,
    Matrix,
    OsInfo,
    Rejection,
    Stack,
    Verdict,
    to_jsonable,
)

if TYPE_CHECKING:
    from cudalign.facts import Facts

__all__ = [
    "CHECK_SCHEMA",
    "PLAN_SCHEMA",
    "FleetCheck",
    "FleetPlan",
    "Group",
    "Upgrade",
    "fleet_check",
    "fleet_plan",
    "groups_of",
    "lowest_driver",
    "node_affinity",
]

CHECK_SCHEMA = "cudalign.fleet-check/1"
PLAN_SCHEMA = "cudalign.fleet-plan/1"
_RUNS = (Verdict.OK, Verdict.CAVEATS)


@dataclass(frozen=True, slots=True)
class Group:
    """Nodes that describe the same host, and how a stack fares on it."""

    nodes: tuple[str, ...]
    host: Host
    verdict: Verdict | None = None
    findings: tuple[Finding, ...] = ()
    conditions: tuple[str, ...] = ()
    stack: Stack | None = None


@dataclass(frozen=True, slots=True)
class FleetCheck:
    """Which nodes run a stack and why the others do not."""

    requirements: tuple[str, ...]
    image: str | None
    groups: tuple[Group, ...]
    other: tuple[Node, ...]
    """Nodes not judged: GPU nodes without labels, unreachable nodes (non-GPU nodes are only counted)."""
    non_gpu: int
    lowest_driver: str | None
    affinity: Mapping[str, Any] | None
    """The ``affinity`` of a pod spec that selects exactly the nodes that run it, where labels allow."""

    @property
    def verdict(self) -> Verdict:
        """``ok`` when every judged node runs it cleanly, ``fails`` when none runs it, else ``caveats``."""
        verdicts = {g.verdict for g in self.groups}
        if not verdicts:
            return Verdict.UNKNOWN
        if verdicts <= {Verdict.OK}:
            return Verdict.OK
        if not verdicts & set(_RUNS):
            return Verdict.UNKNOWN if Verdict.UNKNOWN in verdicts else Verdict.FAILS
        return Verdict.CAVEATS


@dataclass(frozen=True, slots=True)
class Upgrade:
    """Nodes whose driver must be raised for the fleet's matrix, and the runbook that does it."""

    nodes: tuple[str, ...]
    gpus: str
    current: str | None
    target: str
    runbook: str


@dataclass(frozen=True, slots=True)
class FleetPlan:
    """One matrix for every GPU node, and the fewest driver upgrades it needs (none when it runs as is)."""

    requirements: tuple[str, ...]
    matrix: Matrix | None
    upgrades: tuple[Upgrade, ...]
    groups: tuple[Group, ...]
    """Each kind of node with the matrix's verdict on it (after its upgrade, where it has one)."""
    other: tuple[Node, ...]
    non_gpu: int
    lowest_driver: str | None
    rejected: tuple[Rejection, ...] = ()


def _key(host: Host) -> str:
    return json.dumps(to_jsonable(dataclasses.replace(host, hostname=None)), sort_keys=True)


def groups_of(nodes: Sequence[Node]) -> tuple[list[Group], list[Node], int]:
    """(groups of alike GPU nodes, nodes that cannot be judged, how many are not GPU nodes)."""
    by_id: dict[int, list[Node]] = {}
    other: list[Node] = []
    non_gpu = 0
    for n in nodes:
        if n.host is None:
            if n.status == "no-gpu":
                non_gpu += 1
            else:
                other.append(n)
            continue
        by_id.setdefault(id(n.host), []).append(n)
    merged: dict[str, list[Node]] = {}
    for members in by_id.values():
        merged.setdefault(_key(members[0].host), []).extend(members)  # type: ignore[arg-type]
    groups = []
    for members in merged.values():
        host = members[0].host
        assert host is not None
        conditions = tuple(dict.fromkeys(c for m in members for c in m.conditions))
        groups.append(Group(tuple(m.name for m in members), host, conditions=conditions))
    groups.sort(key=lambda g: (_driver(g.host) or Version("0"), g.nodes[0]))
    return groups, other, non_gpu


def _driver(host: Host) -> Version | None:
    if host.driver is None or not host.driver.version:
        return None
    return Version(host.driver.version)


def lowest_driver(groups: Sequence[Group]) -> str | None:
    """The lowest driver any judged node has: what a fleet-wide stack must run on."""
    drivers = [(v, g.host.driver.version) for g in groups if (v := _driver(g.host)) and g.host.driver]
    return min(drivers)[1] if drivers else None


def _judge(
    requirements: Sequence[str], facts: Facts, group: Group, image: str | None, features: Sequence[str]
) -> Group:
    from cudalign.rules import check, verdict
    from cudalign.stack import resolve

    if requirements or image:
        stack = resolve(list(requirements), facts, group.host, image=image)
    else:  # a probed host judged on what is installed on it
        from cudalign.stack import from_installed

        stack = from_installed(group.host, facts)
    findings = check(group.host, stack, facts, features=features)
    return dataclasses.replace(group, verdict=verdict(findings, stack), findings=findings, stack=stack)


def fleet_check(
    requirements: Sequence[str],
    facts: Facts,
    nodes: Sequence[Node],
    *,
    image: str | None = None,
    features: Sequence[str] = (),
) -> FleetCheck:
    """Judge the stack on every kind of node; aggregate."""
    groups, other, non_gpu = groups_of(nodes)
    judged = tuple(_judge(requirements, facts, g, image, features) for g in groups)
    runs = {n for g in judged if g.verdict in _RUNS for n in g.nodes}
    by_name = {n.name: n for n in nodes}
    affinity = node_affinity([by_name[n] for n in sorted(runs)], nodes) if runs else None
    return FleetCheck(
        tuple(requirements), image, judged, tuple(other), non_gpu, lowest_driver(judged), affinity
    )


# --------------------------------------------------------------------------- node affinity

_DRIVER_MAJOR = ("nvidia.com/cuda.driver-version.major", "nvidia.com/cuda.driver.major")


def _selects(term: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> bool:
    for expr in term:
        value = labels.get(expr["key"])
        if expr["operator"] == "In" and value not in expr["values"]:
            return False
        if expr["operator"] == "Gt" and (
            value is None or not value.isdigit() or int(value) <= int(expr["values"][0])
        ):
            return False
    return True


def node_affinity(chosen: Sequence[Node], nodes: Sequence[Node]) -> dict[str, Any] | None:
    """A required node affinity that selects the ``chosen`` nodes and no other GPU node.

    By product (``nvidia.com/gpu.product In``) and, where the chosen nodes of a product start at some
    driver branch, that branch (``…driver…major Gt``); when labels cannot tell the chosen nodes from the
    others, by host name.
    """
    if not chosen:
        return None
    by_product: dict[str, list[Node]] = {}
    for n in chosen:
        by_product.setdefault(n.labels.get("nvidia.com/gpu.product", ""), []).append(n)
    terms: list[list[dict[str, Any]]] = []
    for product, members in sorted(by_product.items()):
        if not product:
            terms = []
            break
        term: list[dict[str, Any]] = [
            {"key": "nvidia.com/gpu.product", "operator": "In", "values": [product]}
        ]
        key = next((k for k in _DRIVER_MAJOR if all(k in m.labels for m in members)), None)
        if key is not None:
            majors = [int(m.labels[key]) for m in members if m.labels[key].isdigit()]
            if majors:
                term.append({"key": key, "operator": "Gt", "values": [str(min(majors) - 1)]})
        terms.append(term)
    names = {n.name for n in chosen}
    exact = bool(terms) and all(
        any(_selects(t, n.labels) for t in terms) == (n.name in names) for n in nodes if n.host is not None
    )
    if not exact:
        hostnames = sorted(n.labels.get("kubernetes.io/hostname", n.name) for n in chosen)
        terms = [[{"key": "kubernetes.io/hostname", "operator": "In", "values": hostnames}]]
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": t} for t in terms]
            }
        }
    }


# --------------------------------------------------------------------------- one matrix for the fleet


def _combined(groups: Sequence[Group], driver: str | None, facts: Facts) -> Host:
    """One host with every kind of GPU of the fleet, on ``driver``: a matrix it passes suits all of them."""
    from cudalign.facts.query import max_cuda_for_driver

    gpus: dict[tuple[Any, ...], Gpu] = {}
    for g in groups:
        for gpu in g.host.gpus:
            gpus.setdefault((gpu.name, gpu.cc, gpu.fact_id), gpu)
    top = max_cuda_for_driver(facts, driver).value if driver is not None else None
    first = groups[0].host
    return Host(
        origin="described",
        os=OsInfo(system="Linux", arch=first.os.arch),
        driver=None
        if driver is None
        else DriverInfo(version=driver, cuda=str(top) if top is not None else None, source="planned"),
        gpus=tuple(dataclasses.replace(g, index=i) for i, g in enumerate(gpus.values())),
    )


def _gpus_text(host: Host) -> str:
    names = sorted({g.name for g in host.gpus})
    return ", ".join(names) or "no GPU"


def _runs_on(
    host: Host, stack: Stack, facts: Facts, features: Sequence[str]
) -> tuple[Verdict, tuple[Finding, ...]]:
    from cudalign.rules import check, verdict

    findings = check(host, stack, facts, features=features)
    return verdict(findings), findings


def _try_level(
    facts: Facts, groups: Sequence[Group], matrix: Matrix, level: Version, features: Sequence[str]
) -> tuple[list[Group], list[Upgrade]] | None:
    """Every group on ``matrix``: kept at or above ``level``, upgraded below it (``None``: one cannot run)."""
    from cudalign.plan import driver_targets, with_driver

    judged: list[Group] = []
    upgrades: list[Upgrade] = []
    for g in groups:
        drv = _driver(g.host)
        if drv is not None and drv >= level:
            v, findings = _runs_on(g.host, matrix.stack, facts, features)
            if v not in _RUNS:
                return None
            judged.append(dataclasses.replace(g, verdict=v, findings=findings, stack=matrix.stack))
            continue
        for target in driver_targets(facts, g.host, matrix.stack) or (
            [matrix.driver] if matrix.driver else []
        ):
            raised = with_driver(g.host, facts, target)
            v, findings = _runs_on(raised, matrix.stack, facts, features)
            if v in _RUNS:
                judged.append(dataclasses.replace(g, verdict=v, findings=findings, stack=matrix.stack))
                upgrades.append(
                    Upgrade(
                        g.nodes,
                        _gpus_text(g.host),
                        g.host.driver.version if g.host.driver else None,
                        target,
                        f"cudalign runbook --driver {Version(target).major}",
                    )
                )
                break
        else:
            return None
    return judged, upgrades


def fleet_plan(
    requirements: Sequence[str],
    facts: Facts,
    nodes: Sequence[Node],
    *,
    features: Sequence[str] = (),
    index_url: str | None = None,
) -> FleetPlan:
    """One matrix every GPU node runs, with the fewest driver upgrades (see the module docstring)."""
    from cudalign.plan import make_plan

    groups, other, non_gpu = groups_of(nodes)
    low = lowest_driver(groups)
    empty = FleetPlan(tuple(requirements), None, (), tuple(groups), tuple(other), non_gpu, low)
    if not groups:
        return empty
    levels = sorted({v for g in groups if (v := _driver(g.host)) is not None})
    texts = {
        Version(g.host.driver.version): g.host.driver.version
        for g in groups
        if g.host.driver and g.host.driver.version
    }
    rejected: tuple[Rejection, ...] = ()
    for level in levels:
        # the kinds of node kept at this level decide the matrix; those below are upgraded to it
        kept = [g for g in groups if (d := _driver(g.host)) is not None and d >= level]
        host = _combined(kept, texts[level], facts)
        plan = make_plan(
            requirements,
            facts,
            host,
            no_driver_change=True,
            max_matrices=1,
            index_url=index_url,
            features=features,
        )
        if not rejected:
            rejected = plan.rejected
        for matrix in plan.matrices:
            tried = _try_level(facts, groups, matrix, level, features)
            if tried is not None:
                judged, upgrades = tried
                return FleetPlan(
                    tuple(requirements),
                    matrix,
                    tuple(upgrades),
                    tuple(judged),
                    tuple(other),
                    non_gpu,
                    low,
                    rejected if upgrades else (),
                )
    # nothing runs on a driver the fleet has: the plan with an upgrade, from the lowest level
    host = _combined(groups, texts[levels[0]] if levels else None, facts)
    plan = make_plan(requirements, facts, host, max_matrices=3, index_url=index_url, features=features)
    for matrix in plan.matrices:
        if matrix.driver is None:
            continue
        tried = _try_level(facts, groups, matrix, Version(matrix.driver), features)
        if tried is not None:
            judged, upgrades = tried
            return FleetPlan(
                tuple(requirements),
                matrix,
                tuple(upgrades),
                tuple(judged),
                tuple(other),
                non_gpu,
                low,
                plan.rejected,
            )
    return dataclasses.replace(empty, rejected=plan.rejected or rejected)
