"""Slurm nodes from recorded ``scontrol show node -o`` output: GRES GPU types, the driver from features."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cudalign.cli import main
from cudalign.errors import InvalidInput
from cudalign.facts import Facts, load
from cudalign.fleet.slurm import nodes_from_scontrol

SCONTROL = Path(__file__).resolve().parents[1] / "recordings" / "slurm-scontrol.txt"


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


def test_gres_types_and_driver_features(facts: Facts) -> None:
    nodes = {n.name: n for n in nodes_from_scontrol(facts, SCONTROL.read_text(encoding="utf-8"))}
    assert set(nodes) == {
        "gpu-a100-01",
        "gpu-h100-01",
        "gpu-4090-01",
        "cpu-01",
        "gpu-l40s-01",
        "gpu-gh200-01",
    }
    cpu = nodes["cpu-01"]
    assert cpu.host is None and cpu.status == "no-gpu"
    expected = {  # name: (GPU fact, count, driver from the features or None, arch)
        "gpu-a100-01": ("gpu.a100-sxm4", 4, "550.127.05", "x86_64"),  # Gres=gpu:a100:4(S:0-1)
        "gpu-h100-01": ("gpu.h100-sxm", 8, "580.95.05", "x86_64"),  # gpu:nvidia_h100_80gb_hbm3, driver_…
        "gpu-4090-01": ("gpu.rtx-4090", 2, None, "x86_64"),  # gpu:nvidia_geforce_rtx_4090, no driver feature
        "gpu-l40s-01": ("gpu.l40s", 4, "570.133.20", "x86_64"),
        "gpu-gh200-01": ("gpu.gh200", 1, None, "aarch64"),
    }
    for name, (fact, count, driver, arch) in expected.items():
        host = nodes[name].host
        assert host is not None, name
        assert {g.fact_id for g in host.gpus} == {fact} and len(host.gpus) == count, name
        assert host.os.arch == arch
        if driver is None:
            assert host.driver is None and "driver" in host.unknown
            assert any("driver not in the node's features" in c for c in nodes[name].conditions)
        else:
            assert host.driver is not None and host.driver.version == driver
            assert host.driver.cuda and not nodes[name].conditions


def test_check_per_node_and_in_aggregate(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fleet", "slurm", "--nodes", str(SCONTROL), "check", "vllm==0.13.0", "--json"])
    body = json.loads(capsys.readouterr().out)
    assert code == 1 and body["kind"] == "check" and body["non_gpu_nodes"] == 1
    verdicts = {n: g["verdict"] for g in body["groups"] for n in g["nodes"]}
    assert verdicts["gpu-h100-01"] == "ok"
    assert verdicts["gpu-a100-01"] == verdicts["gpu-l40s-01"] == "caveats"  # CUDA 12.9 wheels on 12.4/12.8
    assert verdicts["gpu-4090-01"] == "caveats"  # the driver is a condition, not a verdict
    assert body["lowest_driver"] == "550.127.05"
    by_node = {n: g for g in body["groups"] for n in g["nodes"]}
    assert {f["code"] for f in by_node["gpu-a100-01"]["findings"]} >= {"CA102"}
    assert by_node["gpu-4090-01"]["conditions"] and "CA104" in {
        f["code"] for f in by_node["gpu-4090-01"]["findings"]
    }
    assert body["affinity"] is None  # Kubernetes affinity means nothing to Slurm


def test_plan_upgrades_the_nodes_without_a_driver(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fleet", "slurm", "--nodes", str(SCONTROL), "plan", "vllm>=0.12", "--json"])
    body = json.loads(capsys.readouterr().out)
    assert code == 0 and body["matrix"] is not None
    upgraded = {n for u in body["upgrades"] for n in u["nodes"]}
    assert upgraded == {"gpu-4090-01", "gpu-gh200-01"}
    assert all(
        u["current"] is None and u["runbook"].startswith("cudalign runbook --driver ")
        for u in body["upgrades"]
    )
    assert main(["fleet", "slurm", "--nodes", str(SCONTROL), "plan", "vllm>=0.12"]) == 0
    assert "driver not given -> " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NodeName=a Gres=gpu:a100:1\nState=IDLE Gres=gpu:a100:1\n", "nodes.txt:2: no NodeName="),
        ("Node a: not scontrol output\n", "nodes.txt:1: no NodeName="),
    ],
)
def test_a_bad_line_is_one_line_naming_it(
    text: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nodes.txt"
    path.write_text(text, encoding="utf-8")
    code = main(["fleet", "slurm", "--nodes", str(path), "check", "torch"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"cudalign: error: {tmp_path}/{expected}")


def test_an_unknown_gres_type_is_a_condition(facts: Facts) -> None:
    (node,) = nodes_from_scontrol(facts, "NodeName=x Gres=gpu:mystery9000:2 AvailableFeatures=(null)\n")
    assert node.host is not None and node.host.gpus[0].fact_id is None
    assert any("mystery9000" in c for c in node.conditions)


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    from cudalign.fleet.slurm import read_text

    with pytest.raises(InvalidInput, match=r"nope\.txt: cannot read"):
        read_text(tmp_path / "nope.txt")
