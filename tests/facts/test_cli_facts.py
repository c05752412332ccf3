"""``cudalign facts update|status|show`` end to end through ``main`` (offline; one online test)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from packaging.version import Version

from cudalign.cli import main
from cudalign.facts import snapshot as snapmod
from cudalign.facts.snapshot import (
    MANIFEST,
    PENDING,
    PackageHistory,
    Snapshot,
    load_snapshot,
    open_snapshot,
    overlay_path,
    write_snapshot,
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _newest(package: str) -> str:
    """The newest final release of a package in the embedded snapshot, as the data says."""
    versions = [Version(v) for v in load_snapshot(use_overlay=False).releases(package)]
    return str(max(v for v in versions if not v.is_prerelease))


def test_status_on_a_fresh_install_uses_the_embedded_snapshot(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "facts", "status")
    assert code == 0 and err == ""
    assert out.startswith("snapshot   embedded (")
    assert f"newest     torch {_newest('torch')}" in out and f"newest     vllm {_newest('vllm')}" in out
    assert "overlay    none yet" in out


def test_status_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "facts", "status", "--json")
    data = json.loads(out)
    assert code == 0 and data["schema"] == "cudalign.facts-status/1"
    assert data["origin"] == "embedded" and data["package_count"] == 18
    assert data["release_count"] == sum(p["releases"] for p in data["packages"].values())
    assert data["newest"] == {"torch": _newest("torch"), "vllm": _newest("vllm")}
    assert data["overlay"] == {"state": "none", "error": None, "pending": None}
    assert isinstance(data["toml_facts"], int) or data["toml_error"]


def test_status_warns_when_older_than_60_days(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    embedded = open_snapshot(snapmod.EMBEDDED_PATH, "embedded")
    old = Snapshot("2026-01-01T00:00:00+00:00", embedded.index, "embedded", "", embedded.packages)
    path = tmp_path / "old"
    write_snapshot(path, old)
    monkeypatch.setattr(snapmod, "EMBEDDED_PATH", path)
    code, out, err = run(capsys, "facts", "status")
    assert code == 0 and "STALE" in out
    assert err.count("days old") == 1 and "cudalign facts update" in err


def test_status_does_not_warn_when_fresh(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "facts", "status")
    assert code == 0 and "days old" not in err


def test_show_vllm_0130_prints_its_torch_pin_with_source(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "facts", "show", "vllm==0.13.0")
    assert code == 0
    assert "torch pin              torch==2.9.0" in out
    assert (
        "source: https://files.pythonhosted.org/" in out
        and "vllm-0.13.0-cp38-abi3-manylinux_2_31_x86_64.whl" in out
    )
    assert "glibc >= 2.31" in out and "requires-python  <3.14,>=3.10" in out


def test_show_torch_290_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "facts", "show", "torch==2.9.0", "--json")
    data = json.loads(out)
    assert code == 0 and data["schema"] == "cudalign.facts-show/1" and data["kind"] == "release"
    linux = {d["name"]: d for d in data["derived"] if d["platform"] == "linux_x86_64"}
    assert linux["CUDA runtime"]["value"] == "12.8"
    assert linux["cuDNN"]["value"] == "9.10.2.21"
    assert linux["NCCL"]["value"] == "2.27.5"
    assert "torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64.whl" in linux["CUDA runtime"]["source"]
    assert set(data["platforms"]) == {"linux_x86_64", "linux_aarch64", "windows", "macos"}


def test_show_package_lists_releases_newest_first(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "facts", "show", "vllm", "--json")
    rows = json.loads(out)["releases"]
    assert code == 0 and rows[0]["version"] == max((r["version"] for r in rows), key=Version)
    assert next(r for r in rows if r["version"] == "0.13.0")["headline"] == "torch==2.9.0"


def test_show_a_shipped_fact_by_id(capsys: pytest.CaptureFixture[str]) -> None:
    from cudalign.facts import load

    fact = next(iter(load(snapshot=load_snapshot())))
    code, out, _ = run(capsys, "facts", "show", fact.id)
    assert code == 0
    assert out.startswith(fact.id) and f"source: {fact.source}" in out and f"checked: {fact.checked}" in out
    code, out, _ = run(capsys, "facts", "show", fact.id, "--json")
    data = json.loads(out)
    assert data["kind"] == "fact" and data["id"] == fact.id and set(data["values"]) == set(fact.values)


def test_show_prints_values_as_the_toml_spells_them(capsys: pytest.CaptureFixture[str]) -> None:
    """Versions are shown as written (a driver 580.65.06 keeps its zero), not as packaging normalises them."""
    from cudalign.facts import load

    facts = load(snapshot=load_snapshot())
    fact = next(
        (
            f
            for f in facts
            if any(isinstance(v, Version) and str(v) != _raw(f, k) for k, v in f.values.items())
        ),
        None,
    )
    assert fact is not None  # e.g. cuda.major.13's mvc_floor_linux = "580.65.06"
    key = next(k for k, v in fact.values.items() if isinstance(v, Version) and str(v) != _raw(fact, k))
    code, out, _ = run(capsys, "facts", "show", fact.id, "--json")
    assert code == 0 and json.loads(out)["values"][key] == _raw(fact, key)


def _raw(fact: object, key: str) -> str:
    from cudalign.facts import DATA_DIR, _toml_loads

    raw = _toml_loads((DATA_DIR / fact.file).read_text())  # type: ignore[attr-defined]
    entry = next(e for e in raw[fact.kind] if e["id"] == fact.id)  # type: ignore[attr-defined]
    return str(entry[key])


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("vllm==0.0.0.999", "vllm==0.0.0.999: not a release in the PyPI snapshot"),
        ("nosuchpkg==1.0", "unknown package 'nosuchpkg'"),
        ("no.such.fact", "unknown fact id or package 'no.such.fact'"),
    ],
)
def test_show_unknown_is_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], what: str, message: str
) -> None:
    code, out, err = run(capsys, "facts", "show", what)
    assert code == 2 and out == ""
    first = err.splitlines()[0]
    assert first.startswith("cudalign: error: ") and message in first
    assert "Traceback" not in err


def test_update_offline_says_so_once_and_keeps_the_embedded_snapshot(
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    code, out, err = run(capsys, "facts", "update", "--index", "http://127.0.0.1:9")  # nothing listens there
    assert time.monotonic() - started < 10  # nothing hangs
    assert code == 1
    assert err.count("offline") == 1 and "keeping the embedded snapshot" in err
    assert not overlay_path().exists()
    code, out, _ = run(capsys, "facts", "status")
    assert "snapshot   embedded" in out


def _overlay_from_embedded() -> None:
    """A complete user overlay: the embedded snapshot, as a finished 'facts update' would leave it."""
    embedded = open_snapshot(snapmod.EMBEDDED_PATH, "embedded")
    write_snapshot(overlay_path(), embedded)


def _strip_vllm_metadata(snap: Snapshot) -> Snapshot:
    """What an update interrupted while re-reading vLLM holds: its releases, without their metadata."""
    from cudalign.facts.snapshot import Release

    vllm = snap.packages["vllm"]
    bare = {
        v: Release(v, r.uploaded, r.yanked, r.requires_python, r.wheels) for v, r in vllm.releases.items()
    }
    packages = {n: snap.packages[n] for n in snap.packages}
    packages["vllm"] = PackageHistory("vllm", vllm.checked, vllm.source, bare)
    return Snapshot(snap.generated, snap.index, snap.origin, snap.path, packages, snap.checked)


CHECK = ("check", "vllm==0.13.0", "--gpu", "H100", "--driver", "580.95.05")


def test_an_interrupted_update_leaves_every_command_on_the_last_complete_snapshot(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _overlay_from_embedded()
    first, before, _ = run(capsys, *CHECK)
    assert "torch 2.9.0" in before and "cuDNN" in before
    partial = _strip_vllm_metadata(open_snapshot(overlay_path(), "overlay"))
    write_snapshot(overlay_path(), partial, pending=True, unfinished=["vllm"])
    snapmod._noticed.clear()
    code, out, err = run(capsys, *CHECK)
    assert code == first and out == before  # the torch and cuDNN lines are still there
    lines = err.splitlines()
    assert len(lines) == 1 and "update of the PyPI snapshot is pending" in lines[0]
    _, out, _ = run(capsys, "facts", "status")
    assert "pending    an interrupted update (vllm unfinished)" in out


@pytest.mark.parametrize("damage", ["truncate", "delete-manifest"])
def test_status_says_corrupt_not_none_yet(capsys: pytest.CaptureFixture[str], damage: str) -> None:
    _overlay_from_embedded()
    manifest = json.loads((overlay_path() / MANIFEST).read_text())
    if damage == "truncate":
        torch = overlay_path() / manifest["packages"]["torch"]["file"]
        torch.write_bytes(torch.read_bytes()[:1000])
    else:
        (overlay_path() / MANIFEST).unlink()
    code, out, err = run(capsys, "facts", "status", "--json")
    data = json.loads(out)
    assert code == 0 and data["origin"] == "embedded" and data["overlay"]["state"] == "corrupt"
    assert "corrupt" in err and "cudalign facts update" in err
    code, out, _ = run(capsys, "facts", "status")
    assert "overlay    corrupt (" in out and "none yet" not in out
    assert not (overlay_path() / PENDING).exists()


def test_update_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "facts", "update", "--since", "yesterday")
    assert code == 2 and "--since 'yesterday': not a date" in err


def test_facts_without_subcommand_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "facts")
    assert code == 2 and "update" in err and "status" in err


@pytest.mark.online
def test_live_update_of_one_package(capsys: pytest.CaptureFixture[str], isolated_cache: Path) -> None:
    """Real PyPI: faster-whisper is small; retried once, each request times out after 10 s."""
    for attempt in range(2):
        code, out, err = run(capsys, "facts", "update", "faster-whisper", "--full", "--json")
        if code == 0:
            break
        time.sleep(2 * (attempt + 1))
    assert code == 0, err
    data = json.loads(out)
    assert data["schema"] == "cudalign.facts-update/1"
    pkg = data["packages"][0]
    assert pkg["name"] == "faster-whisper" and pkg["status"] == "updated" and pkg["releases"] >= 21
    snap = load_snapshot()
    assert snap.origin == "overlay" and Path(snap.path) == isolated_cache / "pypi_snapshot"
    release = snap.release("faster-whisper", "1.2.1")
    assert release is not None and "any" in release.metadata
    assert any(r.startswith("ctranslate2") for r in release.metadata["any"].requires_dist)
