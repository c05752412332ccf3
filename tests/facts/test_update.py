"""``facts update`` on recorded PyPI answers: reads, reuse, resume, conditional requests, offline."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from cudalign.errors import NetworkError
from cudalign.facts.pypi import DistFile, PyPIClient, ReplayDoor, Response
from cudalign.facts.snapshot import (
    MANIFEST,
    PENDING,
    MetadataRecord,
    PackageHistory,
    Release,
    Snapshot,
    open_snapshot,
    read_snapshot,
)
from cudalign.facts.update import TRACKED, UpdateResult, pick_wheels, platform_key, update

RECORDINGS = Path(__file__).parents[1] / "recordings" / "pypi"
SINCE = dt.date(2025, 8, 1)  # as recorded: metadata of faster-whisper 1.2.0 and 1.2.1
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.timezone.utc)


def client(door: object) -> PyPIClient:
    return PyPIClient(door, tail_bytes=1024, sleep=lambda s: None)  # type: ignore[arg-type]


def run(out: Path, door: object, **kw: object) -> UpdateResult:
    return update(
        ["faster-whisper"],
        base=kw.pop("base", None),  # type: ignore[arg-type]
        out=out,
        client=client(door),
        since=kw.pop("since", SINCE),  # type: ignore[arg-type]
        jobs=1,
        progress=False,
        now=lambda: NOW,
        **kw,  # type: ignore[arg-type]
    )


def _recorded_newest_upload() -> str:
    """The newest upload time on the recorded faster-whisper JSON page."""
    door = ReplayDoor(RECORDINGS)
    page = door.get("https://pypi.org/pypi/faster-whisper/json", {"Accept": "application/json"}, 1)
    times = [f["upload_time_iso_8601"] for files in json.loads(page.body)["releases"].values() for f in files]
    newest = max(dt.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in times)
    return newest.replace(microsecond=0).isoformat()


def test_update_reads_releases_and_metadata_from_the_index(tmp_path: Path) -> None:
    door = ReplayDoor(RECORDINGS)
    out = tmp_path / "snap"
    result = run(out, door)
    snap = read_snapshot(out, "overlay")
    history = snap.packages["faster-whisper"]
    assert len(history.releases) == 21
    rel = history.releases["1.2.1"]
    assert rel.uploaded == "2025-10-31" and rel.requires_python == ">=3.9" and not rel.yanked
    assert [w.filename for w in rel.wheels] == ["faster_whisper-1.2.1-py3-none-any.whl"]
    assert rel.wheels[0].platforms == ("any",)
    record = rel.metadata["any"]
    assert record.via == "range"  # its .metadata is advertised but 404s on this index
    assert "ctranslate2<5,>=4.0" in record.requires_dist
    assert history.releases["1.1.1"].metadata == {}  # before --since: not read
    assert snap.generated == _recorded_newest_upload()  # the newest data it holds, not the wall clock
    assert snap.checked == NOW.isoformat() and history.checked == NOW.isoformat()
    assert result.packages[0].metadata_read == 2
    assert not (out / PENDING).exists()


def test_the_stamp_of_a_partial_update_is_the_newest_data_of_all_its_packages(tmp_path: Path) -> None:
    out = tmp_path / "snap"
    newer = Release("9.9", "2999-01-01")
    base = Snapshot(
        "2999-01-01T00:00:00+00:00",
        "https://pypi.org",
        "overlay",
        "",
        {"other": PackageHistory("other", "c", "s", {"9.9": newer}, "2999-01-01T05:00:00+00:00")},
    )
    run(out, ReplayDoor(RECORDINGS), base=base)
    snap = read_snapshot(out, "overlay")
    assert snap.generated == "2999-01-01T05:00:00+00:00" and set(snap.packages) == {"other", "faster-whisper"}


def test_package_files_are_compact_json(tmp_path: Path) -> None:
    out = tmp_path / "snap"
    run(out, ReplayDoor(RECORDINGS))
    entry = json.loads((out / MANIFEST).read_text())["packages"]["faster-whisper"]
    text = (out / entry["file"]).read_text()
    assert text.count("\n") == 1 and '": ' not in text  # no indentation, no padding


class Interrupting:
    """A replay door that dies (not a network error: a crash) at the n-th wheel range read."""

    def __init__(self, inner: ReplayDoor, after: int) -> None:
        self.inner, self.after = inner, after

    def get(self, url: str, headers: Mapping[str, str], timeout: float) -> Response:
        if url.endswith(".whl") and headers.get("Range") == "bytes=-1024":
            self.after -= 1
            if self.after < 0:
                raise RuntimeError("killed")
        return self.inner.get(url, headers, timeout)


@pytest.mark.parametrize("checkpoint_s", [0.0, 1e9], ids=["periodic-checkpoint", "saved-on-interrupt"])
def test_interrupted_update_resumes_from_its_checkpoint(tmp_path: Path, checkpoint_s: float) -> None:
    out = tmp_path / "snap"
    run(out, ReplayDoor(RECORDINGS), since=dt.date(2030, 1, 1))  # a complete snapshot without metadata
    complete = (out / MANIFEST).read_bytes()
    with pytest.raises(RuntimeError, match="killed"):
        run(out, Interrupting(ReplayDoor(RECORDINGS), after=1), checkpoint_s=checkpoint_s)
    assert (out / MANIFEST).read_bytes() == complete  # the complete snapshot is untouched
    pending = open_snapshot(out, "overlay", manifest=PENDING)
    assert pending.unfinished == ("faster-whisper",)
    assert not pending.packages["faster-whisper"].http  # its page must be read again on resume
    partial = pending.packages["faster-whisper"].releases
    done = [v for v in ("1.2.0", "1.2.1") if partial[v].metadata]
    assert len(done) == 1  # the checkpoint holds the one read that finished
    door = ReplayDoor(RECORDINGS)
    run(out, door, base=read_snapshot(out, "overlay"))  # resumes from the checkpoint, not from this base
    wheel_reads = {u.rsplit("/", 1)[1] for u, _ in door.requests if ".whl" in u}
    assert wheel_reads and not any(done[0] in w for w in wheel_reads)  # the finished read is not redone
    assert not (out / PENDING).exists()
    assert all(
        read_snapshot(out, "overlay").packages["faster-whisper"].releases[v].metadata
        for v in ("1.2.0", "1.2.1")
    )


def test_resuming_finishes_the_unfinished_packages_even_when_others_are_asked_for(tmp_path: Path) -> None:
    out = tmp_path / "snap"
    with pytest.raises(RuntimeError, match="killed"):
        run(out, Interrupting(ReplayDoor(RECORDINGS), after=1), checkpoint_s=0.0)

    class Known(ReplayDoor):  # an index that knows faster-whisper only
        def get(self, url: str, headers: Mapping[str, str], timeout: float) -> Response:
            return super().get(url, headers, timeout) if "torch" not in url else Response(url, 404)

    door = Known(RECORDINGS)
    result = update(
        ["torch"],
        base=None,
        out=out,
        client=client(door),
        since=SINCE,
        jobs=1,
        progress=False,
        now=lambda: NOW,
    )
    assert [p.name for p in result.packages] == ["torch", "faster-whisper"]
    assert result.packages[0].status == "kept" and result.packages[1].status == "updated"
    assert not (out / PENDING).exists() and (out / MANIFEST).exists()


def test_warm_run_reuses_metadata_already_read(tmp_path: Path) -> None:
    out = tmp_path / "snap"
    run(out, ReplayDoor(RECORDINGS))
    door = ReplayDoor(RECORDINGS)
    result = run(out, door, base=read_snapshot(out, "overlay"))
    assert not [u for u, _ in door.requests if ".whl" in u]  # no wheel or .metadata read again
    assert result.packages[0].metadata_reused == 2


def test_same_serial_and_complete_history_reads_only_the_json_page(tmp_path: Path) -> None:
    out = tmp_path / "snap"
    run(out, ReplayDoor(RECORDINGS))
    base = _complete_base(out)  # as if every release had been read, with the serial stored
    door = ReplayDoor(RECORDINGS)
    result = run(out, door, base=base)
    assert [u for u, _ in door.requests] == ["https://pypi.org/pypi/faster-whisper/json"]
    assert result.packages[0].status == "unchanged"


def _complete_base(out: Path, **http: object) -> Snapshot:
    snap = read_snapshot(out, "overlay")
    history = snap.packages["faster-whisper"]
    filler = MetadataRecord("f.whl", "https://x/f.whl", "range", ())
    complete = {
        v: Release(
            r.version, r.uploaded, r.yanked, r.requires_python, r.wheels, {"any": filler, **r.metadata}
        )
        for v, r in history.releases.items()
    }
    stored = {**history.http, **http}
    histories = {
        "faster-whisper": PackageHistory(
            history.name, history.checked, history.source, complete, history.newest_upload, stored
        )
    }
    return Snapshot(snap.generated, snap.index, "overlay", str(out), histories)


def test_changed_serial_is_an_update_even_when_the_simple_page_fails(tmp_path: Path) -> None:
    class NoSimple(ReplayDoor):
        def get(self, url: str, headers: Mapping[str, str], timeout: float) -> Response:
            if "/simple/" in url:
                raise NetworkError(f"{url}: no answer within 10 s")
            return super().get(url, headers, timeout)

    out = tmp_path / "snap"
    run(out, ReplayDoor(RECORDINGS))
    base = _complete_base(out, serial=1)  # the index has moved on since
    result = run(out, NoSimple(RECORDINGS), base=base)
    assert result.packages[0].status == "updated"
    assert result.packages[0].metadata_reused == 21


class ETagDoor:
    """Adds an ETag to the JSON page and answers 304 to a request that quotes it."""

    def __init__(self, inner: ReplayDoor) -> None:
        self.inner = inner
        self.asked: list[tuple[str, Mapping[str, str]]] = []

    def get(self, url: str, headers: Mapping[str, str], timeout: float) -> Response:
        self.asked.append((url, dict(headers)))
        if url.endswith("/json"):
            if headers.get("If-None-Match") == '"v1"':
                return Response(url, 304, {"etag": '"v1"'})
            r = self.inner.get(url, headers, timeout)
            return Response(r.url, r.status, {**r.headers, "etag": '"v1"'}, r.body)
        return self.inner.get(url, headers, timeout)


def test_unchanged_project_answers_304_and_keeps_its_releases(tmp_path: Path) -> None:
    out = tmp_path / "snap"
    run(out, ETagDoor(ReplayDoor(RECORDINGS)))
    before = read_snapshot(out, "overlay")
    assert before.packages["faster-whisper"].http["etag"] == '"v1"'

    door = ETagDoor(ReplayDoor(RECORDINGS))
    result = run(out, door, base=before)
    assert [(u, h.get("If-None-Match")) for u, h in door.asked] == [
        ("https://pypi.org/pypi/faster-whisper/json", '"v1"')
    ]
    assert result.packages[0].status == "unchanged"
    after = read_snapshot(out, "overlay")
    assert after.packages["faster-whisper"].releases == before.packages["faster-whisper"].releases


def test_validators_are_sent_only_with_the_data_they_describe(tmp_path: Path) -> None:
    """A base without stored validators (the embedded snapshot, or none) reads every page in full."""
    out = tmp_path / "snap"
    run(out, ETagDoor(ReplayDoor(RECORDINGS)))
    snap = read_snapshot(out, "overlay")
    history = snap.packages["faster-whisper"]
    bare = PackageHistory(history.name, history.checked, history.source, history.releases)
    base = Snapshot(snap.generated, snap.index, "embedded", "", {"faster-whisper": bare})
    door = ETagDoor(ReplayDoor(RECORDINGS))
    result = run(out, door, base=base)
    assert door.asked[0][1].get("If-None-Match") is None
    assert result.packages[0].status == "updated"


def test_offline_writes_nothing_and_says_why(tmp_path: Path) -> None:
    out = tmp_path / "snap"
    out.mkdir()
    (out / "old").write_text("old")
    empty = tmp_path / "no-recordings"
    empty.mkdir()
    result = run(out, ReplayDoor(empty))
    assert result.offline is not None and "cannot connect" in result.offline and result.unreachable
    assert [p.name for p in out.iterdir()] == ["old"]


def test_a_failed_metadata_read_is_reported_and_retried_next_time(tmp_path: Path) -> None:
    class Failing(ReplayDoor):
        def get(self, url: str, headers: Mapping[str, str], timeout: float) -> Response:
            if "1.2.0-py3" in url and "Range" in headers:
                raise NetworkError(f"{url}: no answer within 10 s")
            return super().get(url, headers, timeout)

    out = tmp_path / "snap"
    result = run(out, Failing(RECORDINGS))
    assert result.packages[0].errors and "1.2.0" in result.packages[0].errors[0]
    snap = read_snapshot(out, "overlay")
    assert not snap.packages["faster-whisper"].releases["1.2.0"].metadata
    door = ReplayDoor(RECORDINGS)
    run(out, door, base=snap)
    assert {u.rsplit("/", 1)[1] for u, _ in door.requests if ".whl" in u} == {
        "faster_whisper-1.2.0-py3-none-any.whl.metadata",
        "faster_whisper-1.2.0-py3-none-any.whl",
    }


@pytest.mark.parametrize(
    ("tag", "key"),
    [
        ("manylinux_2_28_x86_64", "linux_x86_64"),
        ("manylinux2014_aarch64", "linux_aarch64"),
        ("win_amd64", "windows"),
        ("macosx_11_0_arm64", "macos"),
        ("any", "any"),
        ("manylinux2014_ppc64le", None),
    ],
)
def test_platform_key(tag: str, key: str | None) -> None:
    assert platform_key(tag) == key


def test_pick_wheels_prefers_cp312_then_cp311() -> None:
    names = [
        "torch-2.9.0-cp310-cp310-manylinux_2_28_x86_64.whl",
        "torch-2.9.0-cp311-cp311-manylinux_2_28_x86_64.whl",
        "torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64.whl",
        "torch-2.9.0-cp313-cp313-win_amd64.whl",
        "torch-2.9.0-cp311-cp311-win_amd64.whl",
        "torch-2.9.0.tar.gz",
    ]
    picks = pick_wheels(DistFile(n, f"https://x/{n}", "2.9.0") for n in names)
    assert {k: v.filename for k, v in picks.items()} == {
        "linux_x86_64": "torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64.whl",
        "windows": "torch-2.9.0-cp311-cp311-win_amd64.whl",
    }


def test_tracked_packages_are_one_list_without_duplicates() -> None:
    assert len(TRACKED) == len(set(TRACKED)) == 18
    assert {"torch", "vllm", "faster-whisper"} <= set(TRACKED)


def test_an_index_that_knows_no_package_is_not_called_offline(tmp_path: Path) -> None:
    class NotFound:
        def get(self, url: str, headers: Mapping[str, str], timeout: float) -> Response:
            return Response(url, 404)

    out = tmp_path / "snap"
    result = run(out, NotFound())
    assert result.offline is not None and "no such project on the index (HTTP 404)" in result.offline
    assert not result.unreachable and not out.exists()
