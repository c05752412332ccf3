"""``facts update``: read the tracked packages from PyPI into a snapshot, reusing what is already known.

For each release: upload date, yanked, Python range, the tags of every wheel, and the core metadata of
one representative wheel per platform key (``linux_x86_64``, ``linux_aarch64``, ``windows``, ``macos``,
or ``any`` for pure wheels). Releases already in the base snapshot with their metadata are reused, so a
warm run only reads the project pages (conditionally, with the validators stored beside the data they
describe). While the metadata reads run, checkpoints go to the snapshot's ``pending.json``, which no
command uses; the complete snapshot replaces ``index.json`` only at the end. An interrupted update is
resumed by the next one, which starts from its checkpoint and finishes the packages it left unfinished.
The snapshot's stamp is the newest upload time among its releases, never the wall clock.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cudalign._dataclass import dataclass, field
from cudalign.errors import InvalidInput, NetworkError
from cudalign.facts.derive import platform_key
from cudalign.facts.pypi import DistFile, MetadataRead, ProjectPage, PyPIClient, Validators
from cudalign.facts.snapshot import (
    MetadataRecord,
    PackageHistory,
    Release,
    Snapshot,
    Wheel,
    newest_upload,
    write_snapshot,
)

__all__ = [
    "PLATFORM_KEYS",
    "TRACKED",
    "PackageOutcome",
    "UpdateResult",
    "pick_wheels",
    "platform_key",
    "refresh",
    "update",
]


def _tracked() -> tuple[str, ...]:
    from cudalign.facts import load, query

    return query.packages_with(load(), "tracked")


TRACKED: tuple[str, ...] = _tracked()
"""The packages ``facts update`` reads: those the knowledge base marks ``tracked`` (``package`` facts)."""

PLATFORM_KEYS = ("linux_x86_64", "linux_aarch64", "windows", "macos", "any")
# the Python builds preferred as the representative wheel of a platform, best first
_PREFERRED_PY = ("cp312", "cp311", "cp313", "cp310", "abi3", "py3")


def _wheel(dist: DistFile) -> Wheel | None:
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        _, _, _, tags = parse_wheel_filename(dist.filename)
    except InvalidWheelFilename:
        return None
    return Wheel(
        dist.filename,
        tuple(sorted({t.interpreter for t in tags})),
        tuple(sorted({t.abi for t in tags})),
        tuple(sorted({t.platform for t in tags})),
    )


def _rank(wheel: Wheel) -> tuple[int, int, str]:
    """Lower is better: preferred Python build, then the x86_64/amd64 flavour of a platform, then name."""
    py = min((_PREFERRED_PY.index(p) for p in (*wheel.python, *wheel.abi) if p in _PREFERRED_PY), default=99)
    arm_or_32 = int(any(p in ("win32", "win_arm64") or p.endswith("universal2") for p in wheel.platforms))
    return py, arm_or_32, wheel.filename


def pick_wheels(files: Iterable[DistFile]) -> dict[str, DistFile]:
    """One representative wheel per platform key (a cp312/cp311 build where there is one)."""
    candidates: dict[str, list[tuple[tuple[int, int, str], DistFile]]] = {}
    for dist in files:
        wheel = _wheel(dist) if dist.filename.endswith(".whl") else None
        if wheel is None:
            continue
        for key in {platform_key(p) for p in wheel.platforms} - {None}:
            assert key is not None
            candidates.setdefault(key, []).append((_rank(wheel), dist))
    return {k: min(v, key=lambda item: item[0])[1] for k, v in candidates.items()}


@dataclass(frozen=True, slots=True)
class PackageOutcome:
    """What one package's update did."""

    name: str
    status: str
    """``updated``, ``unchanged`` (HTTP 304 or same serial), ``kept`` (offline or failed: old data kept)."""
    releases: int = 0
    new_releases: tuple[str, ...] = ()
    metadata_read: int = 0
    metadata_reused: int = 0
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """The outcome of one ``facts update``."""

    path: str
    generated: str
    elapsed_s: float
    requests: int
    offline: str | None
    """Why no package could be read (nothing was written), or ``None``."""
    packages: tuple[PackageOutcome, ...] = ()
    unreachable: bool = False
    """No connection to the index could be made at all: this machine is offline."""
    snapshot: Snapshot | None = field(default=None, repr=False)


def _date(iso: str | None) -> str | None:
    return iso[:10] if iso else None


def _utc(iso: str) -> str | None:
    """An upload time as an ISO 8601 UTC stamp to the second (PyPI writes ``...Z`` or no zone)."""
    try:
        when = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat()


def _skeleton(version: str, files: Sequence[DistFile]) -> Release:
    """A release's index data (no metadata yet)."""
    uploads = sorted(d for d in (_date(f.uploaded) for f in files) if d)
    rp = next((f.requires_python for f in files if f.requires_python), None)
    wheels = tuple(sorted((w for w in map(_wheel, files) if w is not None), key=lambda w: w.filename))
    return Release(
        version,
        uploaded=uploads[0] if uploads else None,
        yanked=bool(files) and all(f.yanked for f in files),
        requires_python=rp,
        wheels=wheels,
    )


def _merge_pages(json_page: ProjectPage, simple_page: ProjectPage | None) -> dict[str, tuple[DistFile, ...]]:
    """Files per version from the JSON API, marked as having ``.metadata`` if either API says so."""
    simple = {f.filename: f for files in (simple_page.files.values() if simple_page else ()) for f in files}
    out: dict[str, tuple[DistFile, ...]] = {}
    for ver, files in json_page.files.items():
        merged = []
        for f in files:
            s = simple.get(f.filename)
            if s is not None:  # the simple page's URL is the canonical file host; either API may advertise
                f = DistFile(
                    f.filename,
                    s.url,
                    f.version,
                    f.size,
                    f.uploaded,
                    f.yanked,
                    f.requires_python,
                    f.core_metadata or s.core_metadata,
                )
            merged.append(f)
        out[ver] = tuple(merged)
    return out


class _Progress:
    """A rich progress bar on a terminal; nothing otherwise (the CLI prints one summary line)."""

    def __init__(self, enabled: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()

    def stage(self, description: str, total: int) -> None:
        if self._bar is not None:
            if self._task is not None:
                self._bar.remove_task(self._task)
            self._task = self._bar.add_task(description, total=total)

    def advance(self) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def update(
    packages: Sequence[str] | None = None,
    *,
    base: Snapshot | None,
    out: Path,
    client: PyPIClient | None = None,
    since: dt.date | None = None,
    jobs: int = 16,
    progress: bool | None = None,
    checkpoint_s: float = 2.0,
    conditional: bool = True,
    resume: bool = True,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
) -> UpdateResult:
    """Bring ``packages`` (default: :data:`TRACKED`) up to date from the index; write the directory ``out``.

    ``base`` is the snapshot to start from (its releases with metadata are reused, its other packages
    are carried over, and its stored validators make the page requests conditional). When ``out`` holds
    the checkpoint of an interrupted update and ``resume`` is true, that checkpoint is the base and its
    unfinished packages are finished too. ``since`` limits metadata reads to releases uploaded on or after
    that date. ``checkpoint_s`` is how often the work so far is saved to ``pending.json``.
    ``conditional`` keeps the validators in the snapshot (not for the embedded one).
    When the index cannot be reached at all, nothing is written and ``result.offline`` says why.
    """
    names = list(dict.fromkeys(packages or TRACKED))
    for name in names:
        if not name or "/" in name or " " in name:
            raise InvalidInput(f"not a package name: {name!r}")
    checkpoint = _checkpoint(out) if resume else None
    if checkpoint is not None:
        base = checkpoint
        names += [n for n in checkpoint.unfinished if n not in names]
    run = _Run(base, out, client or PyPIClient(), since, jobs, conditional, now(), names)
    bar = _Progress(sys.stderr.isatty() if progress is None else progress)
    try:
        fetched, errors = run.fetch_pages(names, bar)
        if not fetched:
            first = run.client.offline or NetworkError(
                next(iter(errors.values()), "no package could be read")
            )
            return run.result(names, str(first))
        tasks = [task for name in names for task in run.plan(name, fetched.get(name), errors.get(name))]
        run.read_metadata(tasks, bar, checkpoint_s)
    finally:
        bar.stop()
    run.write()
    return run.result(names, None)


def refresh(
    packages: Sequence[str] | None = None,
    *,
    embedded: Path | None = None,
    full: bool = False,
    index: str | None = None,
    since: dt.date | None = None,
    jobs: int = 16,
    progress: bool | None = None,
) -> tuple[UpdateResult, Snapshot | None]:
    """``cudalign facts update``: update the user overlay (or, with ``embedded``, that directory).

    The base is the snapshot commands use now (a corrupt or older overlay is not: the embedded
    snapshot is, whose releases carry no validators, so every page is read again and the overlay
    rebuilt). ``full`` forgets what is known of the packages asked for; ``progress`` whether to draw a bar
    (default: when standard error is a terminal). Returns the result and the base.
    """
    from cudalign.errors import InvalidFact
    from cudalign.facts.pypi import DEFAULT_INDEX
    from cudalign.facts.snapshot import (
        MANIFEST,
        load_snapshot,
        overlay_path,
        overlay_state,
        remove_legacy_overlay,
        verify_snapshot,
    )

    if jobs < 1:
        raise InvalidInput(f"--jobs {jobs}: must be at least 1")
    out = embedded or overlay_path()
    base: Snapshot | None = None
    if embedded is not None:
        if (embedded / MANIFEST).exists():
            try:
                base = verify_snapshot(embedded, origin="embedded")
            except InvalidFact:
                base = None  # a broken directory is rebuilt from the index
    else:
        state = overlay_state(deep=True)
        base = state.snapshot if state.state == "ok" else load_snapshot(use_overlay=False)
    if full and base is not None:  # forget what is known of the packages asked for, keep the others
        drop = set(packages or TRACKED)
        others = {n: base.packages[n] for n in base.packages if n not in drop}
        base = Snapshot(base.generated, base.index, base.origin, base.path, others, base.checked)
    client = PyPIClient(index=index or (base.index if base else DEFAULT_INDEX))
    result = update(
        packages or None,
        base=base,
        out=out,
        client=client,
        since=since,
        jobs=jobs,
        conditional=embedded is None,
        resume=not full,
        progress=progress,
    )
    if embedded is None and not result.offline:
        remove_legacy_overlay()
    return result, base


def _checkpoint(out: Path) -> Snapshot | None:
    """The checkpoint an interrupted update left in ``out``, when it is whole; else ``None``."""
    from cudalign.errors import InvalidFact
    from cudalign.facts.snapshot import PENDING, open_snapshot

    if not (out / PENDING).exists():
        return None
    try:
        return open_snapshot(out, "overlay", manifest=PENDING)
    except InvalidFact:
        return None  # a broken checkpoint is ignored: the update starts over from the base


_Pages = tuple[ProjectPage | None, ProjectPage | None, bool]
"""The JSON page (``None``: HTTP 304), the simple page (``None``: not asked or failed), and unchanged."""
_Task = tuple[str, str, str, DistFile]  # package, version, platform key, wheel


class _Run:
    """The state of one update: what the base knew, what the index said, what has been read."""

    def __init__(
        self,
        base: Snapshot | None,
        out: Path,
        client: PyPIClient,
        since: dt.date | None,
        jobs: int,
        conditional: bool,
        started_at: dt.datetime,
        names: list[str],
    ) -> None:
        import uuid

        self.out, self.client, self.since, self.jobs, self.conditional = (
            out,
            client,
            since,
            max(1, jobs),
            conditional,
        )
        self.started = time.monotonic()
        self.stamp = started_at.replace(microsecond=0).isoformat()
        self.run_id = f"{self.stamp}/{uuid.uuid4().hex[:8]}"
        self.index = base.index if base else client.index
        self.histories: dict[str, PackageHistory] = (
            {n: base.packages[n] for n in base.packages} if base else {}
        )
        # validators describe the data stored beside them: only a base's own are ever sent
        self.validators: dict[str, dict[str, Any]] = (
            {n: dict(h.http) for n, h in self.histories.items() if h.http} if conditional else {}
        )
        self.releases: dict[str, dict[str, Release]] = {}
        self.outcomes: dict[str, PackageOutcome] = {}
        self.new: dict[str, list[str]] = {}
        self.reused: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.failed: dict[str, list[str]] = {}
        self.unfinished: dict[str, int] = dict.fromkeys(names, -1)
        """Packages of this run not finished yet: metadata reads left (-1: page not planned yet)."""

    # ---- 1. project pages, conditionally ------------------------------------------------------
    def pages(self, name: str) -> _Pages:
        known = self.validators.get(name, {}) if name in self.histories else {}
        page = self.client.project_json(name, Validators(known.get("etag"), known.get("last_modified")))
        if page is None:
            return None, None, True
        if page.serial is not None and known.get("serial") == page.serial and _complete(self.histories[name]):
            return page, None, True  # same serial as last time and nothing missing: no need for more
        try:
            simple = self.client.project_simple(
                name, Validators(known.get("simple_etag"), known.get("simple_last_modified"))
            )
        except NetworkError:
            simple = None  # the JSON page alone still lists the files; only .metadata flags may be missed
        return page, simple, False

    def fetch_pages(self, names: list[str], bar: _Progress) -> tuple[dict[str, _Pages], dict[str, str]]:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        bar.stage("project pages", len(names))
        fetched: dict[str, _Pages] = {}
        errors: dict[str, str] = {}
        with ThreadPoolExecutor(max_workers=min(self.jobs, len(names))) as pool:
            futures = {pool.submit(self.pages, n): n for n in names}
            for fut in as_completed(futures):
                try:
                    fetched[futures[fut]] = fut.result()
                except NetworkError as exc:
                    errors[futures[fut]] = str(exc)
                bar.advance()
        return fetched, errors

    # ---- 2. releases, and the metadata reads they still need ----------------------------------
    def plan(self, name: str, pages: _Pages | None, error: str | None) -> list[_Task]:
        tasks = self._plan(name, pages, error)
        self.unfinished[name] = len(tasks)
        if not tasks:
            del self.unfinished[name]
        return tasks

    def _plan(self, name: str, pages: _Pages | None, error: str | None) -> list[_Task]:
        old = self.histories.get(name)
        if pages is None:
            kept = len(old.releases) if old else 0
            self.outcomes[name] = PackageOutcome(name, "kept", kept, errors=(error or "not read",))
            return []
        json_page, simple_page, unchanged = pages
        if json_page is not None:
            self.validators[name] = _validators_entry(json_page, simple_page, self.validators.get(name, {}))
        if unchanged or json_page is None:
            assert old is not None  # a 304 or an unchanged serial: keep what is known, freshly checked
            self.histories[name] = PackageHistory(
                name, self.stamp, old.source, old.releases, newest_upload(old), old.http
            )
            self.outcomes[name] = PackageOutcome(name, "unchanged", len(old.releases))
            return []
        tasks: list[_Task] = []
        rels: dict[str, Release] = {}
        files = [f for fs in json_page.files.values() for f in fs]
        uploads = [u for f in files if f.uploaded and (u := _utc(f.uploaded))]
        for ver, dists in _merge_pages(json_page, simple_page).items():
            skel = _skeleton(ver, dists)
            prev = old.releases.get(ver) if old else None
            if prev is None:
                self.new.setdefault(name, []).append(ver)
            picks = pick_wheels(dists)
            sdist = next((f for f in dists if not f.filename.endswith(".whl")), None)
            if not picks and sdist is not None:
                rels[ver] = _with_metadata(
                    skel, {"any": MetadataRecord(sdist.filename, sdist.url, "sdist", ())}
                )
                continue
            keep = {
                k: m for k, m in (prev.metadata.items() if prev else ()) if k in picks and m.via != "sdist"
            }
            self.reused[name] = self.reused.get(name, 0) + len(keep)
            rels[ver] = _with_metadata(skel, keep)
            if self.since is None or (skel.uploaded or "") >= self.since.isoformat():
                tasks.extend((name, ver, key, dist) for key, dist in picks.items() if key not in keep)
        self.releases[name] = rels
        self.histories[name] = PackageHistory(
            name, self.stamp, json_page.url, rels, max(uploads, default=None)
        )
        return tasks

    # ---- 3. core metadata, concurrently, with checkpoints -------------------------------------
    def read_metadata(self, tasks: list[_Task], bar: _Progress, checkpoint_s: float) -> None:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        bar.stage("wheel metadata", len(tasks))
        if not tasks:
            return
        last_write = time.monotonic()
        pool = ThreadPoolExecutor(max_workers=self.jobs)
        try:
            reads = {pool.submit(self.client.metadata, t[3]): t for t in tasks}
            for fut in as_completed(reads):  # results are stored here, in this one thread
                name, ver, key, dist = reads[fut]
                bar.advance()
                try:
                    read: MetadataRead = fut.result()
                except NetworkError as exc:
                    self.failed.setdefault(name, []).append(f"{dist.filename}: {exc}")
                    self._finished_one(name)  # reported; the next update tries it again
                    continue
                self._finished_one(name)
                rel = self.releases[name][ver]
                record = MetadataRecord(dist.filename, read.url, read.via, read.requires_dist)
                self.releases[name][ver] = _with_metadata(rel, {**rel.metadata, key: record})
                self.done[name] = self.done.get(name, 0) + 1
                if time.monotonic() - last_write > checkpoint_s:
                    self.checkpoint()
                    last_write = time.monotonic()
        except BaseException:
            # Ctrl-C or a crash: drop the queued reads instead of waiting for them, keep what was read
            pool.shutdown(wait=False, cancel_futures=True)
            self.checkpoint()
            raise
        pool.shutdown()

    def _finished_one(self, name: str) -> None:
        self.unfinished[name] -= 1
        if not self.unfinished[name]:
            del self.unfinished[name]

    # ---- results -----------------------------------------------------------------------------
    def snapshot(self, *, final: bool = True) -> Snapshot:
        """The snapshot as it stands; a checkpoint (not ``final``) keeps no validators of unfinished work."""
        packages = {}
        for n, h in self.histories.items():
            http: Mapping[str, Any] = self.validators.get(n, {}) if self.conditional else {}
            if not final and n in self.unfinished:
                http = {}  # a resumed update must read this page again, not be told "not modified"
            packages[n] = PackageHistory(
                h.name, h.checked, h.source, self.releases.get(n, h.releases), h.newest_upload, http
            )
        uploads = [u for u in (newest_upload(h) for h in packages.values()) if u]
        generated = max(uploads, key=dt.datetime.fromisoformat, default=self.stamp)
        out = str(self.out)
        return Snapshot(generated, self.index, "overlay", out, packages, self.stamp, run=self.run_id)

    def checkpoint(self) -> None:
        """Save the work so far to ``pending.json``; the complete snapshot stays as it was."""
        write_snapshot(self.out, self.snapshot(final=False), pending=True, unfinished=self.unfinished)

    def write(self) -> None:
        write_snapshot(self.out, self.snapshot())

    def result(self, names: list[str], offline: str | None) -> UpdateResult:
        for name, rels in self.releases.items():
            self.outcomes[name] = PackageOutcome(
                name,
                "updated",
                len(rels),
                tuple(sorted(self.new.get(name, ()), key=_version_order)),
                self.done.get(name, 0),
                self.reused.get(name, 0),
                tuple(self.failed.get(name, ())[:3]),
            )
        snap = None if offline else self.snapshot()
        return UpdateResult(
            str(self.out),
            snap.generated if snap else self.stamp,
            time.monotonic() - self.started,
            self.client.requests,
            offline,
            tuple(self.outcomes[n] for n in names if n in self.outcomes),
            snapshot=snap,
            unreachable=offline is not None and self.client.offline is not None,
        )


_EMPTY = PackageHistory("", "", "", {})


def _version_order(version: str) -> tuple[int, Any]:
    from packaging.version import InvalidVersion, Version

    try:
        return 1, Version(version)
    except InvalidVersion:
        return 0, version


def _complete(history: PackageHistory) -> bool:
    """Every release with wheels has its metadata for every platform it has wheels for."""
    for rel in history.releases.values():
        keys = {platform_key(p) for w in rel.wheels for p in w.platforms} - {None}
        if not keys <= set(rel.metadata):
            return False
    return True


def _with_metadata(rel: Release, metadata: Mapping[str, MetadataRecord]) -> Release:
    return Release(rel.version, rel.uploaded, rel.yanked, rel.requires_python, rel.wheels, dict(metadata))


def _validators_entry(
    page: ProjectPage, simple: ProjectPage | None, old: Mapping[str, Any]
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "etag": page.validators.etag,
        "last_modified": page.validators.last_modified,
        "serial": page.serial,
    }
    if simple is not None:
        entry["simple_etag"] = simple.validators.etag
        entry["simple_last_modified"] = simple.validators.last_modified
    else:
        entry["simple_etag"] = old.get("simple_etag")
        entry["simple_last_modified"] = old.get("simple_last_modified")
    return entry
