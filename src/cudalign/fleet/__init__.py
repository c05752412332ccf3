"""Many hosts at once: Kubernetes node labels, Ray nodes, Slurm nodes -> :class:`Node` -> per-node answers.

Each source turns what the cluster says about its nodes into :class:`~cudalign.model.Host` values (the
same described hosts ``check --gpu … --driver …`` builds); :mod:`cudalign.fleet.answer` then runs the one
engine over them, once per distinct host, and aggregates: which nodes run a stack and why the others do
not, one matrix for all of them or the fewest driver upgrades, the lowest common driver and the node
affinity to schedule with.
"""

from __future__ import annotations

from collections.abc import Mapping

from cudalign._dataclass import dataclass, field
from cudalign.model import Host

__all__ = ["NO_GPU", "NO_LABELS", "UNREACHABLE", "Node"]

NO_LABELS = "no-labels"
"""A node with GPUs (the device plugin's resource) but without GPU Feature Discovery labels."""
NO_GPU = "no-gpu"
"""A node with neither GPU labels nor a GPU resource: not a GPU node."""
UNREACHABLE = "unreachable"
"""A node that did not answer (Ray) within the timeout."""


@dataclass(frozen=True, slots=True)
class Node:
    """One node of a cluster and the host it describes, or why it describes none."""

    name: str
    host: Host | None
    """The host its labels (or its probe) describe; ``None`` with ``status`` and ``reason`` saying why."""
    status: str = "gpu"
    """``gpu``, ``no-labels``, ``no-gpu`` or ``unreachable``."""
    reason: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    """The labels scheduling can select on (Kubernetes: ``nvidia.com/…``, ``kubernetes.io/arch``)."""
    conditions: tuple[str, ...] = ()
    """What the source does not say about the node (a driver not labelled …), one sentence each."""
