"""The snapshot file: round trip, atomic writes, and which snapshot (overlay or embedded) serves."""

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
    load_snapshot,
    overlay_path,
    parse_snapshot,
    snapshot_to_json,
    write_json_atomic,
)


def test_embedded_snapshot_round_trips() -> None:
    data = json.loads(EMBEDDED_PATH.read_text())
    snap = parse_snapshot(data, origin="embedded", path=str(EMBEDDED_PATH))
    assert snapshot_to_json(snap) == data


def test_embedded_snapshot_is_compact_and_covers_the_tracked_packages() -> None:
    from cudalign.facts.update import TRACKED

    assert EMBEDDED_PATH.stat().st_size < 3_000_000
    snap = load_snapshot(use_overlay=False)
    assert set(TRACKED) <= set(snap.packages)
    assert snap.release("torch", "2.9.0") is not None and snap.release("vllm", "0.13.0") is not None


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


def test_write_keeps_a_readable_mode(tmp_path: Path) -> None:
    target = tmp_path / "snap.json"
    write_json_atomic(target, {})
    assert target.stat().st_mode & 0o644 == 0o644


def test_overlay_lives_in_the_cache_dir(isolated_cache: Path) -> None:
    assert overlay_path() == isolated_cache / "pypi_snapshot.json"


def _tiny(generated: str) -> dict[str, Any]:
    return {
        "schema": "cudalign.snapshot/1",
        "generated": generated,
        "index": "https://pypi.org",
        "packages": {},
    }


def test_newer_overlay_wins_older_or_broken_one_does_not(isolated_cache: Path) -> None:
    embedded = load_snapshot(use_overlay=False)
    overlay = overlay_path()
    write_json_atomic(overlay, _tiny("2999-01-01T00:00:00+00:00"))
    assert load_snapshot().origin == "overlay"
    write_json_atomic(overlay, _tiny("2000-01-01T00:00:00+00:00"))
    assert load_snapshot().origin == "embedded"
    overlay.write_text("{not json")
    snap = load_snapshot()
    assert snap.origin == "embedded" and snap.generated == embedded.generated


def test_only_the_chosen_snapshot_is_parsed(isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each snapshot is a few MB: the dates are compared from the files' heads, one file is parsed."""
    parsed: list[str] = []
    real = snapmod.read_snapshot

    def spy(path: Path, origin: str) -> snapmod.Snapshot:
        parsed.append(origin)
        return real(path, origin)

    monkeypatch.setattr(snapmod, "read_snapshot", spy)
    write_json_atomic(overlay_path(), _tiny("2999-01-01T00:00:00+00:00"))
    assert load_snapshot().origin == "overlay" and parsed == ["overlay"]
    parsed.clear()
    write_json_atomic(overlay_path(), _tiny("2000-01-01T00:00:00+00:00"))
    assert load_snapshot().origin == "embedded" and parsed == ["embedded"]


def test_an_overlay_without_its_stamp_at_the_head_is_still_judged_by_its_date(isolated_cache: Path) -> None:
    data = _tiny("2999-01-01T00:00:00+00:00")
    text = json.dumps({"index": "https://pypi.org", "packages": {}, "schema": data["schema"]})
    text = text[:-1] + ", " + " " * 600 + f'"generated": "{data["generated"]}"}}'
    overlay_path().parent.mkdir(parents=True, exist_ok=True)
    overlay_path().write_text(text, encoding="utf-8")
    assert snapmod._generated_stamp(overlay_path()) is None
    assert load_snapshot().origin == "overlay"
    overlay_path().write_text(text.replace("2999", "2000"), encoding="utf-8")
    assert load_snapshot().origin == "embedded"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"schema": "other/1"}, "not a cudalign.snapshot/1 snapshot"),
        ({"schema": "cudalign.snapshot/1", "generated": "x", "index": "y"}, "malformed snapshot"),
        (
            {
                **_tiny("2026-01-01"),
                "packages": {"torch": {"checked": "x", "source": "y", "releases": {"1": {}}}},
            },
            None,
        ),
    ],
)
def test_parse_rejects_what_is_not_a_snapshot(data: dict[str, Any], message: str | None) -> None:
    if message is None:
        assert parse_snapshot(data, origin="overlay", path="p").release("torch", "1") is not None
        return
    with pytest.raises(InvalidFact, match=message):
        parse_snapshot(data, origin="overlay", path="p.json")


def test_a_malformed_release_is_named_when_looked_at() -> None:
    data = {
        **_tiny("2026-01-01"),
        "packages": {"x": {"checked": "c", "source": "s", "releases": {"1.0": {"wheels": [{}]}}}},
    }
    snap = parse_snapshot(data, origin="overlay", path="p.json")
    assert list(snap.releases("x")) == ["1.0"]
    with pytest.raises(InvalidFact, match=r"p.json: x: release 1.0: malformed"):
        snap.release("x", "1.0")


def test_missing_embedded_snapshot_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(snapmod, "EMBEDDED_PATH", tmp_path / "missing.json")
    with pytest.raises(InvalidFact, match="embedded snapshot is missing"):
        load_snapshot()
