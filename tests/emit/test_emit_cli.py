"""``plan --emit KIND`` and ``render PLAN.json --emit KIND`` write the same files; bad input is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cudalign.cli import main
from cudalign.cli.emit_output import EMIT_KINDS
from cudalign.emit import KINDS
from emit.scenarios import SCENARIOS, host_flags, scenario_source

A = "a-rtx6000ada-550"


def plan_json(tmp_path: Path, capsys: pytest.CaptureFixture[str], scenario: str = A) -> Path:
    reqs = SCENARIOS[scenario][0]
    assert main(["plan", *reqs, *host_flags(scenario), "--json", "--fail-on", "never"]) == 0
    path = tmp_path / "plan.json"
    path.write_text(capsys.readouterr().out, encoding="utf-8")
    return path


def test_the_cli_offers_every_emitter() -> None:
    assert set(EMIT_KINDS) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_render_of_a_saved_plan_writes_what_plan_emit_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    saved = plan_json(tmp_path, capsys)
    assert main(["plan", *SCENARIOS[A][0], *host_flags(A), "--emit", kind, "-o", str(tmp_path / "a")]) == 0
    assert main(["render", str(saved), "--emit", kind, "-o", str(tmp_path / "b")]) == 0
    written = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert written and written == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in written:
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_emit_without_o_prints_the_main_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", *SCENARIOS[A][0], *host_flags(A), "--emit", "dockerfile"]) == 0
    out = capsys.readouterr().out
    image = scenario_source(A).image
    assert out.startswith("# syntax=docker/dockerfile:1") and f"\nFROM {image} AS runtime\n" in out


def test_a_file_cudalign_did_not_make_is_not_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM mine\n")
    code = main(["plan", *SCENARIOS[A][0], *host_flags(A), "--emit", "dockerfile", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Dockerfile exists and was not made by cudalign" in err
    assert (tmp_path / "Dockerfile").read_text() == "FROM mine\n"


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.update(schema="cudalign.plan/0"), "plan field schema"),
        (lambda d: d["matrices"][0].update(tensor_cores=True), "plan field matrices[0].tensor_cores"),
        (lambda d: d["matrices"][0].pop("image"), "plan field matrices[0].image: missing"),
        (
            lambda d: d["matrices"][0].update(requirements=["vllm>=0.13"]),
            "plan field matrices[0].requirements[0]",
        ),
        (lambda d: d["matrices"][0].update(driver_change="no"), "plan field matrices[0].driver_change"),
        (lambda d: d.update(matrices=[]), "plan field matrices: empty"),
        (lambda d: d["host"].update(gpus="many"), "plan field host.gpus"),
        (lambda d: d.update(extra=1), "plan field extra: unknown"),
    ],
)
def test_a_hand_edited_plan_is_one_line_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: object, field: str
) -> None:
    saved = plan_json(tmp_path, capsys)
    doc = json.loads(saved.read_text())
    edit(doc)  # type: ignore[operator]
    saved.write_text(json.dumps(doc))
    assert main(["render", str(saved), "--emit", "requirements"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cudalign: error: {saved}: {field}") and "Traceback" not in err


def test_render_picks_a_matrix_by_label(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = plan_json(tmp_path, capsys)
    assert main(["render", str(saved), "--emit", "requirements", "--matrix", "B"]) == 0
    assert "matrix B" in capsys.readouterr().out
    assert main(["render", str(saved), "--emit", "requirements", "--matrix", "Z"]) == 2
    assert "--matrix Z: the plan has matrices A, B" in capsys.readouterr().err


def test_render_of_a_file_that_is_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text("{nope")
    assert main(["render", str(bad), "--emit", "k8s"]) == 2
    assert capsys.readouterr().err.startswith(f"cudalign: error: {bad}:1: not valid JSON")


def test_hashes_without_uv_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["plan", *SCENARIOS[A][0], *host_flags(A), "--emit", "requirements", "--hashes"]) == 2
    err = capsys.readouterr().err
    assert "uv is not installed" in err and "cudalign[resolve]" in err
