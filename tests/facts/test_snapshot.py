"""The snapshot directory: round trip, atomic switch of the whole set, validation, and which one serves."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cudalign.errors import InvalidFact
from cudalign.facts import snapshot as snapmod
from cudalign.facts.snapshot import (
    EMBEDDED_PATH,
    MANIFEST,
    PENDING,
    MetadataRecord,
    PackageHistory,
    Release,
    Snapshot,
    Wheel,
    load_snapshot,
    open_snapshot,
    overlay_path,
    overlay_state,
    set_notice_handler,
    verify_snapshot,
    write_json_atomic,
    write_snapshot,
)


def _release(version: str, uploaded: str = "2026-01-02", requires: tuple[str, ...] = ()) -> Release:
    wheel = Wheel(f"pkg-{version}-py3-none-any.whl", ("py3",), ("none",), ("any",))
    meta = {"any": MetadataRecord(wheel.filename, f"https://x/{wheel.filename}", "pep658", requires)}
    return Release(version, uploaded, False, ">=3.10", (wheel,), meta)


def _snapshot(generated: str, **packages: dict[str, Release]) -> Snapshot:
    histories = {
        name: PackageHistory(name, "2026-01-03T00:00:00+00:00", f"https://pypi.org/pypi/{name}/json", rels)
        for name, rels in packages.items()
    }
    return Snapshot(generated, "https://pypi.org", "overlay", "", histories, "2026-01-03T00:00:00+00:00")


@pytest.fixture
def notices() -> Any:
    seen: list[str] = []
    old = set_notice_handler(seen.append)
    snapmod._noticed.clear()
    yield seen
    set_notice_handler(old)


def test_embedded_snapshot_round_trips_byte_for_byte(tmp_path: Path) -> None:
    """Decoding a package file and encoding it again gives the same bytes (so the same content hash)."""
    embedded = open_snapshot(EMBEDDED_PATH, "embedded")
    copy = {
        n: PackageHistory(h.name, h.checked, h.source, dict(h.releases), h.newest_upload)
        for n, h in embedded.packages.items()
    }
    write_snapshot(
        tmp_path, Snapshot(embedded.generated, embedded.index, "embedded", "", copy, embedded.checked)
    )
    theirs = json.loads((EMBEDDED_PATH / MANIFEST).read_text())["packages"]
    mine = json.loads((tmp_path / MANIFEST).read_text())["packages"]
    assert {n: e["sha256"] for n, e in mine.items()} == {n: e["sha256"] for n, e in theirs.items()}


def test_embedded_snapshot_is_compact_and_covers_the_tracked_packages() -> None:
    from cudalign.facts.update import TRACKED

    assert sum(p.stat().st_size for p in EMBEDDED_PATH.iterdir()) < 3_500_000
    snap = verify_snapshot(EMBEDDED_PATH, origin="embedded")
    assert set(TRACKED) <= set(snap.packages)
    assert snap.release("torch", "2.9.0") is not None and snap.release("vllm", "0.13.0") is not None
    assert not (EMBEDDED_PATH / PENDING).exists()
    assert all(not h.http for h in snap.packages.values())  # no validators shipped: they describe no cache


def test_embedded_stamp_is_the_newest_upload_it_holds_not_the_wall_clock() -> None:
    import datetime as dt

    snap = open_snapshot(EMBEDDED_PATH, "embedded")
    newest = [dt.datetime.fromisoformat(h.newest_upload or "") for h in snap.packages.values()]
    assert snap.generated_at == max(newest)
    uploads = {r.uploaded for h in snap.packages.values() for r in h.releases.values() if r.uploaded}
    assert max(uploads) <= snap.generated[:10]  # no release is newer than the stamp
    assert snap.checked is not None and snap.checked >= snap.generated


def test_a_command_decodes_only_the_packages_it_asks_about(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[str] = []
    real = snapmod._read_package

    def spy(directory: Path, name: str, entry: Any) -> Any:
        read.append(name)
        return real(directory, name, entry)

    monkeypatch.setattr(snapmod, "_read_package", spy)
    snap = load_snapshot()
    assert read == [] and "torch" in snap.packages and len(snap.packages) >= 18
    assert snap.release("vllm", "0.13.0") is not None
    assert read == ["vllm"]


def test_write_is_atomic_a_crash_mid_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "snap.json"
    write_json_atomic(target, {"v": 1})

    def crash(obj: Any, fh: Any, **kw: Any) -> None:
        fh.write('{"v": 2, "half')
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", crash)
    with pytest.raises(OSError, match="disk full"):
        write_json_atomic(target, {"v": 2})
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"v": 1}
    assert os.listdir(tmp_path) == ["snap.json"]  # the temporary file is gone too


def test_the_whole_set_switches_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash after the new package files but before the new manifest leaves the old set whole."""
    old = _snapshot("2026-01-02T00:00:00+00:00", a={"1": _release("1")}, b={"1": _release("1")})
    write_snapshot(tmp_path, old)
    new = _snapshot("2026-02-02T00:00:00+00:00", a={"2": _release("2")}, b={"2": _release("2")})
    real = snapmod.write_json_atomic

    def crash(path: Path, data: Any, **kw: Any) -> None:
        raise OSError("killed")

    monkeypatch.setattr(snapmod, "write_json_atomic", crash)
    with pytest.raises(OSError, match="killed"):
        write_snapshot(tmp_path, new)
    seen = verify_snapshot(tmp_path)
    assert set(seen.releases("a")) == {"1"} and set(seen.releases("b")) == {"1"}
    monkeypatch.setattr(snapmod, "write_json_atomic", real)
    write_snapshot(tmp_path, new)
    seen = verify_snapshot(tmp_path)
    assert set(seen.releases("a")) == {"2"} and set(seen.releases("b")) == {"2"}
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([MANIFEST, *(e["file"] for e in _manifest(tmp_path)["packages"].values())])


def test_a_reader_of_the_old_set_follows_the_manifest_after_a_switch(tmp_path: Path) -> None:
    write_snapshot(tmp_path, _snapshot("2026-01-02T00:00:00+00:00", a={"1": _release("1")}))
    reader = open_snapshot(tmp_path, "overlay")  # opened, nothing decoded yet
    write_snapshot(tmp_path, _snapshot("2026-02-02T00:00:00+00:00", a={"2": _release("2")}))
    assert set(reader.releases("a")) == {"2"}  # its file was collected; the current one is read


def _manifest(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / MANIFEST).read_text())
    return data


def test_overlay_lives_in_the_cache_dir(isolated_cache: Path) -> None:
    assert overlay_path() == isolated_cache / "pypi_snapshot"


def test_newer_overlay_wins_older_one_does_not() -> None:
    write_snapshot(overlay_path(), _snapshot("2999-01-01T00:00:00+00:00", a={"1": _release("1")}))
    assert load_snapshot().origin == "overlay"
    assert overlay_state().state == "ok"
    write_snapshot(overlay_path(), _snapshot("2000-01-01T00:00:00+00:00", a={"1": _release("1")}))
    assert load_snapshot().origin == "embedded"
    assert overlay_state().state == "older"


def _package_file(directory: Path, name: str) -> Path:
    return directory / str(_manifest(directory)["packages"][name]["file"])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / MANIFEST).write_text("{not json"), "cannot read"),
        (
            lambda d: (d / MANIFEST).write_text('{"schema": "cudalign.snapshot/1"}'),
            "not a cudalign.snapshot/2",
        ),
        (lambda d: _package_file(d, "a").unlink(), "missing"),
        (lambda d: _package_file(d, "a").write_bytes(_package_file(d, "a").read_bytes()[:-9]), "corrupt"),
        (lambda d: (d / MANIFEST).unlink(), "index.json: missing"),
    ],
    ids=[
        "manifest-not-json",
        "manifest-old-schema",
        "package-deleted",
        "package-truncated",
        "manifest-deleted",
    ],
)
def test_a_damaged_overlay_is_corrupt_and_the_embedded_snapshot_serves(
    damage: Any, message: str, notices: list[str]
) -> None:
    write_snapshot(overlay_path(), _snapshot("2999-01-01T00:00:00+00:00", a={"1": _release("1")}))
    damage(overlay_path())
    state = overlay_state()
    assert state.state == "corrupt" and message in (state.error or "")
    snap = load_snapshot()
    assert snap.origin == "embedded"
    load_snapshot()
    assert len(notices) == 1 and "corrupt" in notices[0] and "cudalign facts update" in notices[0]


def test_a_package_changed_in_place_fails_its_checksum_when_read() -> None:
    write_snapshot(overlay_path(), _snapshot("2999-01-01T00:00:00+00:00", a={"1": _release("1")}))
    path = _package_file(overlay_path(), "a")
    path.write_bytes(path.read_bytes().replace(b"pep658", b"pep659"))  # same size, other content
    assert overlay_state().state == "ok"  # the cheap check every command makes: sizes only
    assert overlay_state(deep=True).state == "corrupt"  # what status and update check
    with pytest.raises(InvalidFact, match="corrupt"):
        load_snapshot().packages["a"]


def test_an_update_in_progress_is_never_used_and_is_said_once(notices: list[str]) -> None:
    complete = _snapshot("2999-01-01T00:00:00+00:00", a={"1": _release("1")})
    write_snapshot(overlay_path(), complete)
    partial = _snapshot("2999-02-01T00:00:00+00:00", a={"1": _release("1"), "2": _release("2")})
    write_snapshot(overlay_path(), partial, pending=True, unfinished=["a"])
    for _ in range(3):
        snap = load_snapshot()
        assert snap.origin == "overlay" and set(snap.releases("a")) == {"1"}
    assert len(notices) == 1 and "pending" in notices[0] and "2999-01-01" in notices[0]
    assert overlay_state().pending == ("a",)


def test_parse_rejects_a_package_file_that_is_not_one(tmp_path: Path) -> None:
    write_snapshot(tmp_path, _snapshot("2026-01-02T00:00:00+00:00", a={"1": _release("1")}))
    with pytest.raises(InvalidFact, match="malformed package file"):
        snapmod.parse_package({"releases": {"1": []}}, where="p.json")


def test_a_malformed_release_is_named_when_looked_at() -> None:
    releases = snapmod.parse_package({"releases": {"1.0": {"wheels": [{}]}}}, where="p.json: x")
    assert list(releases) == ["1.0"]
    with pytest.raises(InvalidFact, match=r"p.json: x: release 1.0: malformed"):
        releases["1.0"]


def test_missing_embedded_snapshot_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(snapmod, "EMBEDDED_PATH", tmp_path / "missing")
    with pytest.raises(InvalidFact, match="embedded snapshot is missing"):
        load_snapshot()


def test_a_command_decodes_only_the_releases_it_looks_at(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[str] = []
    real = snapmod._Slices.__getitem__

    def spy(self: snapmod._Slices, version: str) -> Any:
        decoded.append(version)
        return real(self, version)

    monkeypatch.setattr(snapmod._Slices, "__getitem__", spy)
    snap = load_snapshot()
    assert snap.release("torch", "2.9.0") is not None and len(snap.releases("torch")) > 1
    assert decoded == ["2.9.0"]


def test_byte_spans_that_do_not_cut_the_file_where_its_json_does_are_corrupt() -> None:
    write_snapshot(
        overlay_path(), _snapshot("2999-01-01T00:00:00+00:00", a={"1": _release("1"), "2": _release("2")})
    )
    manifest = _manifest(overlay_path())
    spans = manifest["packages"]["a"]["spans"]
    spans["1"], spans["2"] = spans["2"], spans["1"]  # each version now reads the other's release
    write_json_atomic(overlay_path() / MANIFEST, manifest)
    assert overlay_state().state == "ok"  # sizes and names still agree
    state = overlay_state(deep=True)
    assert state.state == "corrupt" and "do not match" in (state.error or "")
    spans["1"] = [spans["1"][0] + 1, spans["1"][1]]
    write_json_atomic(overlay_path() / MANIFEST, manifest)
    with pytest.raises(InvalidFact, match="release 1: corrupt"):
        load_snapshot().release("a", "1")
