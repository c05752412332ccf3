"""`cudalign gpus`: which GPU types run a stack on a provider's stock driver, ranked by price.

The README's RunPod case (a ``vllm/vllm-openai`` >= 0.12 image on a 24 GB-or-larger GPU) is judged with the
shipped table and with the user's own prices in YAML and CSV; each outcome is the engine's verdict.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cudalign.cli import main

RUNPOD = ["vllm>=0.12", "--image", "vllm/vllm-openai:v0.13.0", "--min-memory", "24", "--provider", "runpod"]
DATACENTER = {"L4", "A40", "L40", "L40S", "A100 SXM4", "H100 SXM5", "H200 SXM"}
CONSUMER = {"GeForce RTX 3090", "GeForce RTX 4090"}
WORKSTATION = {"RTX A5000", "RTX A6000", "RTX 6000 Ada Generation"}
RUNS = {"runs", "forward-compat", "needs-host-filter"}


def _gpus(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["gpus", *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def _error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(["gpus", *args])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert "Traceback" not in captured.err
    return captured.err.strip()


def test_runpod_scenario_with_the_shipped_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, body = _gpus(capsys, *RUNPOD)
    assert code == 0 and body["schema"] == "cudalign.gpus/1" and body["prices"] == "shipped"
    offers = body["offers"]
    by_gpu = {o["gpu"]: o for o in offers}
    assert {o["provider"] for o in offers} == {"runpod"}
    assert all(o["memory_gb"] >= 24 for o in offers)
    assert set(by_gpu) >= DATACENTER | CONSUMER | WORKSTATION
    # every GPU runs on some RunPod host, but only after filtering out the hosts whose driver is too old
    assert all(o["result"] == "needs-host-filter" for o in offers)
    for name in CONSUMER:  # no brand clause of NVIDIA_REQUIRE_CUDA admits GeForce below CUDA 12.9
        o = by_gpu[name]
        assert o["runs_from_host_cuda"] == "12.9"
        assert (
            "on CUDA 12.8 hosts: CA401" in o["detail"] and "unsatisfied condition: cuda>=12.9" in o["detail"]
        )
    for name in WORKSTATION:  # admitted by a brand clause, but forward compatibility is unconfirmed
        o = by_gpu[name]
        assert o["runs_from_host_cuda"] == "12.9"
        assert "on CUDA 12.8 hosts: CA402" in o["detail"] and "error 804" in o["detail"]
    for name in DATACENTER:  # admitted by a brand clause, then forward compatibility
        o = by_gpu[name]
        assert o["runs_from_host_cuda"] == "12.2", name
        assert o["detail"].startswith("through forward compatibility on hosts with CUDA >= 12.2; ")
        assert "natively on hosts with CUDA >= 12.9" in o["detail"]
    # ranked by price, ties by the widest pool of hosts: L4 first at the 24 GB tier
    prices = [o["price_per_hour"] for o in offers]
    assert prices == sorted(prices)
    assert [o["gpu"] for o in offers[:3]] == ["L4", "GeForce RTX 3090", "RTX A5000"]
    assert offers[0]["price_per_hour"] == pytest.approx(0.684)
    assert all(f["source"].startswith("https://") for o in offers for f in o["facts"])


def test_runpod_scenario_text_names_the_cheapest_tier(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gpus", *RUNPOD]) == 0
    out = capsys.readouterr().out
    assert "cheapest that runs: $0.684/h: L4 on runpod, GeForce RTX 3090 on runpod, RTX A5000 on runpod" in (
        " ".join(out.split())
    )


_ROWS = [
    # provider, gpu, count, price, driver
    ("runpod", "RTX 4090", "1", "0.34", "570.133.20"),  # CUDA 12.8: the container does not start
    ("runpod", "L4", "1", "0.43", "580.95.05"),  # CUDA 13.0: native
    ("runpod", "A100", "1", "1.19", "550.127.05"),  # CUDA 12.4: forward compatibility
    ("runpod", "RTX A6000", "1", "0.49", ""),  # no driver: RunPod's pool of hosts from the shipped table
    ("mycloud", "RTX 3060", "1", "0.10", "580.95.05"),  # 12 GB: below --min-memory
]


def _yaml(path: Path) -> Path:
    lines = []
    for provider, gpu, count, price, driver in _ROWS:
        lines.append(f"- provider: {provider}\n  gpu: {gpu}\n  count: {count}\n  price: {price}")
        if driver:
            lines.append(f"  driver: '{driver}'")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _csv(path: Path) -> Path:
    rows = ["provider,gpu,count,price,driver", *(",".join(r) for r in _ROWS)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("write", [_yaml, _csv], ids=["yaml", "csv"])
def test_runpod_scenario_with_a_user_price_file(
    write: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prices = write(tmp_path / ("prices.yaml" if write is _yaml else "prices.csv"))
    before = prices.read_bytes()
    code, body = _gpus(capsys, *RUNPOD[:5], "--prices", str(prices))
    assert code == 0 and body["prices"] == str(prices)
    offers = body["offers"]
    assert [(o["gpu"], o["result"]) for o in offers] == [
        ("L4", "runs"),
        ("RTX A6000", "needs-host-filter"),
        ("A100 SXM4", "forward-compat"),
        ("GeForce RTX 4090", "fails"),
    ]
    assert [o["price_per_hour"] for o in offers] == [0.43, 0.49, 1.19, 0.34]
    assert offers[0]["driver"] == "580.95.05" and offers[0]["image"] == "your price file"
    assert offers[1]["runs_from_host_cuda"] == "12.9" and offers[1]["host_cuda_levels"]
    assert "CA401" in offers[3]["detail"] and offers[3]["verdict"] == "fails"
    assert prices.read_bytes() == before


def test_a_user_file_where_nothing_runs_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prices = tmp_path / "p.csv"
    prices.write_text("provider,gpu,count,price,driver\nx,RTX 4090,1,0.3,570.133.20\n", encoding="utf-8")
    code, body = _gpus(capsys, *RUNPOD[:5], "--prices", str(prices))
    assert code == 1 and [o["result"] for o in body["offers"]] == ["fails"]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "p.csv",
            "provider,gpu,count,price\nrunpod,L4,1,0.4\nrunpod,RTX 4090,1,abc\n",
            "p.csv:3: price 'abc' is not a number",
        ),
        (
            "p.csv",
            "provider,gpu,count,price\nrunpod,L4,two,0.4\n",
            "p.csv:2: count 'two' is not a whole number",
        ),
        ("p.csv", "provider,gpu,count,price\nrunpod,Voodoo 5,1,0.4\n", "p.csv:2: unknown GPU 'Voodoo 5'"),
        ("p.csv", "provider,gpu,count\nrunpod,L4,1\n", "p.csv:2: missing 'price'"),
        (
            "p.yaml",
            "- {provider: runpod, gpu: L4, price: 0.4}\n"
            "- {provider: runpod, gpu: L4, price: 0.5, driver: new}\n",
            "p.yaml: row 2: driver 'new' is not a driver version",
        ),
        ("p.yaml", "- {provider: runpod, gpu: L4, price: -1}\n", "p.yaml: row 1: price '-1' is out of range"),
        ("p.yaml", "provider: runpod\n", "p.yaml: expected a list of rows"),
        ("p.yaml", "- [unclosed\n", "p.yaml:2: not valid YAML"),
        ("p.csv", "", "p.csv: no rows"),
    ],
)
def test_a_bad_price_file_is_one_line_naming_the_row(
    name: str, text: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    err = _error(capsys, "vllm>=0.12", "--prices", str(path))
    assert err.startswith(f"cudalign: error: {tmp_path}/{expected}") and len(err.splitlines()) == 1


def test_min_memory_keeps_only_larger_gpus(capsys: pytest.CaptureFixture[str]) -> None:
    _, body = _gpus(capsys, "vllm>=0.12", "--provider", "runpod", "--min-memory", "80")
    gpus = {o["gpu"] for o in body["offers"]}
    assert gpus == {"A100 SXM4", "H100 SXM5", "H200 SXM", "B200"}
    assert all(o["memory_gb"] >= 80 for o in body["offers"])


def test_count_prices_the_whole_machine(capsys: pytest.CaptureFixture[str]) -> None:
    _, one = _gpus(capsys, "vllm>=0.12", "--provider", "runpod", "--min-memory", "80")
    _, two = _gpus(capsys, "vllm>=0.12", "--provider", "runpod", "--min-memory", "80", "--count", "2")
    single = {o["gpu"]: o["price_per_hour"] for o in one["offers"]}
    double = {o["gpu"]: o for o in two["offers"]}
    assert set(single) == set(double)
    for gpu, price in single.items():
        assert double[gpu]["count"] == 2 and double[gpu]["price_per_hour"] == pytest.approx(2 * price)


def test_provider_selects_and_an_unknown_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    _, body = _gpus(capsys, "torch", "--provider", "AWS", "--provider", "lambda")
    assert {o["provider"] for o in body["offers"]} == {"aws", "lambda"}
    aws = [o for o in body["offers"] if o["provider"] == "aws"]
    assert aws and all(o["driver"] and o["image"] for o in aws)
    err = _error(capsys, "torch", "--provider", "nosuch")
    assert err.splitlines()[0] == "cudalign: error: --provider nosuch: no offer matches"
    assert "runpod" in err


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [("--count", "0", "--count 0: must be at least 1"), ("--min-memory", "-4", "--min-memory -4: must be")],
)
def test_bad_flags_are_one_line(
    flag: str, value: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _error(capsys, "torch", flag, value)
    assert err.startswith(f"cudalign: error: {expected}") and len(err.splitlines()) == 1


def test_every_shipped_price_and_driver_has_a_source_and_a_date() -> None:
    from cudalign.facts import load

    facts = load()
    rows = [*facts.of_kind("cloud_price"), *facts.of_kind("cloud_driver")]
    assert {r["provider"] for r in rows} >= {"runpod", "lambda", "aws", "azure"}
    for r in rows:
        assert r.source.startswith("https://"), r.id
        assert r.checked is not None, r.id


def test_an_image_alone_is_a_question(capsys: pytest.CaptureFixture[str]) -> None:
    """A container that dies with ``unsatisfied condition: cuda>=12.8``: the user has only the image."""
    code, body = _gpus(capsys, "--image", "vllm/vllm-openai:v0.11.0", "--provider", "runpod")
    assert code == 0 and body["requirements"] == [] and body["image"] == "vllm/vllm-openai:v0.11.0"
    assert any(o["result"] in RUNS for o in body["offers"])
    main(["gpus", "--image", "vllm/vllm-openai:v0.11.0", "--provider", "runpod"])
    assert capsys.readouterr().out.startswith("asked: vllm/vllm-openai:v0.11.0\n")


def test_no_stack_at_all_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert _error(capsys).startswith("cudalign: error: give the stack: REQ")


def test_an_offer_whose_driver_is_unknown_is_not_said_to_run(capsys: pytest.CaptureFixture[str]) -> None:
    """Without the provider's driver only the GPU is judged: the driver stays a condition, never "runs"."""
    from cudalign.facts import load
    from cudalign.fleet.clouds import offers_from_facts

    unknown_driver = {o.provider for o in offers_from_facts(load()) if o.driver is None and not o.cuda_levels}
    assert unknown_driver, "the shipped table has providers whose stock driver is not stated"
    _, body = _gpus(capsys, "vllm==0.13.0", *(a for p in sorted(unknown_driver) for a in ("--provider", p)))
    assert body["offers"]
    for o in body["offers"]:
        assert o["result"] != "runs", o
        if o["result"] == "unknown":
            assert "runs if the driver >= " in o["detail"], o
