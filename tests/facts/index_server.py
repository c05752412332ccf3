"""A local package index on loopback that answers from recorded PyPI responses (tests/recordings/pypi).

It serves ``/pypi/NAME/json`` and ``/simple/NAME/`` as pypi.org answered them, with file URLs rewritten
to ``/files/...`` on itself, and the recorded wheel byte ranges and ``.metadata`` answers under
``/files/...``. A suffix range longer than the one recorded (``bytes=-65536``) gets the recorded tail,
with its true ``Content-Range``, as a server may answer. Project pages carry an ``ETag`` and answer
``304`` to ``If-None-Match``. With ``tls`` (a ``(certfile, keyfile)`` pair) it speaks HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RECORDINGS", "Index", "serve_index"]

RECORDINGS = Path(__file__).parents[1] / "recordings" / "pypi"
_FILES = "https://files.pythonhosted.org"


@dataclass
class Index:
    """A running index: its base URL and every request it answered (path, Range, status)."""

    url: str
    requests: list[tuple[str, str | None, int]] = field(default_factory=list)


def _local_path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return ("/files" if url.startswith(_FILES) else "") + parts.path


def _load() -> dict[tuple[str, str | None], tuple[int, dict[str, str], bytes]]:
    answers = {}
    for path in sorted(RECORDINGS.glob("*.json")):
        record = json.loads(path.read_text("utf-8"))
        req, res = record["request"], record["response"]
        body = res["text"].encode() if "text" in res else base64.b64decode(res.get("base64", ""))
        answers[(_local_path(req["url"]), req["headers"].get("Range"))] = (
            res["status"],
            res["headers"],
            body,
        )
    return answers


@contextmanager
def serve_index(tls: tuple[Path, Path] | None = None, host: str = "127.0.0.1") -> Iterator[Index]:
    """Run the index on a free loopback port for the duration of the ``with`` block."""
    answers = _load()
    index = Index("")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            rng = self.headers.get("Range")
            hit = answers.get((path, rng))
            if hit is None and rng and rng.startswith("bytes=-"):
                hit = next(
                    (a for (p, r), a in answers.items() if p == path and r and r.startswith("bytes=-")), None
                )
            if hit is None:
                self._send(404, {}, b"not recorded\n")
                return
            status, headers, body = hit
            if path.startswith(("/pypi/", "/simple/")):
                body = body.replace(_FILES.encode(), f"{index.url}/files".encode())
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                headers = {**headers, "etag": etag}
                if self.headers.get("If-None-Match") == etag:
                    self._send(304, {"etag": etag}, b"")
                    return
            self._send(status, headers, body)

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            index.requests.append((urllib.parse.urlsplit(self.path).path, self.headers.get("Range"), status))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    scheme = "http"
    if tls is not None:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    name = "localhost" if tls is not None else host
    index.url = f"{scheme}://{name}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
