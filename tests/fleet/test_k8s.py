"""Kubernetes node lists (GFD labels as GFD writes them) -> per-node and aggregate answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cudalign.cli import main
from cudalign.errors import InvalidInput
from cudalign.facts import Facts, load
from cudalign.fleet.answer import fleet_check, fleet_plan, node_affinity
from cudalign.fleet.k8s import nodes_from_json
from cudalign.fleet.labels import driver_from_labels, product_name
from cudalign.model import Verdict

REC = Path(__file__).resolve().parents[1] / "recordings"
MIXED = REC / "k8s-mixed.json"
LEGACY = REC / "k8s-legacy.json"


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


def _mixed() -> Any:
    return json.loads(MIXED.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("product", "expected"),
    [
        ("NVIDIA-GeForce-RTX-4090", ("NVIDIA-GeForce-RTX-4090", None, False)),
        ("NVIDIA-L4-SHARED", ("NVIDIA-L4", None, True)),
        ("A100-SXM4-40GB-MIG-1g.5gb", ("A100-SXM4-40GB", "1g.5gb", False)),
        ("NVIDIA-A100-SXM4-80GB-MIG-3g.40gb-SHARED", ("NVIDIA-A100-SXM4-80GB", "3g.40gb", True)),
    ],
)
def test_product_suffixes(product: str, expected: tuple[str, str | None, bool]) -> None:
    assert product_name(product) == expected


@pytest.mark.parametrize(
    ("labels", "driver"),
    [
        ({"nvidia.com/cuda.driver-version.full": "550.107.02"}, "550.107.02"),
        (
            {
                "nvidia.com/cuda.driver-version.major": "580",
                "nvidia.com/cuda.driver-version.minor": "95",
                "nvidia.com/cuda.driver-version.revision": "05",
            },
            "580.95.05",
        ),
        (
            {
                "nvidia.com/cuda.driver.major": "470",
                "nvidia.com/cuda.driver.minor": "256",
                "nvidia.com/cuda.driver.rev": "02",
            },
            "470.256.02",
        ),
        (
            {
                "nvidia.com/cuda.driver.major": "550",
                "nvidia.com/cuda.driver.minor": "120",
                "nvidia.com/cuda.driver.rev": "",
            },
            "550.120",
        ),
        ({"nvidia.com/cuda.driver-version.full": "garbage"}, None),
        ({}, None),
    ],
)
def test_driver_label_spellings(labels: dict[str, str], driver: str | None) -> None:
    assert driver_from_labels(labels) == driver


def test_mixed_fleet_nodes(facts: Facts) -> None:
    nodes = {n.name: n for n in nodes_from_json(facts, _mixed())}
    h100 = nodes["gpu-h100-a"].host
    assert h100 is not None and h100.driver is not None
    assert (h100.gpus[0].fact_id, len(h100.gpus), h100.driver.version, h100.driver.cuda) == (
        "gpu.h100-sxm",
        8,
        "550.127.05",
        "12.4",
    )
    rtx = nodes["gpu-4090-a"].host  # only the deprecated cuda.driver.* labels
    assert rtx is not None and rtx.driver is not None and rtx.gpus[0].fact_id == "gpu.rtx-4090"
    assert rtx.driver.version == "570.133.07"
    mig = nodes["gpu-a100-mig"]
    assert mig.host is not None and mig.host.gpus[0].fact_id == "gpu.a100-sxm4" and mig.host.gpus[0].mig_mode
    assert any("1g.10gb" in c for c in mig.conditions)
    shared = nodes["gpu-l4-a"]
    assert shared.host is not None and shared.host.gpus[0].fact_id == "gpu.l4"
    assert any("4 replicas" in c for c in shared.conditions)
    assert (nodes["gpu-new"].status, nodes["cpu-a"].status) == ("no-labels", "no-gpu")


def test_check_per_node_and_aggregate(facts: Facts) -> None:
    result = fleet_check(["vllm==0.13.0"], facts, nodes_from_json(facts, _mixed()))
    by_node = {n: g for g in result.groups for n in g.nodes}
    # FlashAttention-2 has only CUDA 12.9 PTX for sm_90: an R550 driver cannot JIT it (vllm#31700)
    assert by_node["gpu-h100-a"].verdict is Verdict.FAILS
    assert "CA103" in {f.code for f in by_node["gpu-h100-a"].findings}
    assert by_node["gpu-4090-a"].verdict is Verdict.CAVEATS  # sm_89 machine code, minor-version compat
    assert by_node["gpu-l4-a"].verdict is Verdict.OK and by_node["gpu-a100-mig"].verdict is Verdict.OK
    assert result.verdict is Verdict.CAVEATS and result.lowest_driver == "550.127.05"
    assert [n.name for n in result.other] == ["gpu-new"] and result.non_gpu == 2
    assert result.affinity is not None
    terms = result.affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    products = {
        e["values"][0] for t in terms for e in t["matchExpressions"] if e["key"].endswith("gpu.product")
    }
    assert products == {"NVIDIA-GeForce-RTX-4090", "NVIDIA-L4-SHARED", "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb"}


def test_affinity_falls_back_to_hostnames_when_labels_cannot_tell(facts: Facts) -> None:
    nodes = nodes_from_json(facts, _mixed())
    one = [n for n in nodes if n.name == "gpu-h100-a"]  # its twin gpu-h100-b has the same labels
    aff = node_affinity(one, nodes)
    assert aff is not None
    (term,) = aff["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term["matchExpressions"] == [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["gpu-h100-a"]}
    ]


def test_plan_upgrades_only_the_nodes_below_the_matrix(facts: Facts) -> None:
    plan = fleet_plan(["vllm>=0.12"], facts, nodes_from_json(facts, _mixed()))
    assert plan.matrix is not None
    upgraded = {n for u in plan.upgrades for n in u.nodes}
    assert upgraded == {"gpu-h100-a", "gpu-h100-b"}  # the R570 4090s keep their driver
    assert all(u.runbook == f"cudalign runbook --driver {u.target.split('.')[0]}" for u in plan.upgrades)
    assert all(g.verdict in (Verdict.OK, Verdict.CAVEATS) for g in plan.groups)


def test_plan_without_upgrades_when_every_node_runs_one(facts: Facts) -> None:
    plan = fleet_plan(["torch==2.9.*"], facts, nodes_from_json(facts, _mixed()))
    assert plan.matrix is not None and plan.upgrades == ()


def test_legacy_cluster_json(facts: Facts) -> None:
    """NodeList from an old cluster: beta.kubernetes.io/arch, deprecated driver labels, a node with none."""
    nodes = {n.name: n for n in nodes_from_json(facts, json.loads(LEGACY.read_text(encoding="utf-8")))}
    v100 = nodes["v100-0"].host
    assert v100 is not None and v100.driver is not None and v100.driver.version == "470.256.02"
    assert v100.os.arch == "x86_64" and v100.gpus[0].fact_id == "gpu.v100-sxm2"
    t4 = nodes["t4-0"]
    assert (
        t4.host is not None
        and t4.host.driver is None
        and any("driver not labelled" in c for c in t4.conditions)
    )
    result = fleet_check(["torch==2.9.0"], facts, list(nodes.values()))
    t4_group = next(g for g in result.groups if "t4-0" in g.nodes)
    assert t4_group.verdict in (
        Verdict.OK,
        Verdict.CAVEATS,
    )  # an unstated driver is a condition, not a failure


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected the JSON of 'kubectl get nodes -o json'"),
        ({"kind": "PodList"}, "no 'items' list"),
        ({"kind": "List", "items": [{"metadata": {}}]}, "items[0]: no metadata.name"),
        (
            {"kind": "List", "items": [{"metadata": {"name": "a", "labels": []}}]},
            "items[0].metadata.labels: expected an object",
        ),
    ],
)
def test_bad_node_json(facts: Facts, data: Any, message: str) -> None:
    with pytest.raises(
        InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
    ):
        nodes_from_json(facts, data)


def test_cli_check_json_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", "k8s", "--nodes", str(MIXED), "check", "vllm==0.13.0", "--json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["schema"] == "cudalign.fleet/1" and body["kind"] == "check" and body["verdict"] == "caveats"
    assert sum(len(g["nodes"]) for g in body["groups"]) == 6


def test_cli_bad_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "nodes.json"
    bad.write_text('{"kind": "List", "items": [{"metadata": {"name": 3}}]}', encoding="utf-8")
    assert main(["fleet", "k8s", "--nodes", str(bad), "check", "torch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cudalign: error: {bad}: items[0]: no metadata.name") and "Traceback" not in err
