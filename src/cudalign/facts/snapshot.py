"""The PyPI-derived snapshot: every release of the tracked packages, as read from PyPI by ``facts update``.

The snapshot stores what PyPI says (requirements, Python range, wheel tags, where each was read);
what follows from it (torch's CUDA runtime, vLLM's torch pin) is computed by :mod:`cudalign.facts.derive`
so that the derivations are tested code, not stored conclusions.

On disk a snapshot is a directory (schema ``cudalign.snapshot/2``) so that a command decodes only the
packages it asks about::

    pypi_snapshot/
      index.json                  the manifest of the last complete snapshot, written last
      pending.json                the manifest of an update in progress (its checkpoints), if any
      torch.3f2a9c1b0d4e5f60.json one package's releases; the name carries its content's hash

``index.json``::

    {"schema": "cudalign.snapshot/2", "generated": "<newest upload time among the releases>",
     "checked": "<when the index was read>", "index": "https://pypi.org", "run": "<update run id>",
     "packages": {"torch": {"file": "torch.<hash>.json", "sha256": "...", "size": 319523,
        "releases": 52, "checked": "...", "source": "https://pypi.org/pypi/torch/json",
        "newest_upload": "2026-10-28T17:02:11+00:00", "http": {"etag": ..., "serial": ...},
        "spans": {"2.9.0": [start, end], ...}}}}

``spans`` gives the byte range of each release's JSON value in the package file, so a command decodes
only the releases it looks at (written compact, one line).

A package file is ``{"name": "torch", "releases": {"2.9.0": {"uploaded": "2025-10-15", "yanked": false,
"requires_python": ">=3.10", "wheels": [{"filename": "...", "python": ["cp311"], "abi": ["cp311"],
"platforms": ["manylinux_2_28_x86_64"]}], "metadata": {"linux_x86_64": {"file": "<wheel filename>",
"url": "<url read>", "via": "pep658" | "range" | "sdist", "requires_dist": ["..."]}}}}}``, compact;
``yanked`` only when true, ``requires_python`` and ``metadata`` only when known.

Package files are never rewritten in place: a new set is written beside the old one under new names and
switches over when its manifest replaces the old one (``os.replace``, atomic), so a reader sees the old
set or the new one, never a mix. Reading checks each file's size against the manifest when the
snapshot is opened and its SHA-256 when the package is first decoded. ``http`` keeps the index page's
``ETag``/``Last-Modified``/serial that describe exactly the data stored, so a conditional request can
only ever confirm data that is really there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from cudalign._dataclass import dataclass, field
from cudalign.errors import InvalidFact

__all__ = [
    "EMBEDDED_PATH",
    "MANIFEST",
    "PENDING",
    "SNAPSHOT_SCHEMA",
    "MetadataRecord",
    "OverlayState",
    "PackageHistory",
    "Release",
    "Snapshot",
    "Wheel",
    "load_snapshot",
    "newest_upload",
    "open_snapshot",
    "overlay_path",
    "overlay_state",
    "parse_package",
    "read_snapshot",
    "release_to_json",
    "remove_legacy_overlay",
    "set_notice_handler",
    "user_cache_dir",
    "verify_snapshot",
    "write_json_atomic",
    "write_snapshot",
]

SNAPSHOT_SCHEMA = "cudalign.snapshot/2"
MANIFEST = "index.json"
PENDING = "pending.json"
EMBEDDED_PATH = Path(__file__).with_name("data") / "pypi_snapshot"
_LEGACY = ("pypi_snapshot.json", "pypi_snapshot.http.json")
"""The single-file overlay of earlier versions; ignored, and removed by the next ``facts update``."""


def user_cache_dir() -> Path:
    """The per-user cache directory (``$CUDALIGN_CACHE_DIR``, XDG, macOS or Windows conventions)."""
    override = os.environ.get("CUDALIGN_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "cudalign" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "cudalign"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cudalign"


def overlay_path() -> Path:
    """The directory where ``facts update`` writes the user overlay snapshot."""
    return user_cache_dir() / "pypi_snapshot"


# ---- notices --------------------------------------------------------------------------------------

_noticed: set[str] = set()


def _print_notice(text: str) -> None:
    print(f"cudalign: note: {text}", file=sys.stderr)


_notice_handler: Callable[[str], None] = _print_notice


def set_notice_handler(handler: Callable[[str], None]) -> Callable[[str], None]:
    """Route the snapshot's notices (an update pending, a corrupt overlay) elsewhere; returns the old one.

    By default each distinct notice is one line on stderr, once per process.
    """
    global _notice_handler
    old, _notice_handler = _notice_handler, handler
    return old


def _notice(text: str) -> None:
    if text not in _noticed:
        _noticed.add(text)
        _notice_handler(text)


# ---- value types ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wheel:
    """One distribution file of a release."""

    filename: str
    python: tuple[str, ...] = ()
    abi: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MetadataRecord:
    """Core metadata read from one wheel of a release."""

    file: str
    url: str
    via: str
    """``pep658`` (the ``.metadata`` file), ``range`` (HTTP range reads of the wheel) or ``sdist``."""
    requires_dist: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Release:
    """One release of a tracked package."""

    version: str
    uploaded: str | None = None
    yanked: bool = False
    requires_python: str | None = None
    wheels: tuple[Wheel, ...] = ()
    metadata: Mapping[str, MetadataRecord] = field(default_factory=dict)
    """Platform key (``linux_x86_64``, ``linux_aarch64``, ``windows``, ``macos``, ``any``) -> metadata."""


@dataclass(frozen=True, slots=True)
class PackageHistory:
    """Every release of one package."""

    name: str
    checked: str
    source: str
    releases: Mapping[str, Release] = field(default_factory=dict)
    newest_upload: str | None = None
    """The newest upload time (ISO 8601) among the files the index listed when this was read."""
    http: Mapping[str, Any] = field(default_factory=dict)
    """The index page's validators (``etag``, ``last_modified``, ``serial`` …) that describe this data."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The whole PyPI-derived snapshot."""

    generated: str
    """The time of the newest data it holds: the newest upload time among its releases."""
    index: str
    origin: str
    """``embedded`` (shipped in the package) or ``overlay`` (written by ``facts update``)."""
    path: str
    packages: Mapping[str, PackageHistory] = field(default_factory=dict)
    checked: str | None = None
    """When the index was last read for it (the wall clock of the update)."""
    unfinished: tuple[str, ...] = ()
    """In the manifest of an update in progress: the packages it has not finished."""
    run: str = ""
    """The id of the update that wrote it."""

    def releases(self, package: str) -> Mapping[str, Release]:
        history = self.packages.get(package)
        return history.releases if history else {}

    def release(self, package: str, version: str) -> Release | None:
        return self.releases(package).get(version)

    @property
    def generated_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.generated)


# ---- decoding -------------------------------------------------------------------------------------


def _release(version: str, rel: Any, where: str) -> Release:
    try:
        return Release(
            version=version,
            uploaded=rel.get("uploaded"),
            yanked=bool(rel.get("yanked", False)),
            requires_python=rel.get("requires_python"),
            wheels=tuple(
                Wheel(
                    w["filename"],
                    tuple(w.get("python", ())),
                    tuple(w.get("abi", ())),
                    tuple(w.get("platforms", ())),
                )
                for w in rel.get("wheels", ())
            ),
            metadata={
                k: MetadataRecord(m["file"], m["url"], m["via"], tuple(m.get("requires_dist", ())))
                for k, m in rel.get("metadata", {}).items()
            },
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidFact(f"{where}: release {version}: malformed ({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True, slots=True)
class _Stored:
    """Where a package's releases were read from: a writer copies the file instead of re-encoding it."""

    path: Path
    sha256: str
    size: int


class _Slices(Mapping[str, Any]):
    """A package file's releases as JSON values decoded one by one, from the byte spans in the manifest.

    ``check`` looks at a few releases of six packages; decoding only those, not the megabyte of JSON
    the six files hold, is most of what keeps it inside its time budget.
    """

    __slots__ = ("_body", "_spans", "_where")

    def __init__(self, body: bytes, spans: Mapping[str, Any], where: str) -> None:
        self._body, self._spans, self._where = body, spans, where

    def __getitem__(self, version: str) -> Any:
        start, end = self._spans[version]
        try:
            return json.loads(self._body[start:end])
        except ValueError:
            raise InvalidFact(f"{self._where}: release {version}: corrupt (not JSON at its offset)") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._spans)

    def __len__(self) -> int:
        return len(self._spans)


class _LazyReleases(Mapping[str, Release]):
    """A package's releases, each built from its JSON the first time it is looked at.

    Most commands look at a handful of releases; building every wheel record up front would cost more
    than the rest of the command.
    """

    __slots__ = ("_built", "_raw", "_where", "stored")

    def __init__(self, raw: Mapping[str, Any], where: str, stored: _Stored | None = None) -> None:
        self._raw = raw
        self._built: dict[str, Release] = {}
        self._where = where
        self.stored = stored

    def __getitem__(self, version: str) -> Release:
        rel = self._built.get(version)
        if rel is None:
            rel = self._built[version] = _release(version, self._raw[version], self._where)
        return rel

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


def parse_package(data: Any, *, where: str, stored: _Stored | None = None) -> Mapping[str, Release]:
    """Validate a package file's JSON form and return its releases (each built when first looked at)."""
    releases = data.get("releases") if isinstance(data, Mapping) else None
    if not isinstance(releases, Mapping) or not all(isinstance(r, Mapping) for r in releases.values()):
        raise InvalidFact(f"{where}: malformed package file (releases must be objects keyed by version)")
    return _LazyReleases(releases, where, stored)


def _read_package(directory: Path, name: str, entry: Mapping[str, Any]) -> Mapping[str, Release]:
    """Read, check (size, SHA-256) and decode one package file named by a manifest entry."""
    import hashlib

    path = directory / str(entry["file"])
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise InvalidFact(f"{path}: cannot read {name}'s releases: {exc.strerror or exc}") from None
    digest = hashlib.sha256(body).hexdigest()
    if len(body) != entry["size"] or digest != entry["sha256"]:
        raise InvalidFact(f"{path}: corrupt (its size or checksum differs from {MANIFEST})")
    stored = _Stored(path, digest, len(body))
    spans = entry.get("spans")
    if isinstance(spans, dict) and body.startswith(_head(name)):
        return _LazyReleases(_Slices(body, spans, str(path)), str(path), stored)
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise InvalidFact(f"{path}: corrupt (not JSON: {exc})") from None
    if not isinstance(data, Mapping) or data.get("name") != name:
        raise InvalidFact(f"{path}: corrupt (not the releases of {name})")
    return parse_package(data, where=f"{path}", stored=stored)


def _head(name: str) -> bytes:
    return b'{"name":' + json.dumps(name).encode() + b',"releases":{'


class _LazyPackages(Mapping[str, PackageHistory]):
    """The packages a manifest names; each package file is read and decoded when first looked at."""

    __slots__ = ("_built", "_dir", "_entries", "_manifest")

    def __init__(self, directory: Path, manifest: str, entries: Mapping[str, Mapping[str, Any]]) -> None:
        self._dir = directory
        self._manifest = manifest
        self._entries = entries
        self._built: dict[str, PackageHistory] = {}

    def __getitem__(self, name: str) -> PackageHistory:
        hit = self._built.get(name)
        if hit is None:
            entry = self._entries[name]
            try:
                releases = _read_package(self._dir, name, entry)
            except InvalidFact:
                # a later update may have switched the set and removed this file: follow the manifest once
                entry = self._current_entry(name) or entry
                releases = _read_package(self._dir, name, entry)
            hit = self._built[name] = PackageHistory(
                name,
                str(entry["checked"]),
                str(entry["source"]),
                releases,
                entry.get("newest_upload"),
                dict(entry.get("http") or {}),
            )
        return hit

    def _current_entry(self, name: str) -> Mapping[str, Any] | None:
        try:
            fresh = _read_manifest(self._dir / self._manifest)
        except InvalidFact:
            return None
        entry = fresh["packages"].get(name)
        return entry if entry is not None and entry["file"] != self._entries[name]["file"] else None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def release_count(self, name: str) -> int:
        """How many releases a package has, from the manifest alone."""
        return int(self._entries[name]["releases"])


_ENTRY_KEYS = {"file": str, "sha256": str, "size": int, "releases": int, "checked": str, "source": str}


def _read_manifest(path: Path) -> dict[str, Any]:
    """Read and validate a manifest (``index.json`` or ``pending.json``); :class:`InvalidFact` if bad."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise InvalidFact(f"{path}: missing") from None
    except (OSError, ValueError) as exc:
        raise InvalidFact(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SNAPSHOT_SCHEMA:
        raise InvalidFact(f"{path}: not a {SNAPSHOT_SCHEMA} manifest")
    for key in ("generated", "index"):
        if not isinstance(data.get(key), str):
            raise InvalidFact(f"{path}: malformed manifest ({key!r} missing)")
    try:
        dt.datetime.fromisoformat(data["generated"])
    except ValueError:
        raise InvalidFact(f"{path}: malformed manifest (generated {data['generated']!r})") from None
    packages = data.get("packages")
    if not isinstance(packages, dict):
        raise InvalidFact(f"{path}: malformed manifest ('packages' missing)")
    for name, entry in packages.items():
        if not isinstance(entry, dict):
            raise InvalidFact(f"{path}: {name}: malformed manifest entry")
        for key, kind in _ENTRY_KEYS.items():
            if not isinstance(entry.get(key), kind):
                raise InvalidFact(f"{path}: {name}: malformed manifest entry ({key!r})")
        if "/" in entry["file"] or "\\" in entry["file"] or entry["file"].startswith("."):
            raise InvalidFact(f"{path}: {name}: file {entry['file']!r} is not a name in its directory")
    return data


def open_snapshot(directory: Path, origin: str, *, manifest: str = MANIFEST) -> Snapshot:
    """Open a snapshot directory: its manifest is read and every package file's size checked.

    The package files themselves are decoded only when a package is first looked at. A missing or
    truncated file, or a manifest that is not one, raises :class:`InvalidFact` naming the file.
    """
    path = directory / manifest
    data = _read_manifest(path)
    for name, entry in data["packages"].items():
        file = directory / entry["file"]
        try:
            size = file.stat().st_size
        except OSError:
            raise InvalidFact(f"{file}: missing ({name}'s releases, named by {path})") from None
        if size != entry["size"]:
            raise InvalidFact(f"{file}: corrupt ({size} bytes, {path} says {entry['size']})")
    unfinished = data.get("unfinished", [])
    return Snapshot(
        data["generated"],
        data["index"],
        origin,
        str(directory),
        _LazyPackages(directory, manifest, data["packages"]),
        data.get("checked"),
        tuple(str(n) for n in unfinished) if isinstance(unfinished, list) else (),
        str(data.get("run", "")),
    )


def read_snapshot(directory: Path, origin: str) -> Snapshot:
    """Open a snapshot directory (see :func:`open_snapshot`)."""
    return open_snapshot(directory, origin)


def verify_snapshot(directory: Path, *, origin: str = "overlay", manifest: str = MANIFEST) -> Snapshot:
    """Open a snapshot and decode every package file and release: what ``status`` and ``update`` trust."""
    snap = open_snapshot(directory, origin, manifest=manifest)
    for name in snap.packages:
        stored = getattr(snap.packages[name].releases, "stored", None)
        if isinstance(stored, _Stored):  # the byte spans must cut the file where its JSON says
            try:
                whole = json.loads(stored.path.read_bytes())["releases"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise InvalidFact(f"{stored.path}: corrupt ({exc})") from None
            releases = snap.packages[name].releases
            if list(whole) != list(releases) or any(whole[v] != releases._raw[v] for v in whole):  # type: ignore[attr-defined]
                raise InvalidFact(f"{stored.path}: corrupt (its releases do not match {manifest})")
        for version in snap.packages[name].releases:
            snap.packages[name].releases[version]  # builds it, raising if malformed
    return snap


# ---- which snapshot serves ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OverlayState:
    """What the user overlay directory holds."""

    path: Path
    state: str
    """``none`` (never written), ``ok``, ``older`` (valid but older than the embedded snapshot: unused)
    or ``corrupt``."""
    error: str | None = None
    pending: tuple[str, ...] | None = None
    """An interrupted update's unfinished packages, or ``None`` when no update is pending."""
    snapshot: Snapshot | None = None


def _stamp(directory: Path) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(_read_manifest(directory / MANIFEST)["generated"])
    except InvalidFact:
        return None


def _pending(directory: Path) -> tuple[str, ...] | None:
    """The unfinished packages of an update in progress in ``directory``, or ``None``."""
    path = directory / PENDING
    if not path.exists():
        return None
    try:
        data = _read_manifest(path)
    except InvalidFact:
        return ()
    unfinished = data.get("unfinished")
    return tuple(str(n) for n in unfinished) if isinstance(unfinished, list) else ()


def overlay_state(*, deep: bool = False) -> OverlayState:
    """Inspect the user overlay: absent, usable, older than the embedded snapshot, or corrupt.

    ``deep`` decodes every package file (``facts status``, ``facts update``); otherwise only the
    manifest and the files' sizes are checked, which is what every command can afford.
    """
    directory = overlay_path()
    pending = _pending(directory)
    if not (directory / MANIFEST).exists():
        if directory.exists() and any(directory.glob("*.json")) and pending is None:
            return OverlayState(directory, "corrupt", f"{directory / MANIFEST}: missing", pending)
        return OverlayState(directory, "none", None, pending)
    try:
        snap = verify_snapshot(directory) if deep else open_snapshot(directory, "overlay")
    except InvalidFact as exc:
        return OverlayState(directory, "corrupt", str(exc), pending)
    shipped = _stamp(EMBEDDED_PATH)
    if shipped is not None and snap.generated_at < shipped:
        return OverlayState(directory, "older", None, pending, snap)
    return OverlayState(directory, "ok", None, pending, snap)


def load_snapshot(*, use_overlay: bool = True, notices: bool = True) -> Snapshot:
    """The last complete user overlay when it is valid and not older, else the embedded snapshot.

    Only the manifests are read here (a few KB each); package files are decoded when first looked at.
    An overlay that is corrupt falls back to the embedded snapshot, and an update in progress is never
    used: both are said once, on stderr, unless ``notices`` is false.
    """
    if use_overlay:
        state = overlay_state()
        if state.snapshot is not None and state.state == "ok":
            chosen: Snapshot | None = state.snapshot
        else:
            chosen = None
        if notices:
            _notify(state, chosen)
        if chosen is not None:
            return chosen
    if not (EMBEDDED_PATH / MANIFEST).exists():
        raise InvalidFact(f"{EMBEDDED_PATH}: the embedded snapshot is missing; reinstall cudalign")
    return open_snapshot(EMBEDDED_PATH, "embedded")


def _notify(state: OverlayState, chosen: Snapshot | None) -> None:
    which = f"the complete snapshot of {chosen.generated[:10]}" if chosen else "the embedded snapshot"
    if state.pending is not None:
        _notice(
            f"an update of the PyPI snapshot is pending (interrupted; {state.path / PENDING}); "
            f"using {which} until 'cudalign facts update' finishes it"
        )
    elif state.state == "corrupt":
        _notice(
            f"the PyPI snapshot overlay is corrupt ({state.error}); using {which}; "
            "'cudalign facts update' rebuilds it"
        )


# ---- encoding and writing -------------------------------------------------------------------------


def release_to_json(rel: Release) -> dict[str, Any]:
    """The JSON form :func:`parse_package` reads back; empty fields are left out to keep it small."""
    out: dict[str, Any] = {"uploaded": rel.uploaded}
    if rel.yanked:
        out["yanked"] = True
    if rel.requires_python:
        out["requires_python"] = rel.requires_python
    out["wheels"] = [
        {"filename": w.filename, "python": list(w.python), "abi": list(w.abi), "platforms": list(w.platforms)}
        for w in rel.wheels
    ]
    if rel.metadata:
        out["metadata"] = {
            k: {"file": m.file, "url": m.url, "via": m.via, "requires_dist": list(m.requires_dist)}
            for k, m in sorted(rel.metadata.items())
        }
    return out


def newest_upload(history: PackageHistory) -> str | None:
    """The newest upload time of a package: as recorded, else the newest release's upload date."""
    if history.newest_upload:
        return history.newest_upload
    dates = [r.uploaded for r in history.releases.values() if r.uploaded]
    return f"{max(dates)}T00:00:00+00:00" if dates else None


def _write_bytes_atomic(path: Path, body: bytes) -> None:
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _package_file(directory: Path, history: PackageHistory) -> dict[str, Any]:
    """Write one package's file (unless an identical one is there) and return its manifest entry."""
    import hashlib

    stored = getattr(history.releases, "stored", None)
    body: bytes | None = None
    if isinstance(stored, _Stored):  # unchanged since it was read: copy the bytes, do not re-encode
        digest, size = stored.sha256, stored.size
        raw = history.releases._raw  # type: ignore[attr-defined]
        spans = dict(raw._spans) if isinstance(raw, _Slices) else None
        if spans is None:
            body = stored.path.read_bytes()
            spans = _encode(history.name, json.loads(body)["releases"])[1]
    else:
        body, spans = _encode(history.name, {v: release_to_json(r) for v, r in history.releases.items()})
        digest, size = hashlib.sha256(body).hexdigest(), len(body)
    name = f"{history.name}.{digest[:16]}.json"
    target = directory / name
    if not (target.exists() and target.stat().st_size == size):
        if body is None:
            assert isinstance(stored, _Stored)
            body = stored.path.read_bytes()
        _write_bytes_atomic(target, body)
    entry: dict[str, Any] = {
        "file": name,
        "sha256": digest,
        "size": size,
        "releases": len(history.releases),
        "checked": history.checked,
        "source": history.source,
        "newest_upload": newest_upload(history),
    }
    if history.http:
        entry["http"] = dict(history.http)
    entry["spans"] = spans
    return entry


def _encode(name: str, releases: Mapping[str, Any]) -> tuple[bytes, dict[str, list[int]]]:
    """A package file's bytes (compact JSON) and the byte span of each release's value in them."""
    out = bytearray(_head(name))
    spans: dict[str, list[int]] = {}
    for n, (version, rel) in enumerate(releases.items()):
        out += (b"," if n else b"") + json.dumps(version).encode() + b":"
        value = json.dumps(rel, separators=(",", ":")).encode()
        spans[version] = [len(out), len(out) + len(value)]
        out += value
    out += b"}}\n"
    return bytes(out), spans


def write_snapshot(
    directory: Path,
    snapshot: Snapshot,
    *,
    pending: bool = False,
    unfinished: Iterable[str] = (),
) -> None:
    """Write a snapshot directory: the package files first, then its manifest, atomically.

    ``pending`` writes ``pending.json`` (a checkpoint of an update in progress, which commands do not
    use) instead of ``index.json``. Writing ``index.json`` completes the update: ``pending.json`` and
    the files neither manifest names any more are removed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    entries = {name: _package_file(directory, snapshot.packages[name]) for name in sorted(snapshot.packages)}
    manifest: dict[str, Any] = {
        "schema": SNAPSHOT_SCHEMA,
        "generated": snapshot.generated,
        "checked": snapshot.checked,
        "index": snapshot.index,
        "run": snapshot.run,
        "packages": entries,
    }
    if pending:
        manifest["unfinished"] = sorted(unfinished)
    write_json_atomic(directory / (PENDING if pending else MANIFEST), manifest)
    if not pending:
        with contextlib.suppress(FileNotFoundError):
            (directory / PENDING).unlink()
        _collect_garbage(directory)


def _collect_garbage(directory: Path) -> None:
    """Remove package files no manifest names, and temporary files left by a crash an hour ago."""
    import re
    import time

    keep: set[str] = set()
    for manifest in (MANIFEST, PENDING):
        try:
            keep.update(e["file"] for e in _read_manifest(directory / manifest)["packages"].values())
        except InvalidFact:
            continue
    package_file = re.compile(r"[A-Za-z0-9._-]+\.[0-9a-f]{16}\.json")
    for path in directory.iterdir():
        stale_tmp = path.name.endswith(".tmp") and path.stat().st_mtime < time.time() - 3600
        if (package_file.fullmatch(path.name) and path.name not in keep) or stale_tmp:
            with contextlib.suppress(OSError):
                path.unlink()


def remove_legacy_overlay() -> None:
    """Remove the single-file overlay an earlier version wrote (this version never reads it)."""
    for name in _LEGACY:
        with contextlib.suppress(OSError):
            (user_cache_dir() / name).unlink()


def write_json_atomic(path: Path, data: Any, *, indent: int | None = None) -> None:
    """Write JSON so that readers see the old file or the new one, never half of either.

    The text goes to a temporary file in the same directory, is flushed to disk, then replaces the
    target with ``os.replace`` (atomic on POSIX and Windows). On any error the temporary file is removed.
    """
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=indent, separators=(",", ":") if indent is None else None)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); keep the old file's mode, else the usual 0644
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
