"""A real local Ray cluster: custom resources stand in for GPU models, each node answers a recorded host.

One cluster per module (starting it is most of this module's time). The probe each node runs reads the
node's own resources and returns the recorded host for its stand-in GPU model: the test hook the
``probe`` argument (and ``cudalign.fleet.ray.PROBE``) provides.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# ray is a test dependency: missing, this module fails to import (an error, never a skip)
import ray
from ray.cluster_utils import Cluster

from cudalign.cli import main
from cudalign.facts import load
from cudalign.fleet import ray as fleet_ray
from cudalign.fleet.answer import fleet_check
from cudalign.model import Verdict

HOSTS = Path(__file__).resolve().parents[1] / "hosts"
RECORDED = {
    "model-h100": json.loads((HOSTS / "h100.json").read_text(encoding="utf-8")),
    "model-5090": json.loads((HOSTS / "rtx5090-driver570.json").read_text(encoding="utf-8")),
    "model-h200": json.loads((HOSTS / "h200x2.json").read_text(encoding="utf-8")),
}


def recorded_probe(table: dict[str, Any], slow: str) -> dict[str, Any]:
    """Runs on a Ray node: the recorded host of the GPU model its resources name (``slow`` never answers)."""
    import time as _time

    import ray as _ray

    node_id = _ray.get_runtime_context().get_node_id()
    me = next(n for n in _ray.nodes() if n["NodeID"] == node_id)  # type: ignore[no-untyped-call]
    if slow in me["Resources"]:
        _time.sleep(120)
    model = next(k for k in table if k in me["Resources"])
    host: dict[str, Any] = table[model]
    return host


ray.cloudpickle.register_pickle_by_value(__import__(__name__))  # type: ignore[no-untyped-call]


_SLOW: list[Any] = []


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    head = {"num_cpus": 1, "resources": {"model-h100": 1}, "include_dashboard": False}
    c = Cluster(initialize_head=True, head_node_args=head)
    c.add_node(num_cpus=1, resources={"model-5090": 1})
    _SLOW.append(
        c.add_node(num_cpus=1, resources={"model-h200": 1, "model-slow": 1})
    )  # the last test kills it
    c.wait_for_nodes()
    yield c
    c.shutdown()  # type: ignore[no-untyped-call]


def _probe(slow: str = "none") -> Any:
    return functools.partial(recorded_probe, RECORDED, slow)


def test_every_node_answers_and_the_engine_judges_each(cluster: Cluster) -> None:
    nodes = fleet_ray.ray_nodes(cluster.address, timeout=30, probe=_probe())
    assert len(nodes) == 3 and all(n.status == "gpu" for n in nodes)
    facts = load()
    result = fleet_check(["vllm==0.13.0"], facts, nodes)
    by_gpu = {g.host.gpus[0].name: g for g in result.groups}
    assert set(by_gpu) == {"NVIDIA H100 80GB HBM3", "NVIDIA GeForce RTX 5090", "NVIDIA H200"}
    # sm_120 on R570: FlashAttention-2 has only CUDA 12.9 PTX for it (README example c)
    assert by_gpu["NVIDIA GeForce RTX 5090"].verdict is Verdict.FAILS
    assert "CA103" in {f.code for f in by_gpu["NVIDIA GeForce RTX 5090"].findings}
    assert by_gpu["NVIDIA H200"].verdict in (Verdict.OK, Verdict.CAVEATS)


def test_cli_plan_through_the_probe_hook(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(fleet_ray, "PROBE", _probe())
    code = main(
        ["fleet", "ray", "--address", cluster.address, "--timeout", "30", "plan", "vllm>=0.12", "--json"]
    )
    body = json.loads(capsys.readouterr().out)
    assert code == 0 and body["kind"] == "plan" and body["matrix"] is not None
    assert sum(len(g["nodes"]) for g in body["groups"]) == 3
    upgraded = [n for u in body["upgrades"] for n in u["nodes"]]
    assert upgraded and all(u["runbook"].startswith("cudalign runbook --driver ") for u in body["upgrades"])


def test_a_node_killed_mid_run_is_unreachable(cluster: Cluster) -> None:
    slow = _SLOW[0]
    killer = threading.Timer(3.0, cluster.remove_node, args=(slow,))
    killer.start()
    started = time.monotonic()
    try:
        nodes = fleet_ray.ray_nodes(cluster.address, timeout=25, probe=_probe("model-slow"))
    finally:
        killer.join()
    assert time.monotonic() - started < 25
    lost = [n for n in nodes if n.status == "unreachable"]
    assert len(lost) == 1 and lost[0].host is None and lost[0].reason
    assert sum(1 for n in nodes if n.status == "gpu") == 2


def test_an_unreachable_address_is_one_line_within_the_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: nothing answers there
        started = time.monotonic()
        code = main(["fleet", "ray", "--address", f"127.0.0.1:{port}", "--timeout", "5", "check", "torch"])
    err = capsys.readouterr().err
    assert code == 2 and time.monotonic() - started < 5
    assert err.startswith(f"cudalign: error: --address 127.0.0.1:{port}: no Ray cluster answers there")
    assert "Traceback" not in err
