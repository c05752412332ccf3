"""The PyPI client: project pages, PEP 658, range reads of wheels, retries and errors, on recorded answers."""

from __future__ import annotations

import gzip
import http.server
import io
import re
import socket
import struct
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cudalign.errors import NetworkError
from cudalign.facts.pypi import (
    ConnectFailed,
    DistFile,
    HttpDoor,
    PyPIClient,
    ReplayDoor,
    Response,
    Validators,
    parse_metadata,
)

RECORDINGS = Path(__file__).parents[1] / "recordings" / "pypi"
TAIL = 1024  # the tail size the recordings were made with (tests/recordings/pypi/record.py)
FW_121 = (
    "https://files.pythonhosted.org/packages/05/99/49ee85903dee060d9f08297b4a342e5e0bcfca2f027a07b4ee0a38ab13f9/"
    "faster_whisper-1.2.1-py3-none-any.whl"
)


def replay() -> tuple[PyPIClient, ReplayDoor]:
    door = ReplayDoor(RECORDINGS)
    return PyPIClient(door, tail_bytes=TAIL, sleep=lambda s: None), door


def test_project_json_lists_releases_with_files_and_metadata_flags() -> None:
    client, _ = replay()
    page = client.project_json("faster-whisper")
    assert page is not None
    assert page.name == "faster-whisper"
    assert "1.2.1" in page.files and "0.2.0" in page.files
    wheel = next(f for f in page.files["1.2.1"] if f.filename.endswith(".whl"))
    assert wheel.core_metadata  # the JSON API advertises core metadata for it ...
    assert wheel.requires_python == ">=3.9"
    assert page.serial is not None


def test_project_simple_reads_pep691_json() -> None:
    client, door = replay()
    page = client.project_simple("faster-whisper")
    assert page is not None
    assert door.requests[-1][1]["Accept"] == "application/vnd.pypi.simple.v1+json"
    files = page.files["1.2.1"]
    assert "faster_whisper-1.2.1-py3-none-any.whl" in {f.filename for f in files}
    assert all(f.url.startswith("https://files.pythonhosted.org/") for f in files)


def test_advertised_metadata_that_404s_falls_back_to_range_reads() -> None:
    """... but the index answers 404 for the ``.metadata`` file: the reader takes the wheel's zip apart."""
    client, door = replay()
    dist = DistFile("faster_whisper-1.2.1-py3-none-any.whl", FW_121, "1.2.1", core_metadata=True)
    read = client.metadata(dist)
    assert read.via == "range"
    assert read.url == FW_121
    assert "ctranslate2<5,>=4.0" in read.requires_dist
    assert read.requires_python == ">=3.9"
    asked = [(u.rsplit("/", 1)[1], h.get("Range")) for u, h in door.requests]
    assert asked[0] == ("faster_whisper-1.2.1-py3-none-any.whl.metadata", None)
    ranges = [r for _, r in asked[1:]]
    assert ranges[0] == f"bytes=-{TAIL}"  # tail: end of central directory
    assert len(ranges) == 3  # then the central directory, then METADATA's local header and data
    for spec in ranges[1:]:
        m = re.fullmatch(r"bytes=(\d+)-(\d+)", spec or "")
        assert m and int(m.group(2)) - int(m.group(1)) < 16384  # never the whole 1.1 MB wheel


def test_pep658_metadata_is_used_when_served() -> None:
    client, door = replay()
    url = (
        "https://files.pythonhosted.org/packages/46/ae/36f87f514811c1389ff1a16e4e5b0b55f25ce782eb0eff2d7eaa92ff7deb/"
        "vllm-0.13.0-cp38-abi3-manylinux_2_31_x86_64.whl"
    )
    read = client.metadata(DistFile(url.rsplit("/", 1)[1], url, "0.13.0", core_metadata=True))
    assert read.via == "pep658" and read.url == url + ".metadata" and read.requests == 1
    assert "torch==2.9.0" in read.requires_dist
    assert len(door.requests) == 1


def test_parse_metadata_folds_requires_dist() -> None:
    text = (
        "Metadata-Version: 2.1\nName: x\nRequires-Python: >=3.10\n"
        "Requires-Dist: a (==1.0) ; extra == 'b'\n\nbody"
    )
    assert parse_metadata(text) == (("a (==1.0) ; extra == 'b'",), ">=3.10")


class ScriptedDoor:
    """Answers from a list, recording the headers it was asked with."""

    def __init__(self, answers: list[Response | NetworkError]) -> None:
        self.answers = answers
        self.asked: list[Mapping[str, str]] = []

    def get(self, url: str, headers: Mapping[str, str], timeout: float) -> Response:
        self.asked.append(headers)
        answer = self.answers.pop(0)
        if isinstance(answer, NetworkError):
            raise answer
        return answer


def test_retries_5xx_and_timeouts_with_backoff() -> None:
    waits: list[float] = []
    door = ScriptedDoor(
        [Response("u", 503), NetworkError("u: no answer within 10 s"), Response("u", 200, body=b"ok")]
    )
    client = PyPIClient(door, retries=2, backoff=0.5, sleep=waits.append)
    assert client.get("u").body == b"ok"
    assert waits == [0.5, 1.0]


def test_gives_up_after_retries() -> None:
    door = ScriptedDoor([Response("u", 502), Response("u", 502)])
    with pytest.raises(NetworkError, match="HTTP 502 after 2 tries"):
        PyPIClient(door, retries=1, sleep=lambda s: None).get("u")


def test_connection_refused_is_not_retried_and_trips_offline() -> None:
    door = ScriptedDoor([ConnectFailed("u: cannot connect: refused")])
    client = PyPIClient(door, retries=3, sleep=lambda s: None)
    with pytest.raises(NetworkError, match="cannot connect"):
        client.get("u")
    with pytest.raises(NetworkError, match="cannot connect"):
        client.get("v")  # fails at once: the door is not asked again
    assert len(door.asked) == 1


def test_conditional_request_304_means_unchanged() -> None:
    door = ScriptedDoor([Response("u", 304)])
    client = PyPIClient(door)
    assert client.project_json("x", Validators('"abc"', "Sat, 01 Nov 2026 00:00:00 GMT")) is None
    assert door.asked[0]["If-None-Match"] == '"abc"'
    assert door.asked[0]["If-Modified-Since"] == "Sat, 01 Nov 2026 00:00:00 GMT"


def test_unknown_project_is_a_network_error_with_the_url() -> None:
    client = PyPIClient(ScriptedDoor([Response("u", 404)]))
    with pytest.raises(NetworkError, match=r"/pypi/nope/json: no such project"):
        client.project_json("nope")


def test_server_ignoring_range_is_refused() -> None:
    client = PyPIClient(ScriptedDoor([Response("u", 200, body=b"PK")]))
    dist = DistFile("a-1-py3-none-any.whl", "https://x/a-1-py3-none-any.whl", "1")
    with pytest.raises(NetworkError, match="does not answer range requests"):
        client.metadata(dist)


class ZipDoor:
    """Serves one in-memory wheel with byte ranges; counts the bytes it sent."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.sent = 0

    def get(self, url: str, headers: Mapping[str, str], timeout: float) -> Response:
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", headers["Range"])
        assert m
        size = len(self.data)
        if not m.group(1):
            start, end = max(0, size - int(m.group(2))), size - 1
        else:
            start, end = int(m.group(1)), min(size - 1, int(m.group(2)))
        body = self.data[start : end + 1]
        self.sent += len(body)
        return Response(url, 206, {"content-range": f"bytes {start}-{end}/{size}"}, body)


@settings(max_examples=40, deadline=None)
@given(
    files=st.lists(st.binary(min_size=0, max_size=3000), min_size=0, max_size=30),
    requires=st.lists(
        st.sampled_from(["torch==2.9.0", "numpy>=1.26", 'triton; platform_system == "Linux"']), max_size=3
    ),
    compress=st.booleans(),
    tail=st.sampled_from([64, 512, 4096, 65536]),
)
def test_range_reader_extracts_metadata_from_any_wheel(
    files: list[bytes], requires: list[str], compress: bool, tail: int
) -> None:
    """Property: whatever sits before the dist-info, the reader returns METADATA's Requires-Dist exactly."""
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", method) as zf:
        for i, content in enumerate(files):
            zf.writestr(f"pkg/data_{i}.bin", content)
        meta = "Metadata-Version: 2.1\nName: pkg\nVersion: 1\n" + "".join(
            f"Requires-Dist: {r}\n" for r in requires
        )
        zf.writestr("pkg-1.dist-info/METADATA", meta)
        zf.writestr("pkg-1.dist-info/RECORD", "x" * 500)
    door = ZipDoor(buf.getvalue())
    client = PyPIClient(door, tail_bytes=tail)
    read = client.metadata(DistFile("pkg-1-py3-none-any.whl", "https://x/pkg-1-py3-none-any.whl", "1"))
    assert read.requires_dist == tuple(requires)
    assert read.requests <= 3
    # it reads the tail, the central directory and METADATA's member, nothing of the other files
    data = buf.getvalue()
    (cd_size,) = struct.unpack("<L", data[data.rfind(b"PK\x05\x06") + 12 :][:4])
    assert door.sent <= tail + cd_size + 30 + 64 + len(meta) + 256


# ---- the real transport, against a local server (loopback only) ---------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    peers: ClassVar[list[int]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.peers.append(self.client_address[1])
        if self.path == "/moved":
            self._send(302, headers={"Location": "/page"})
        elif self.path == "/page":
            if self.headers.get("If-None-Match") == '"e1"':
                self._send(304, headers={"ETag": '"e1"'})
            else:
                body = gzip.compress(b'{"ok": true}')
                self._send(200, body, {"ETag": '"e1"', "Content-Encoding": "gzip"})
        elif self.path == "/wheel":  # ignores Range and would send 4 MiB
            self._send(200, b"\0" * (4 << 20))
        elif self.path == "/slow":
            time.sleep(1.5)
            self._send(200, b"late")


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the door hangs up on /wheel on purpose


@pytest.fixture
def server() -> Iterator[str]:
    srv = _QuietServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    _Handler.peers.clear()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_http_door_follows_redirects_inflates_gzip_and_keeps_the_connection(server: str) -> None:
    door = HttpDoor()
    first = door.get(f"{server}/moved", {}, 5)
    assert first.status == 200 and first.url == f"{server}/page" and first.body == b'{"ok": true}'
    assert first.headers["etag"] == '"e1"'
    again = door.get(f"{server}/page", {"If-None-Match": '"e1"'}, 5)
    assert again.status == 304
    assert len(set(_Handler.peers)) == 1  # three requests, one connection


def test_http_door_cuts_off_a_server_that_ignores_range(server: str) -> None:
    resp = HttpDoor().get(f"{server}/wheel", {"Range": "bytes=-1024"}, 5)
    assert resp.status == 200 and len(resp.body) <= 1 << 20
    with pytest.raises(NetworkError, match="does not answer range requests"):
        PyPIClient(HttpDoor()).metadata(DistFile("w-1-py3-none-any.whl", f"{server}/wheel", "1"))


def test_http_door_times_out_with_a_clear_line(server: str) -> None:
    with pytest.raises(NetworkError, match=r"/slow: no answer within 0.3 s"):
        HttpDoor().get(f"{server}/slow", {}, 0.3)


def test_http_door_refused_connection_is_a_network_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectFailed, match=rf"127.0.0.1:{port}/x: cannot connect"):
        HttpDoor().get(f"http://127.0.0.1:{port}/x", {}, 2)


def test_range_reader_follows_a_zip64_end_record() -> None:
    """A wheel whose EOCD says 0xFFFFFFFF: the sizes come from the zip64 record the locator points at."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pkg/big.bin", b"x" * 5000)
        zf.writestr(
            "pkg-1.dist-info/METADATA", "Metadata-Version: 2.1\nName: pkg\nRequires-Dist: torch==2.9.0\n"
        )
    data = buf.getvalue()
    eocd = data.rfind(b"PK\x05\x06")
    entries, cd_size, cd_at = struct.unpack("<HLL", data[eocd + 10 : eocd + 20])
    z64 = struct.pack("<4sQHHLLQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, cd_size, cd_at)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, eocd, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    wheel = data[:eocd] + z64 + locator + end
    client = PyPIClient(ZipDoor(wheel), tail_bytes=256)
    read = client.metadata(DistFile("pkg-1-py3-none-any.whl", "https://x/pkg-1-py3-none-any.whl", "1"))
    assert read.requires_dist == ("torch==2.9.0",)
