"""`fleet collect`: the JSON `cudalign doctor --json` wrote on several hosts, judged together.

Each file is written by the real ``doctor --json`` command, its probe answering a recorded host.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from cudalign.cli import main
from cudalign.model import host_from_json

HOSTS = Path(__file__).resolve().parents[1] / "hosts"
RECORDED = {  # file written -> (recorded host, hostname it reports or None for the default mask)
    "node-h100": ("h100", "gpu-h100-a"),
    "node-h200": ("h200x2", "gpu-h200-a"),
    "node-5090": ("rtx5090-driver570", None),
    "node-a100": ("driver470", None),
    "node-cpu": ("driver-no-gpu", "cpu-a"),
}


@pytest.fixture(scope="module")
def hosts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import cudalign.probe

    out = tmp_path_factory.mktemp("hosts")
    with pytest.MonkeyPatch.context() as mp:
        for file, (recorded, hostname) in RECORDED.items():
            host = host_from_json(json.loads((HOSTS / f"{recorded}.json").read_text(encoding="utf-8")))
            host = dataclasses.replace(host, hostname=hostname or "<hidden>")  # as the probe masks it
            mp.setattr(cudalign.probe, "probe", lambda _h=host, **_: _h)
            show = ["--show-hostname"] if hostname else []
            assert (
                main(["doctor", "--json", "--fail-on", "never", *show, "-o", str(out / f"{file}.json")]) == 0
            )
    return out


def _collect(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["fleet", "collect", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_a_directory_of_doctor_reports(hosts_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = {p.name: p.read_bytes() for p in hosts_dir.iterdir()}
    code, body = _collect(capsys, str(hosts_dir), "--check", "vllm==0.13.0")
    assert code == 1 and body["kind"] == "check" and body["verdict"] == "caveats"  # some nodes run it
    verdicts = {n: g["verdict"] for g in body["groups"] for n in g["nodes"]}  # type: ignore[attr-defined]
    # hidden hostnames fall back to the file's name, so every node is told apart
    assert verdicts == {
        "gpu-h100-a": "ok",
        "gpu-h200-a": "ok",
        "node-5090": "fails",  # sm_120 on R570: FlashAttention-2 has only CUDA 12.9 PTX (CA103)
        "node-a100": "fails",  # R470 (CA101)
    }
    assert body["non_gpu_nodes"] == 1 and body["lowest_driver"] == "470.256.02"
    assert body["affinity"] is None
    codes = {n: {f["code"] for f in g["findings"]} for g in body["groups"] for n in g["nodes"]}  # type: ignore[attr-defined]
    assert "CA103" in codes["node-5090"] and "CA101" in codes["node-a100"]
    assert {p.name: p.read_bytes() for p in hosts_dir.iterdir()} == before


def test_files_and_plan(hosts_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(hosts_dir / f"{n}.json") for n in ("node-h100", "node-5090", "node-a100")]
    code, body = _collect(capsys, *files, "--plan", "vllm>=0.12")
    assert code == 0 and body["kind"] == "plan" and body["matrix"] is not None
    upgraded = {n for u in body["upgrades"] for n in u["nodes"]}  # type: ignore[attr-defined]
    assert upgraded == {"node-5090", "node-a100"}
    assert main(["fleet", "collect", *files, "--plan", "vllm>=0.12"]) == 0
    out = capsys.readouterr().out
    assert "one matrix for every GPU node" in out and "runbook: cudalign runbook --driver" in out


def test_the_same_hostname_twice_names_the_files(
    hosts_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "h.json").write_bytes((hosts_dir / "node-h100.json").read_bytes())
    _, body = _collect(capsys, str(a), str(b), "--check", "torch==2.9.0")
    names = [n for g in body["groups"] for n in g["nodes"]]  # type: ignore[attr-defined]
    assert sorted(names) == ["gpu-h100-a", f"gpu-h100-a ({b / 'h.json'})"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"schema": "cudalign.doctor/1",\n "host": [1,\n', "bad.json:3: not valid JSON"),
        ('{"schema": "cudalign.plan/1"}', "bad.json: schema 'cudalign.plan/1' is not 'cudalign.host/1'"),
        (b"\xff\xfe{}", "bad.json: not valid JSON: not UTF-8 text"),
    ],
)
def test_a_malformed_file_is_one_line_naming_it(
    content: str | bytes, expected: str, hosts_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    code = main(["fleet", "collect", str(hosts_dir / "node-h100.json"), str(bad), "--check", "torch"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"cudalign: error: {tmp_path}/{expected}")


def test_a_directory_without_json_and_a_missing_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fleet", "collect", str(tmp_path), "--check", "torch"]) == 2
    assert capsys.readouterr().err.strip() == f"cudalign: error: {tmp_path}: no .json files in this directory"
    assert main(["fleet", "collect", str(tmp_path / "nope"), "--check", "torch"]) == 2
    assert (
        capsys.readouterr().err.strip() == f"cudalign: error: {tmp_path / 'nope'}: no such file or directory"
    )
