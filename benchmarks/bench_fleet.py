"""Benchmarks of ``cudalign fleet k8s`` over 5,000 nodes (DESIGN.md: under 2 s).

The node list is the recorded mixed fleet (``tests/recordings/k8s-mixed.json``) repeated to 5,000 nodes
with their names changed and, for a tenth of them, their driver revision (so there are more kinds of node
than the recording has), written once to a temporary file. ``fleet k8s check`` is timed as the command a
user runs, beside ``python3 -c pass`` in the same run.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from run import cli

__all__ = ["BENCHMARKS", "make_nodes"]

_RECORDING = Path(__file__).resolve().parents[1] / "tests" / "recordings" / "k8s-mixed.json"


def make_nodes(count: int = 5000) -> dict[str, Any]:
    """A ``kubectl get nodes -o json`` document of ``count`` nodes built from the recording."""
    base = json.loads(_RECORDING.read_text(encoding="utf-8"))
    items = []
    for i in range(count):
        node = copy.deepcopy(base["items"][i % len(base["items"])])
        name = f"node-{i:05d}"
        node["metadata"]["name"] = name
        labels = node["metadata"].get("labels", {})
        labels["kubernetes.io/hostname"] = name
        if i % 10 == 0 and "nvidia.com/cuda.driver.rev" in labels:
            labels["nvidia.com/cuda.driver.rev"] = f"{i % 7:02d}"
            labels.pop("nvidia.com/cuda.driver-version.full", None)
            labels.pop("nvidia.com/cuda.driver-version.revision", None)
        items.append(node)
    return {**base, "items": items}


_DIR = tempfile.TemporaryDirectory(prefix="cudalign-bench-fleet-")
_NODES = Path(_DIR.name) / "nodes.json"
_NODES.write_text(json.dumps(make_nodes()), encoding="utf-8")


def _python_pass() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


BENCHMARKS: list[tuple[object, ...]] = [
    ("python3 -c pass", _python_pass, None, 10),
    (
        "cudalign fleet k8s check over 5,000 nodes (command)",
        cli("fleet", "k8s", "--nodes", str(_NODES), "check", "vllm==0.13.0", "--fail-on", "never"),
        2000,
        5,
    ),
    (
        "cudalign fleet k8s plan over 5,000 nodes (command)",
        cli("fleet", "k8s", "--nodes", str(_NODES), "plan", "vllm>=0.12", "--fail-on", "never"),
        2000,
        3,
    ),
]
