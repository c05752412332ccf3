"""Proxy and CA-bundle settings for ``facts update``, read from the environment as pip, uv and curl read them.

Proxies: ``https_proxy``/``HTTPS_PROXY`` for ``https://`` URLs, ``http_proxy``/``HTTP_PROXY`` for
``http://`` ones, ``all_proxy``/``ALL_PROXY`` for either when those are unset (the lower-case spelling
wins when both are set, as in curl and Python's ``urllib``). ``no_proxy``/``NO_PROXY`` lists hosts
reached directly: ``*``, host names (``example.com`` and ``.example.com`` both cover subdomains), IP
addresses, CIDR blocks (``10.0.0.0/8``), each optionally with ``:port``. Only ``http://`` proxies are
supported (HTTPS goes through them with ``CONNECT``); credentials in the proxy URL are sent as
``Proxy-Authorization: Basic``.

CA bundles: ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` (OpenSSL, uv), ``PIP_CERT`` (pip's ``--cert``),
``REQUESTS_CA_BUNDLE`` and ``CURL_CA_BUNDLE`` (requests, hence pip). When any is set, the certificates
of all that are set are trusted instead of the system's defaults; a file that cannot be read is an
input error naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from cudalign._dataclass import dataclass
from cudalign.errors import InvalidInput

if TYPE_CHECKING:
    import ssl

__all__ = ["CA_FILE_VARIABLES", "NetworkSettings", "Proxy"]

CA_FILE_VARIABLES = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
"""Environment variables naming a CA bundle file, in the order they are reported."""


@dataclass(frozen=True, slots=True)
class Proxy:
    """An HTTP proxy and the variable that named it."""

    host: str
    port: int
    variable: str
    authorization: str | None = None
    """The ``Proxy-Authorization`` header value, from credentials in the URL."""

    @property
    def url(self) -> str:
        """The proxy as it is shown in messages (never with its credentials)."""
        return f"http://{self.host}:{self.port}"

    def headers(self) -> dict[str, str]:
        return {"Proxy-Authorization": self.authorization} if self.authorization else {}


def _env(environ: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """``(variable, value)`` of the lower- or upper-case spelling that is set and not empty."""
    for variable in (name.lower(), name.upper()):
        value = environ.get(variable, "").strip()
        if value:
            return variable, value
    return None


def _parse_proxy(variable: str, value: str) -> Proxy:
    import base64
    import urllib.parse

    text = value if "://" in value else f"http://{value}"
    parts = urllib.parse.urlsplit(text)
    if parts.scheme.lower() != "http":
        raise InvalidInput(
            f"{variable}={value}: only http:// proxies are supported (HTTPS goes through them with CONNECT)"
        )
    try:
        port = parts.port or 80
    except ValueError:
        raise InvalidInput(f"{variable}={value}: not a valid port") from None
    if not parts.hostname:
        raise InvalidInput(f"{variable}={value}: no host name in the proxy URL")
    auth = None
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return Proxy(parts.hostname, port, variable, auth)


def _bypassed(entries: tuple[str, ...], host: str, port: int) -> bool:
    """Whether ``host:port`` matches a ``no_proxy`` entry (no regular expressions: linear in the list)."""
    import ipaddress

    host = host.lower().strip("[]").rstrip(".")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in entries:
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        want_port = None
        if entry.count(":") == 1 and not entry.startswith("["):  # host:port (not a bare IPv6 address)
            entry, _, port_text = entry.partition(":")
            want_port = int(port_text) if port_text.isdigit() else None
        if want_port is not None and want_port != port:
            continue
        entry = entry.strip("[]").rstrip(".")
        if address is not None and ("/" in entry or entry[:1].isdigit() or ":" in entry):
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry = entry.lstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    """The proxies, proxy exceptions and CA bundles ``facts update`` uses."""

    http_proxy: Proxy | None = None
    https_proxy: Proxy | None = None
    no_proxy: tuple[str, ...] = ()
    ca_files: tuple[tuple[str, str], ...] = ()
    """``(variable, path)`` of each CA bundle file named in the environment."""
    ca_dirs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> NetworkSettings:
        """Read the settings; a malformed proxy URL is an :class:`InvalidInput` naming the variable."""
        fallback = _env(environ, "all_proxy")
        proxies = []
        for scheme in ("http", "https"):
            found = _env(environ, f"{scheme}_proxy") or fallback
            proxies.append(_parse_proxy(*found) if found else None)
        no_proxy = _env(environ, "no_proxy")
        files: list[tuple[str, str]] = []
        for variable in CA_FILE_VARIABLES:
            path = environ.get(variable, "").strip()
            if path and path not in {p for _, p in files}:
                files.append((variable, path))
        cert_dir = environ.get("SSL_CERT_DIR", "").strip()
        dirs = tuple(("SSL_CERT_DIR", d) for d in cert_dir.split(":") if d) if cert_dir else ()
        return cls(
            proxies[0],
            proxies[1],
            tuple(no_proxy[1].split(",")) if no_proxy else (),
            tuple(files),
            dirs,
        )

    def proxy_for(self, scheme: str, host: str, port: int | None) -> Proxy | None:
        """The proxy a request to ``scheme://host:port`` goes through, or ``None`` for a direct one."""
        proxy = self.https_proxy if scheme == "https" else self.http_proxy
        if proxy is None:
            return None
        default = 443 if scheme == "https" else 80
        return None if _bypassed(self.no_proxy, host, port or default) else proxy

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying TLS context: the named CA bundles when any is set, else the system's defaults."""
        import ssl

        if not self.ca_files and not self.ca_dirs:
            return ssl.create_default_context()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
        for variable, path in self.ca_files:
            try:
                context.load_verify_locations(cafile=path)
            except (OSError, ssl.SSLError) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                raise InvalidInput(f"{variable}={path}: not a readable CA bundle ({why})") from None
        for variable, path in self.ca_dirs:
            try:
                context.load_verify_locations(capath=path)
            except (OSError, ssl.SSLError) as exc:
                raise InvalidInput(f"{variable}={path}: not a readable CA directory ({exc})") from None
        return context
