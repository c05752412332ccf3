"""The door to container registries: an image's config blob through the OCI distribution API.

``GET /v2/<name>/manifests/<tag>`` answers an image index (or Docker manifest list), whose entry for the
wanted platform names the image manifest, whose ``config`` descriptor names the config blob: a small
JSON document whose ``config.Env`` holds ``NVIDIA_REQUIRE_CUDA``, ``CUDA_VERSION``,
``NV_CUDNN_VERSION``, ``PYTORCH_VERSION`` … and ``config.Labels`` the image's labels. Layers are
never read.

Authentication is the registries' token flow (Docker Hub, GHCR, NGC, quay.io, ``distribution``): a
``401`` with ``WWW-Authenticate: Bearer realm=…,service=…,scope=…`` sends the client to the token
endpoint, anonymously or with the user's credentials from ``~/.docker/config.json`` (``auths.<host>.auth``,
base64 ``user:password``; ``$DOCKER_CONFIG`` moves the file). A ``Basic`` challenge is answered with
the same credentials. Credentials are never written to a message or the cache.

Manifests fetched by digest and config blobs are cached under the user cache directory by their
digest (content-addressed, checked against the digest, written atomically); a reference pinned by
digest is then read without any request. Tags are always asked anew (they move).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cudalign._dataclass import dataclass, field
from cudalign.errors import CudalignError, NetworkError

if TYPE_CHECKING:
    from cudalign.facts.http import Door, Response

__all__ = [
    "ImageConfig",
    "ManifestUnknown",
    "RegistryClient",
    "RegistryError",
    "docker_credentials",
    "registry_host",
]

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_LOOPBACK = ("localhost", "127.", "[::1]")
_MAX_DOCUMENT = 4 << 20
"""Manifests and config blobs are kilobytes; a larger answer is not one."""


class RegistryError(NetworkError):
    """The registry answered, but not with what the distribution API promises."""


class ManifestUnknown(CudalignError):
    """The registry has no such tag or digest (``404``, ``MANIFEST_UNKNOWN``, ``NAME_UNKNOWN``)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """What an image's config blob says, and where it was read."""

    registry: str
    repository: str
    reference: str
    """The tag or digest asked for."""
    digest: str
    """The platform manifest's digest (what ``@sha256:…`` pins)."""
    config_digest: str
    platform: str
    """``os/architecture[/variant]`` of the manifest read."""
    platforms: tuple[str, ...] = ()
    """Every platform the reference is published for: its index's entries, or the one manifest's."""
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    url: str = ""
    """The config blob's URL (the source of these facts)."""


def registry_host(registry: str) -> str:
    """The host that serves a registry's API (Docker Hub's is ``registry-1.docker.io``)."""
    return "registry-1.docker.io" if registry in ("docker.io", "index.docker.io") else registry


def _docker_config_path(environ: Mapping[str, str]) -> Path:
    base = environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def docker_credentials(registry: str, environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """``(user, password)`` for a registry from Docker's ``config.json`` ``auths``, or None.

    Only inline ``auth`` entries are read (credential helpers run programs: not ours to start). An
    unreadable or malformed file is treated as holding no credentials."""
    import base64
    import binascii

    env = os.environ if environ is None else environ
    try:
        data = json.loads(_docker_config_path(env).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    auths = data.get("auths") if isinstance(data, dict) else None
    if not isinstance(auths, dict):
        return None
    wanted = {registry, registry_host(registry)}
    if registry == "docker.io":
        wanted |= {"https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"}
    for key, entry in auths.items():
        host = str(key).removeprefix("https://").removeprefix("http://").split("/", 1)[0]
        if (key not in wanted and host not in wanted) or not isinstance(entry, dict):
            continue
        raw = entry.get("auth")
        if not isinstance(raw, str) or not raw:
            continue
        try:
            user, sep, password = base64.b64decode(raw, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return (user, password) if sep else None
    return None


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="…",service="…"`` -> ``("bearer", {...})``; parsed by hand, linear in the header."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " ,":
            i += 1
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip().lower()
        i = eq + 1
        if i < n and rest[i] == '"':
            end = rest.find('"', i + 1)
            end = n if end < 0 else end
            params[key] = rest[i + 1 : end]
            i = end + 1
        else:
            end = rest.find(",", i)
            end = n if end < 0 else end
            params[key] = rest[i:end].strip()
            i = end
    return scheme.lower(), params


def _error_code(body: bytes) -> str | None:
    try:
        errors = json.loads(body).get("errors")
        return str(errors[0].get("code")) if errors else None
    except (ValueError, AttributeError, IndexError, TypeError):
        return None


class RegistryClient:
    """Reads image configs from registries; one client per run (it keeps tokens and answers in memory).

    ``door`` is the HTTP door (default :class:`~cudalign.facts.http.HttpDoor`, with the environment's
    proxies and CA bundles); ``cache_dir`` the digest cache (default ``<user cache>/registry``);
    ``platform`` the ``os/arch[/variant]`` read from an index; ``insecure`` hosts spoken to over plain
    HTTP (loopback registries always are, as Docker treats them)."""

    def __init__(
        self,
        door: Door | None = None,
        *,
        cache_dir: Path | None = None,
        platform: str = "linux/amd64",
        insecure: frozenset[str] = frozenset(),
        environ: Mapping[str, str] | None = None,
        timeout: float = 15.0,
    ) -> None:
        self._door = door
        self._cache_dir = cache_dir
        self.platform = platform
        self._insecure = insecure
        self._environ = environ
        self._timeout = timeout
        self._tokens: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self.requests = 0
        """How many HTTP requests this client sent (tests and ``--verbose`` read it)."""

    # -- plumbing -----------------------------------------------------------------------------------
    @property
    def door(self) -> Door:
        if self._door is None:
            from cudalign.facts.http import HttpDoor

            self._door = HttpDoor(environ=self._environ)
        return self._door

    @property
    def cache_dir(self) -> Path:
        if self._cache_dir is None:
            from cudalign.facts.snapshot import user_cache_dir

            self._cache_dir = user_cache_dir() / "registry"
        return self._cache_dir

    def _base(self, registry: str) -> str:
        host = registry_host(registry)
        plain = host in self._insecure or host.startswith(_LOOPBACK)
        return f"{'http' if plain else 'https'}://{host}"

    def _get(self, registry: str, repository: str, url: str, accept: str) -> Response:
        key = (registry, repository)
        headers = {"Accept": accept}
        token = self._tokens.get(key)
        if token:
            headers["Authorization"] = token
        self.requests += 1
        resp = self.door.get(url, headers, self._timeout)
        if resp.status == 401 and "www-authenticate" in resp.headers:
            auth = self._authorize(registry, repository, resp.headers["www-authenticate"])
            headers["Authorization"] = auth
            self._tokens[key] = auth
            self.requests += 1
            resp = self.door.get(url, headers, self._timeout)
        return resp

    def _authorize(self, registry: str, repository: str, header: str) -> str:
        """Answer a challenge: a bearer token from the realm, or Basic credentials."""
        import base64
        import urllib.parse

        scheme, params = _challenge(header)
        creds = docker_credentials(registry, self._environ)
        basic = (
            "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode("ascii") if creds else None
        )
        if scheme == "basic":
            if basic is None:
                raise RegistryError(
                    f"{registry}/{repository}: the registry asks for a login and ~/.docker/config.json "
                    "holds none for it (docker login " + registry + ")"
                )
            return basic
        realm = params.get("realm")
        if scheme != "bearer" or not realm or not realm.startswith(("https://", "http://")):
            raise RegistryError(
                f"{registry}/{repository}: an authentication challenge cudalign cannot answer"
            )
        query = {"scope": params.get("scope") or f"repository:{repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        self.requests += 1
        resp = self.door.get(url, {"Authorization": basic} if basic else {}, self._timeout)
        host = urllib.parse.urlsplit(realm).netloc
        if resp.status in (401, 403):
            who = "the credentials in ~/.docker/config.json" if basic else "anonymous access"
            raise RegistryError(
                f"{registry}/{repository}: the token service {host} refused {who} (HTTP {resp.status})"
            )
        if resp.status != 200:
            raise RegistryError(
                f"{registry}/{repository}: the token service {host} answered HTTP {resp.status}"
            )
        try:
            data = json.loads(resp.body)
            token = data.get("token") or data.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{registry}/{repository}: the token service {host} sent no token")
        return f"Bearer {token}"

    # -- the cache ------------------------------------------------------------------------------------
    def _cached(self, digest: str) -> bytes | None:
        path = self.cache_dir / "sha256" / digest.removeprefix("sha256:")
        try:
            body = path.read_bytes()
        except OSError:
            return None
        return body if "sha256:" + hashlib.sha256(body).hexdigest() == digest else None

    def _store(self, digest: str, body: bytes) -> None:
        import tempfile

        folder = self.cache_dir / "sha256"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
            os.replace(tmp, folder / digest.removeprefix("sha256:"))
        except OSError:
            pass  # a cache that cannot be written only costs a request next time

    # -- the API ------------------------------------------------------------------------------------
    def _document(
        self, registry: str, repository: str, kind: str, reference: str, accept: str
    ) -> tuple[bytes, str, str]:
        """``(body, media type, digest)`` of a manifest or blob; by digest from the cache when there."""
        by_digest = _DIGEST.fullmatch(reference) is not None
        if by_digest:
            hit = self._cached(reference)
            if hit is not None:
                return hit, _media_type(hit, ""), reference
        name = (
            f"{registry}/{repository}:{reference}"
            if not by_digest
            else f"{registry}/{repository}@{reference}"
        )
        url = f"{self._base(registry)}/v2/{repository}/{kind}/{reference}"
        resp = self._get(registry, repository, url, accept)
        if resp.status == 404 or (resp.status == 400 and kind == "manifests"):
            code = _error_code(resp.body) or "NOT_FOUND"
            what = "tag" if not by_digest else "digest"
            raise ManifestUnknown(f"{name}: the registry has no such {what} ({code})", code=code)
        if resp.status in (401, 403):
            raise RegistryError(f"{name}: access denied (HTTP {resp.status}; docker login {registry}?)")
        if resp.status != 200:
            raise RegistryError(f"{name}: the registry answered HTTP {resp.status}")
        body = resp.body
        if len(body) > _MAX_DOCUMENT:
            raise RegistryError(f"{name}: a {kind[:-1]} of {len(body)} bytes is not one")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if by_digest and digest != reference:
            raise RegistryError(f"{name}: the answer does not match its digest")
        if by_digest or kind == "blobs":
            self._store(digest, body)
        return body, _media_type(body, resp.headers.get("content-type", "")), digest

    def config(self, registry: str, repository: str, reference: str) -> ImageConfig:
        """The config of ``registry/repository:reference`` (a tag or ``sha256:`` digest) for the client's
        platform. Raises :class:`ManifestUnknown` for a tag the registry lacks, :class:`RegistryError`
        for an answer that breaks the API, :class:`~cudalign.facts.http.ConnectFailed` when offline."""
        repo = repository
        if registry_host(registry) == "registry-1.docker.io" and "/" not in repo:
            repo = f"library/{repo}"  # Docker Hub's official images
        shown = f"{registry}/{repository}{'@' if _DIGEST.fullmatch(reference) else ':'}{reference}"
        body, media, digest = self._document(registry, repo, "manifests", reference, ACCEPT)
        doc = _json(body, f"{shown}: the manifest")
        platforms: tuple[str, ...] = ()
        if media in INDEX_TYPES or "manifests" in doc:
            entry, platforms = _pick(doc, self.platform, shown)
            body, media, digest = self._document(
                registry, repo, "manifests", entry, ", ".join(MANIFEST_TYPES)
            )
            doc = _json(body, f"{shown}: the {self.platform} manifest")
        cfg = doc.get("config")
        if not isinstance(cfg, dict) or not isinstance(cfg.get("digest"), str):
            raise RegistryError(f"{shown}: the manifest names no config blob")
        cdigest = str(cfg["digest"])
        if not _DIGEST.fullmatch(cdigest):
            raise RegistryError(f"{shown}: the config digest {cdigest[:80]!r} is not a sha256 digest")
        blob, _, _ = self._document(registry, repo, "blobs", cdigest, "application/json, */*")
        config = _json(blob, f"{shown}: the config blob")
        raw = config.get("config")
        inner: dict[str, Any] = raw if isinstance(raw, dict) else {}
        env: dict[str, str] = {}
        for item in inner.get("Env") or ():
            if isinstance(item, str) and "=" in item:
                k, _, v = item.partition("=")
                env[k] = v
        labels = {str(k): str(v) for k, v in (inner.get("Labels") or {}).items()}
        plat = "/".join(
            str(x) for x in (config.get("os"), config.get("architecture"), config.get("variant")) if x
        )
        return ImageConfig(
            registry=registry,
            repository=repository,
            reference=reference,
            digest=digest,
            config_digest=cdigest,
            platform=plat or self.platform,
            platforms=platforms or ((plat,) if plat else ()),
            env=env,
            labels=labels,
            url=f"{self._base(registry)}/v2/{repo}/blobs/{cdigest}",
        )


def _media_type(body: bytes, header: str) -> str:
    media = header.split(";", 1)[0].strip()
    if media in INDEX_TYPES + MANIFEST_TYPES:
        return media
    try:
        found = json.loads(body).get("mediaType")
    except (ValueError, AttributeError):
        return media
    return str(found) if found else media


def _json(body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise RegistryError(f"{what} is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"{what} is not a JSON object")
    return doc


def _pick(index: Mapping[str, Any], platform: str, shown: str) -> tuple[str, tuple[str, ...]]:
    """(the digest of the index entry for ``os/arch[/variant]``, every platform the index lists). An index
    without the wanted platform gives its first entry (the image still tells its CUDA; the platforms say
    it cannot run on the host)."""
    want = platform.split("/")
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise RegistryError(f"{shown}: the image index lists no manifests")
    found: list[tuple[list[str], object]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        raw = entry.get("platform")
        plat: dict[str, Any] = raw if isinstance(raw, dict) else {}
        have = [str(plat.get("os", "")), str(plat.get("architecture", ""))]
        if plat.get("variant"):
            have.append(str(plat["variant"]))
        if have[:2] == ["unknown", "unknown"]:
            continue  # attestation manifests (buildkit) are no platform
        found.append((have, entry.get("digest")))
    seen = tuple("/".join(have) for have, _ in found)
    if not found:
        raise ManifestUnknown(f"{shown}: its index lists no platform image", code="NO_PLATFORM")
    match = next(
        (
            (have, digest)
            for have, digest in found
            if have[:2] == want[:2] and (len(want) < 3 or have[2:3] == want[2:3])
        ),
        None,
    )
    have, digest = match or found[0]
    if isinstance(digest, str) and _DIGEST.fullmatch(digest):
        return digest, seen
    raise RegistryError(f"{shown}: the index entry for {'/'.join(have)} has no sha256 digest")
