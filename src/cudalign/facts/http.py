"""The one door to the network for ``facts update``: HTTP with the standard library, recording, replay.

:class:`HttpDoor` keeps one connection per thread (PyPI's front end throttles new connections),
follows redirects, inflates gzip, and goes through the proxy and trusts the CA bundles the environment
names (:mod:`cudalign.facts.netconfig`); :class:`RecordingDoor` saves what
another door answered and :class:`ReplayDoor` answers from such recordings, so tests run offline.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cudalign._dataclass import dataclass, field
from cudalign.errors import NetworkError

if TYPE_CHECKING:
    import http.client
    import ssl

    from cudalign.facts.netconfig import NetworkSettings, Proxy


__all__ = ["ConnectFailed", "Door", "HttpDoor", "RecordingDoor", "ReplayDoor", "Response"]

USER_AGENT = "cudalign (facts update; +https://github.com/cudalign/cudalign)"


class ConnectFailed(NetworkError):
    """The index could not be reached at all (DNS, refused, unreachable): the machine is offline."""


@dataclass(frozen=True, slots=True)
class Response:
    """One HTTP answer, body already read."""

    url: str
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    """Header names in lower case."""
    body: bytes = b""


class Door(Protocol):
    """The only way out to the network: one GET, or a :class:`NetworkError`."""

    def get(self, url: str, headers: Mapping[str, str], timeout: float) -> Response: ...


class HttpDoor:
    """GET over ``http.client`` with one kept-alive connection per thread and host.

    Keeping connections alive matters: PyPI's CDN answers a few hundred small range reads per second
    over reused connections, but throttles the opening of new ones. ``environ`` (default: the process
    environment) names the proxies and CA bundles; a malformed setting raises
    :class:`~cudalign.errors.InvalidInput` here, before any request.
    """

    def __init__(self, *, max_redirects: int = 5, environ: Mapping[str, str] | None = None) -> None:
        from cudalign.facts.netconfig import NetworkSettings

        self._local = threading.local()
        self._max_redirects = max_redirects
        self.settings: NetworkSettings = NetworkSettings.from_environ(
            os.environ if environ is None else environ
        )
        self._tls: ssl.SSLContext | None = None
        if self.settings.ca_files or self.settings.ca_dirs:
            self._tls = self.settings.ssl_context()  # a bad bundle is reported now, once

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = self.settings.ssl_context()
        return self._tls

    def _connection(
        self, scheme: str, netloc: str, timeout: float
    ) -> tuple[http.client.HTTPConnection, Proxy | None]:
        import http.client
        import urllib.parse

        pool: dict[tuple[str, str], tuple[http.client.HTTPConnection, Proxy | None]]
        pool = self._local.__dict__.setdefault("pool", {})
        hit = pool.get((scheme, netloc))
        if hit is not None:
            return hit
        parts = urllib.parse.urlsplit(f"{scheme}://{netloc}")
        host, port = parts.hostname or netloc, parts.port
        proxy = self.settings.proxy_for(scheme, host, port)
        conn: http.client.HTTPConnection
        if scheme == "https":
            target = (proxy.host, proxy.port) if proxy else (host, port)
            conn = http.client.HTTPSConnection(*target, timeout=timeout, context=self._context())
            if proxy is not None:
                conn.set_tunnel(host, port or 443, headers=proxy.headers())
        else:
            conn = http.client.HTTPConnection(
                *((proxy.host, proxy.port) if proxy else (host, port)), timeout=timeout
            )
        pool[(scheme, netloc)] = (conn, proxy)
        return conn, proxy

    def _drop(self, scheme: str, netloc: str) -> None:
        pool = self._local.__dict__.get("pool", {})
        hit = pool.pop((scheme, netloc), None)
        if hit is not None:
            hit[0].close()

    def get(self, url: str, headers: Mapping[str, str], timeout: float) -> Response:
        import http.client
        import urllib.parse

        for _ in range(self._max_redirects + 1):
            parts = urllib.parse.urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            send = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip", **headers}
            for attempt in (0, 1):  # a kept-alive connection the server closed is retried once, fresh
                conn, proxy = self._connection(parts.scheme, parts.netloc, timeout)
                via = f" through the proxy {proxy.url} ({proxy.variable})" if proxy else ""
                if proxy is not None and parts.scheme == "http":  # a plain-HTTP proxy takes the whole URL
                    target = f"http://{parts.netloc}{target}"
                    send.update(proxy.headers())
                if conn.sock is None:  # a new connection: failing here means the host cannot be reached
                    try:
                        conn.connect()
                    except (OSError, http.client.HTTPException) as exc:
                        self._drop(parts.scheme, parts.netloc)
                        raise ConnectFailed(f"{url}: cannot connect{via}: {_why(exc, timeout)}") from None
                try:
                    conn.request("GET", target, headers=send)
                    resp = conn.getresponse()
                    ranged = "Range" in headers and resp.status == 200
                    # a server that ignores Range would send the whole wheel: read a little, then hang up
                    body = resp.read(1 << 20) if ranged else resp.read()
                    if ranged:
                        self._drop(parts.scheme, parts.netloc)
                    break
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                    self._drop(parts.scheme, parts.netloc)
                    if attempt:
                        raise NetworkError(f"{url}: connection lost: {exc}") from None
                except TimeoutError:
                    self._drop(parts.scheme, parts.netloc)
                    raise NetworkError(f"{url}: no answer within {timeout:g} s") from None
                except (OSError, http.client.HTTPException) as exc:
                    self._drop(parts.scheme, parts.netloc)
                    raise ConnectFailed(f"{url}: cannot connect{via}: {_why(exc, timeout)}") from None
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            if resp.status in (301, 302, 303, 307, 308) and "location" in hdrs:
                target_url = urllib.parse.urljoin(url, hdrs["location"])
                if urllib.parse.urlsplit(target_url).netloc != parts.netloc and "Authorization" in headers:
                    # credentials stay with their host (a registry's blob redirects to a signed CDN URL)
                    headers = {k: v for k, v in headers.items() if k != "Authorization"}
                url = target_url
                continue
            if hdrs.get("content-encoding") == "gzip":
                import gzip

                body = gzip.decompress(body)
            return Response(url, resp.status, hdrs, body)
        raise NetworkError(f"{url}: more than {self._max_redirects} redirects")


def _why(exc: BaseException, timeout: float) -> str:
    """A connection failure in words, with the fix for an untrusted certificate."""
    import ssl

    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"{exc.verify_message or exc} (the server's certificate is not trusted; "
            "set SSL_CERT_FILE to a CA bundle that holds its issuer)"
        )
    return str(exc)


def _key(url: str, headers: Mapping[str, str]) -> str:
    extra = "|".join(f"{k.lower()}={headers[k]}" for k in sorted(headers) if k in ("Range", "Accept"))
    return hashlib.sha256(f"{url}|{extra}".encode()).hexdigest()[:16]


class RecordingDoor:
    """Pass requests to another door and save each answer as a JSON file in ``directory``."""

    def __init__(self, inner: Door, directory: Path) -> None:
        self._inner = inner
        self._dir = directory
        directory.mkdir(parents=True, exist_ok=True)

    def get(self, url: str, headers: Mapping[str, str], timeout: float) -> Response:
        resp = self._inner.get(url, headers, timeout)
        keep = {k: v for k, v in resp.headers.items() if k in ("content-type", "content-range", "etag")}
        try:
            body: dict[str, str] = {"text": resp.body.decode("utf-8")}
        except UnicodeDecodeError:
            body = {"base64": base64.b64encode(resp.body).decode("ascii")}
        record = {
            "request": {
                "url": url,
                "headers": {k: v for k, v in headers.items() if k in ("Range", "Accept")},
            },
            "response": {"status": resp.status, "headers": keep, **body},
        }
        (self._dir / f"{_key(url, headers)}.json").write_text(json.dumps(record, indent=1) + "\n", "utf-8")
        return resp


class ReplayDoor:
    """Answer from recordings made by :class:`RecordingDoor`; a request never recorded is offline."""

    def __init__(self, directory: Path) -> None:
        self.responses: dict[str, Response] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        """Every request asked, in order (tests assert on them)."""
        for path in sorted(directory.glob("*.json")):
            rec = json.loads(path.read_text("utf-8"))
            req, res = rec["request"], rec["response"]
            body = res["text"].encode() if "text" in res else base64.b64decode(res.get("base64", ""))
            self.responses[_key(req["url"], req["headers"])] = Response(
                req["url"], res["status"], res["headers"], body
            )

    def get(self, url: str, headers: Mapping[str, str], timeout: float) -> Response:
        self.requests.append((url, dict(headers)))
        hit = self.responses.get(_key(url, headers))
        if hit is None:
            raise ConnectFailed(f"{url}: cannot connect: not in the recordings")
        return hit
