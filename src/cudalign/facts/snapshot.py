"""The PyPI-derived snapshot: every release of the tracked packages, as read from PyPI by ``facts update``.

The snapshot stores what PyPI says (requirements, Python range, wheel tags, where each was read);
what follows from it (torch's CUDA runtime, vLLM's torch pin) is computed by :mod:`cudalign.facts.derive`
so that the derivations are tested code, not stored conclusions.

JSON layout (schema ``cudalign.snapshot/1``)::

    {"schema": "cudalign.snapshot/1", "generated": "2026-11-22T13:00:00+00:00", "index": "https://pypi.org",
     "packages": {"torch": {"checked": "...", "source": "https://pypi.org/pypi/torch/json",
        "releases": {"2.9.0": {"uploaded": "2025-10-15", "yanked": false, "requires_python": ">=3.10",
            "wheels": [{"filename": "...", "python": ["cp311"], "abi": ["cp311"],
                        "platforms": ["manylinux_2_28_x86_64"]}],
            "metadata": {"linux_x86_64": {"file": "<wheel filename>", "url": "<url read>",
                                           "via": "pep658" | "range", "requires_dist": ["..."]}}}}}}}

Written compact (no indentation); ``yanked`` only when true, ``requires_python`` and ``metadata`` only
when known. ``metadata`` holds one representative wheel per platform key; ``via: "sdist"`` marks a
release with no wheels, whose requirements were not read. ``facts update`` keeps each project page's
``ETag``/``Last-Modified``/serial beside the overlay in ``pypi_snapshot.http.json``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cudalign.errors import InvalidFact

__all__ = [
    "EMBEDDED_PATH",
    "SNAPSHOT_SCHEMA",
    "MetadataRecord",
    "PackageHistory",
    "Release",
    "Snapshot",
    "Wheel",
    "load_snapshot",
    "overlay_path",
    "parse_snapshot",
    "read_snapshot",
    "snapshot_to_json",
    "user_cache_dir",
    "write_json_atomic",
]

SNAPSHOT_SCHEMA = "cudalign.snapshot/1"
EMBEDDED_PATH = Path(__file__).with_name("data") / "pypi_snapshot.json"


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
    """Where ``facts update`` writes the user overlay snapshot."""
    return user_cache_dir() / "pypi_snapshot.json"


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


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The whole PyPI-derived snapshot."""

    generated: str
    index: str
    origin: str
    """``embedded`` (shipped in the package) or ``overlay`` (written by ``facts update``)."""
    path: str
    packages: Mapping[str, PackageHistory] = field(default_factory=dict)

    def releases(self, package: str) -> Mapping[str, Release]:
        history = self.packages.get(package)
        return history.releases if history else {}

    def release(self, package: str, version: str) -> Release | None:
        return self.releases(package).get(version)

    @property
    def generated_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.generated)


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


class _LazyReleases(Mapping[str, Release]):
    """A package's releases, each built from its JSON the first time it is looked at.

    Most commands look at a handful of releases; building all 14,000 wheel records of the snapshot up
    front would cost every command about 80 ms.
    """

    __slots__ = ("_built", "_raw", "_where")

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        self._raw = raw
        self._built: dict[str, Release] = {}
        self._where = where

    def __getitem__(self, version: str) -> Release:
        rel = self._built.get(version)
        if rel is None:
            rel = self._built[version] = _release(version, self._raw[version], self._where)
        return rel

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


def parse_snapshot(data: Any, *, origin: str, path: str) -> Snapshot:
    """Validate and build a snapshot from its JSON form (releases are built when first looked at)."""
    if not isinstance(data, Mapping) or data.get("schema") != SNAPSHOT_SCHEMA:
        raise InvalidFact(f"{path}: not a {SNAPSHOT_SCHEMA} snapshot")
    try:
        packages = {}
        for name, pkg in data["packages"].items():
            releases = pkg["releases"]
            if not isinstance(releases, Mapping) or not all(
                isinstance(r, Mapping) for r in releases.values()
            ):
                raise TypeError(f"{name}: releases must be objects keyed by version")
            where = f"{path}: {name}"
            packages[name] = PackageHistory(
                name, str(pkg["checked"]), str(pkg["source"]), _LazyReleases(releases, where)
            )
        return Snapshot(str(data["generated"]), str(data["index"]), origin, path, packages)
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidFact(f"{path}: malformed snapshot ({type(exc).__name__}: {exc})") from None


def snapshot_to_json(snapshot: Snapshot) -> dict[str, Any]:
    """The JSON form :func:`parse_snapshot` reads back; empty fields are left out to keep it small."""

    def release(rel: Release) -> dict[str, Any]:
        out: dict[str, Any] = {"uploaded": rel.uploaded}
        if rel.yanked:
            out["yanked"] = True
        if rel.requires_python:
            out["requires_python"] = rel.requires_python
        out["wheels"] = [
            {
                "filename": w.filename,
                "python": list(w.python),
                "abi": list(w.abi),
                "platforms": list(w.platforms),
            }
            for w in rel.wheels
        ]
        if rel.metadata:
            out["metadata"] = {
                k: {"file": m.file, "url": m.url, "via": m.via, "requires_dist": list(m.requires_dist)}
                for k, m in sorted(rel.metadata.items())
            }
        return out

    return {
        "schema": SNAPSHOT_SCHEMA,
        "generated": snapshot.generated,
        "index": snapshot.index,
        "packages": {
            name: {
                "checked": pkg.checked,
                "source": pkg.source,
                "releases": {v: release(r) for v, r in pkg.releases.items()},
            }
            for name, pkg in sorted(snapshot.packages.items())
        },
    }


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


def read_snapshot(path: Path, origin: str) -> Snapshot:
    """Read and validate one snapshot file; ``origin`` is ``embedded`` or ``overlay``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidFact(f"{path}: cannot read snapshot: {exc}") from None
    return parse_snapshot(data, origin=origin, path=str(path))


def _generated_stamp(path: Path) -> dt.datetime | None:
    """The ``generated`` time from the head of a snapshot file, without parsing the rest.

    Our writer puts ``generated`` second, so it sits in the first bytes; anything else (a hand-edited
    file, a broken one) gives ``None`` and the caller parses the whole file instead.
    """
    import re

    try:
        with path.open("rb") as fh:
            head = fh.read(512).decode("utf-8", "replace")
    except OSError:
        return None
    m = re.search(r'"generated"\s*:\s*"([^"]+)"', head)
    if m is None:
        return None
    try:
        return dt.datetime.fromisoformat(m.group(1))
    except ValueError:
        return None


def load_snapshot(*, use_overlay: bool = True) -> Snapshot:
    """The user overlay when it exists and is valid and not older, else the embedded snapshot.

    Only the chosen file is parsed (each is a few MB): the two are compared by the ``generated`` stamp
    at the head of each file, and a broken overlay falls back to the embedded snapshot.
    """
    overlay = overlay_path() if use_overlay else None
    if overlay is not None and overlay.exists():
        mine, shipped = _generated_stamp(overlay), _generated_stamp(EMBEDDED_PATH)
        if mine is None or shipped is None or mine >= shipped:
            try:
                snap = read_snapshot(overlay, "overlay")
            except InvalidFact:
                snap = None  # a broken overlay never hides the embedded snapshot
            if snap is not None and (shipped is None or snap.generated_at >= shipped):
                return snap
    if not EMBEDDED_PATH.exists():
        raise InvalidFact(f"{EMBEDDED_PATH}: the embedded snapshot is missing; reinstall cudalign")
    return read_snapshot(EMBEDDED_PATH, "embedded")
