"""A small PyPI client: project pages (JSON and simple APIs) and wheel core metadata, never whole wheels.

Everything goes through one *door* (:class:`Door`): :class:`HttpDoor` talks HTTP with the standard
library, :class:`RecordingDoor` saves what another door answered, :class:`ReplayDoor` answers from such
recordings so tests run offline. Core metadata comes from the PEP 658 ``<wheel>.metadata`` file where the
index advertises it, otherwise from HTTP range reads of the wheel: the zip's end-of-central-directory
record, its central directory, then the ``*.dist-info/METADATA`` member alone.
"""

from __future__ import annotations

import json
import re
import struct
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from cudalign._dataclass import dataclass, field
from cudalign.errors import NetworkError

if TYPE_CHECKING:
    pass

from cudalign.facts.http import ConnectFailed, Door, HttpDoor, RecordingDoor, ReplayDoor, Response

__all__ = [
    "DEFAULT_INDEX",
    "ConnectFailed",
    "DistFile",
    "Door",
    "HttpDoor",
    "MetadataRead",
    "ProjectPage",
    "PyPIClient",
    "RecordingDoor",
    "ReplayDoor",
    "Response",
    "Validators",
    "parse_metadata",
]

DEFAULT_INDEX = "https://pypi.org"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_METADATA_NAME = r"^[^/]+\.dist[-.]info/METADATA$"  # torch 1.7.0 on Windows: ".dist.info"


@dataclass(frozen=True, slots=True)
class Validators:
    """What makes a request conditional: the last ``ETag`` and ``Last-Modified`` the index sent."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        out = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        return out

    @classmethod
    def of(cls, resp: Response) -> Validators:
        return cls(resp.headers.get("etag"), resp.headers.get("last-modified"))


@dataclass(frozen=True, slots=True)
class DistFile:
    """One file of a release as the index lists it."""

    filename: str
    url: str
    version: str
    size: int | None = None
    uploaded: str | None = None
    yanked: bool = False
    requires_python: str | None = None
    core_metadata: bool = False
    """The index advertises a PEP 658 ``.metadata`` file for it."""


@dataclass(frozen=True, slots=True)
class ProjectPage:
    """A project's files by version, as one API answered."""

    name: str
    url: str
    files: Mapping[str, tuple[DistFile, ...]]
    serial: int | None = None
    validators: Validators = field(default_factory=Validators)


@dataclass(frozen=True, slots=True)
class MetadataRead:
    """Core metadata of one wheel and where it was read."""

    url: str
    via: str
    """``pep658`` or ``range``."""
    requires_dist: tuple[str, ...]
    requires_python: str | None
    requests: int


def parse_metadata(text: str) -> tuple[tuple[str, ...], str | None]:
    """``Requires-Dist`` lines and ``Requires-Python`` of a METADATA/PKG-INFO file."""
    from email.parser import HeaderParser

    msg = HeaderParser().parsestr(text, headersonly=True)
    requires = tuple(" ".join(r.split()) for r in msg.get_all("Requires-Dist") or ())
    rp = msg.get("Requires-Python")
    return requires, (str(rp).strip() or None) if rp else None


class PyPIClient:
    """Reads project pages and core metadata from a PEP 503/691 index through a :class:`Door`."""

    def __init__(
        self,
        door: Door | None = None,
        *,
        index: str = DEFAULT_INDEX,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        tail_bytes: int = 65536,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.door: Door = door if door is not None else HttpDoor()
        self.index = index.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.tail_bytes = tail_bytes
        self._sleep = sleep
        self._lock = threading.Lock()
        self.requests = 0
        self.offline: NetworkError | None = None
        """The first connection failure; later requests fail at once instead of waiting again."""

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Response:
        """GET with retries and backoff on timeouts, 429 and 5xx; a connection refused is not retried."""
        hdrs = dict(headers or {})
        for attempt in range(self.retries + 1):
            if self.offline is not None:
                raise self.offline
            with self._lock:
                self.requests += 1
            try:
                resp = self.door.get(url, hdrs, self.timeout)
            except NetworkError as exc:
                if isinstance(exc, ConnectFailed):
                    self.offline = exc
                    raise
                if attempt == self.retries:
                    raise
            else:
                if resp.status not in _RETRY_STATUS:
                    return resp
                if attempt == self.retries:
                    raise NetworkError(f"{url}: HTTP {resp.status} after {attempt + 1} tries")
            self._sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    # ---- project pages ------------------------------------------------------------------------

    def _page(self, url: str, accept: str, validators: Validators | None) -> Response | None:
        resp = self.get(url, {"Accept": accept, **(validators.headers() if validators else {})})
        if resp.status == 304:
            return None
        if resp.status == 404:
            raise NetworkError(f"{url}: no such project on the index (HTTP 404)")
        if resp.status != 200:
            raise NetworkError(f"{url}: HTTP {resp.status}")
        return resp

    def project_json(self, name: str, validators: Validators | None = None) -> ProjectPage | None:
        """``/pypi/NAME/json``: every release with its files; ``None`` when unchanged (HTTP 304)."""
        import urllib.parse

        url = f"{self.index}/pypi/{name}/json"
        resp = self._page(url, "application/json", validators)
        if resp is None:
            return None
        try:
            data = json.loads(resp.body)
            files = {
                ver: tuple(
                    DistFile(
                        f["filename"],
                        urllib.parse.urljoin(url, f["url"]),
                        ver,
                        f.get("size"),
                        f.get("upload_time_iso_8601") or f.get("upload_time"),
                        bool(f.get("yanked")),
                        f.get("requires_python"),
                        bool(f.get("core-metadata") or f.get("data-dist-info-metadata")),
                    )
                    for f in entries
                )
                for ver, entries in data["releases"].items()
            }
            return ProjectPage(data["info"]["name"], url, files, data.get("last_serial"), Validators.of(resp))
        except (ValueError, KeyError, TypeError) as exc:
            raise NetworkError(f"{url}: not a PyPI JSON project page ({exc})") from None

    def project_simple(self, name: str, validators: Validators | None = None) -> ProjectPage | None:
        """``/simple/NAME/`` as PEP 691 JSON: files with their ``core-metadata`` flags."""
        import urllib.parse

        from packaging.utils import (
            InvalidSdistFilename,
            InvalidWheelFilename,
            parse_sdist_filename,
            parse_wheel_filename,
        )

        url = f"{self.index}/simple/{name}/"
        resp = self._page(url, SIMPLE_JSON, validators)
        if resp is None:
            return None
        try:
            data = json.loads(resp.body)
            files: dict[str, list[DistFile]] = {v: [] for v in data.get("versions", ())}
            for f in data["files"]:
                fn = f["filename"]
                try:
                    ver = str(
                        parse_wheel_filename(fn)[1] if fn.endswith(".whl") else parse_sdist_filename(fn)[1]
                    )
                except (InvalidWheelFilename, InvalidSdistFilename):
                    continue
                meta = f.get("core-metadata", f.get("dist-info-metadata", False))
                files.setdefault(ver, []).append(
                    DistFile(
                        fn,
                        urllib.parse.urljoin(url, f["url"]),
                        ver,
                        f.get("size"),
                        f.get("upload-time"),
                        bool(f.get("yanked")),
                        f.get("requires-python"),
                        bool(meta),
                    )
                )
            serial = data.get("meta", {}).get("_last-serial")
            return ProjectPage(
                data.get("name", name),
                url,
                {k: tuple(v) for k, v in files.items()},
                int(serial) if serial is not None else None,
                Validators.of(resp),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise NetworkError(f"{url}: not a PEP 691 simple page ({exc})") from None

    # ---- core metadata ------------------------------------------------------------------------

    def metadata(self, dist: DistFile) -> MetadataRead:
        """Core metadata of a wheel: PEP 658 where advertised and served, else range reads."""
        if dist.core_metadata:
            url = dist.url + ".metadata"
            resp = self.get(url)
            if resp.status == 200:
                requires, rp = parse_metadata(resp.body.decode("utf-8", "replace"))
                return MetadataRead(url, "pep658", requires, rp, 1)
            if resp.status not in (403, 404, 410):
                raise NetworkError(f"{url}: HTTP {resp.status}")
        text, n = self._range_metadata(dist.url)
        requires, rp = parse_metadata(text)
        return MetadataRead(dist.url, "range", requires, rp, n + int(dist.core_metadata))

    def _range(self, url: str, spec: str) -> tuple[bytes, int, int]:
        """Bytes of one range (``spec`` as in ``bytes=...``), their offset and the file's size."""
        resp = self.get(url, {"Range": f"bytes={spec}"})
        if resp.status != 206:
            raise NetworkError(f"{url}: the server does not answer range requests (HTTP {resp.status})")
        m = re.match(r"bytes (\d+)-(\d+)/(\d+)", resp.headers.get("content-range", ""))
        if not m:
            raise NetworkError(f"{url}: a range answer without a usable Content-Range header")
        return resp.body, int(m.group(1)), int(m.group(3))

    def _range_metadata(self, url: str) -> tuple[str, int]:
        """METADATA of a remote wheel in at most three range reads; returns the text and reads made."""
        import zlib

        tail, tail_at, _size = self._range(url, f"-{self.tail_bytes}")
        reads = 1
        cd_size, cd_at = _end_of_central_directory(tail, tail_at, url)

        def slice_or_fetch(start: int, length: int) -> bytes:
            nonlocal reads
            if start >= tail_at and start + length <= tail_at + len(tail):
                return tail[start - tail_at : start + length - tail_at]
            reads += 1
            data, got_at, _ = self._range(url, f"{start}-{start + length - 1}")
            return data[start - got_at :]

        directory = slice_or_fetch(cd_at, cd_size)
        entry = _find_metadata_entry(directory, url)
        method, comp_size, local_at, name_len, extra_len = entry
        # the local header's extra field may differ from the central one: read some slack
        want = 30 + name_len + extra_len + comp_size + 256
        local = (
            slice_or_fetch(local_at, want)
            if local_at + want <= cd_at
            else slice_or_fetch(local_at, cd_at - local_at)
        )
        if local[:4] != b"PK\x03\x04":
            raise NetworkError(f"{url}: METADATA's local header is not where the central directory says")
        lname, lextra = struct.unpack("<HH", local[26:30])
        data = local[30 + lname + lextra : 30 + lname + lextra + comp_size]
        if len(data) < comp_size:
            data = slice_or_fetch(local_at + 30 + lname + lextra, comp_size)
        if method == 8:
            data = zlib.decompressobj(-15).decompress(data)
        elif method != 0:
            raise NetworkError(f"{url}: METADATA is compressed with zip method {method}")
        return data.decode("utf-8", "replace"), reads


def _end_of_central_directory(tail: bytes, tail_at: int, url: str) -> tuple[int, int]:
    """Size and offset of the central directory, from the EOCD record (and its zip64 form).

    ``tail`` holds the file's last bytes, starting at offset ``tail_at``.
    """
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        raise NetworkError(f"{url}: no zip end-of-central-directory record in the last {len(tail)} bytes")
    cd_size, cd_at = struct.unpack("<LL", tail[at + 12 : at + 20])
    if cd_size == 0xFFFFFFFF or cd_at == 0xFFFFFFFF:
        loc = at - 20
        if loc < 0 or tail[loc : loc + 4] != b"PK\x06\x07":
            raise NetworkError(f"{url}: zip64 wheel without a zip64 locator in the tail read")
        (z64_at,) = struct.unpack("<Q", tail[loc + 8 : loc + 16])
        z = z64_at - tail_at
        if z < 0 or tail[z : z + 4] != b"PK\x06\x06":
            raise NetworkError(f"{url}: zip64 end-of-central-directory record not in the tail read")
        cd_size, cd_at = struct.unpack("<QQ", tail[z + 40 : z + 56])
    return cd_size, cd_at


def _find_metadata_entry(directory: bytes, url: str) -> tuple[int, int, int, int, int]:
    """(method, compressed size, local header offset, name length, extra length) of the METADATA member."""
    pos = 0
    while pos + 46 <= len(directory) and directory[pos : pos + 4] == b"PK\x01\x02":
        (method,) = struct.unpack("<H", directory[pos + 10 : pos + 12])
        comp_size, _usize, name_len, extra_len, comment_len = struct.unpack(
            "<LLHHH", directory[pos + 20 : pos + 34]
        )
        (local_at,) = struct.unpack("<L", directory[pos + 42 : pos + 46])
        name = directory[pos + 46 : pos + 46 + name_len].decode("utf-8", "replace")
        if re.match(_METADATA_NAME, name):
            extra = directory[pos + 46 + name_len : pos + 46 + name_len + extra_len]
            comp_size, local_at = _zip64_fields(extra, comp_size, _usize, local_at)
            return method, comp_size, local_at, name_len, extra_len
        pos += 46 + name_len + extra_len + comment_len
    raise NetworkError(f"{url}: no *.dist-info/METADATA in the wheel's central directory")


def _zip64_fields(extra: bytes, comp_size: int, usize: int, local_at: int) -> tuple[int, int]:
    """Replace 0xFFFFFFFF sizes/offsets with their values from the zip64 extra field (id 0x0001)."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack("<HH", extra[pos : pos + 4])
        if tag == 1:
            vals = list(struct.unpack(f"<{size // 8}Q", extra[pos + 4 : pos + 4 + size - size % 8]))
            if usize == 0xFFFFFFFF and vals:
                vals.pop(0)
            if comp_size == 0xFFFFFFFF and vals:
                comp_size = vals.pop(0)
            if local_at == 0xFFFFFFFF and vals:
                local_at = vals.pop(0)
            break
        pos += 4 + size
    return comp_size, local_at
