"""``snapshot`` records this host and every distribution; ``diff`` compares snapshots, hosts and plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cudalign.cli import main
from cudalign.diff import diff, side_from_json
from cudalign.errors import InvalidInput
from cudalign.snapshot import read_distributions

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "tests" / "recordings" / "snapshots" / "build-machine-2026-12-03.json"
H200 = ROOT / "tests" / "hosts" / "h200x2.json"
H100 = ROOT / "tests" / "hosts" / "h100.json"


def load(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def test_read_distributions_reads_name_version_label_installer_and_direct_url(tmp_path: Path) -> None:
    for name, version, direct in (("torch", "2.9.0+cu128", None), ("mypkg", "1.0", "file:///src/mypkg")):
        d = tmp_path / f"{name}-{version}.dist-info"
        d.mkdir()
        (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody\n")
        (d / "INSTALLER").write_text("uv\n")
        if direct:
            (d / "direct_url.json").write_text(json.dumps({"url": direct, "dir_info": {"editable": True}}))
    dists = {d.name: d for d in read_distributions([tmp_path])}
    assert dists["torch"].label == "cu128" and dists["torch"].installer == "uv"
    assert dists["mypkg"].source == "file:///src/mypkg" and dists["mypkg"].label is None


def test_snapshot_command_writes_the_doctor_report_and_the_distributions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "snap.json"
    assert main(["snapshot", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "cudalign.env-snapshot/1" and doc["doctor"]["schema"] == "cudalign.doctor/1"
    names = {d["name"] for d in doc["distributions"]}
    assert {"packaging", "pytest"} <= names  # this interpreter's own
    assert doc["doctor"]["host"]["hostname"] in (None, "<hidden>")


def test_recorded_snapshot_against_the_recorded_h200_flags_reboot_and_rollback() -> None:
    d = diff(side_from_json(load(HERE), "here"), side_from_json(load(H200), "h200"))
    rows = {c.what: c for c in d.changes}
    assert rows["driver"].after == "580.159.04" and "reboot" in rows["driver"].needs
    assert rows["torch"].after == "2.11.0+cu130" and rows["torch"].rollback == "pip uninstall torch"
    assert rows["cudnn"].after == "9.19.0.56"
    assert "package:pytest" not in rows  # a host lists its GPU stack only: not compared beyond it
    assert set(d.needs) >= {"reboot", "rebuild"}


def test_two_hosts_and_the_rollback_steps() -> None:
    d = diff(side_from_json(load(H100), "h100"), side_from_json(load(H200), "h200"))
    rows = {c.what: c for c in d.changes}
    if "driver" in rows:
        assert rows["driver"].rollback and rows["driver"].rollback.startswith("reinstall driver")
    for c in d.changes:
        if c.what.startswith("package:") and c.before:
            assert c.rollback == f"{c.what.removeprefix('package:')}=={c.before}"


def test_a_host_and_a_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "vllm>=0.12", "--host", str(H200), "--json", "--fail-on", "never"]) == 0
    plan = tmp_path / "plan.json"
    plan.write_text(capsys.readouterr().out)
    assert main(["diff", str(H200), str(plan), "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("### cudalign diff") and "| vLLM | `-` |" in md and "#### Rollback" in md
    assert "new image" in md
    assert main(["diff", str(H200), str(plan), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "cudalign.diff/1" and "new image" in data["needs"]
    assert {c["what"] for c in data["changes"]} >= {"vllm", "image"}


def test_same_side_twice_has_no_changes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(H200), str(H200)]) == 0
    assert "no changes" in capsys.readouterr().out


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"schema": "cudalign.scan/1"}))
    assert main(["diff", str(bad), str(H200)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cudalign: error: {bad}: field schema:") and len(err.splitlines()) == 2
    with pytest.raises(InvalidInput, match="field matrices"):
        side_from_json({"schema": "cudalign.plan/1", "matrices": []}, "p")
