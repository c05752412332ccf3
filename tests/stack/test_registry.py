"""Images read from a real registry: Debian's ``docker-registry`` (distribution 2.x) on loopback.

The module's fixture starts the registry with filesystem storage in a temporary directory and pushes
images by plain HTTP (blob uploads, then manifests): a single-platform image, a multi-arch index with
an attestation entry, an image whose config blob is not JSON. In front of it, a small loopback proxy
plays the token-auth registries (Docker Hub, GHCR, NGC): every API request without a bearer token gets
a ``401`` with a ``WWW-Authenticate: Bearer realm=…`` challenge, its token endpoint issues tokens
anonymously (``private/*`` only with Basic credentials), and it serves one manifest that is not JSON
(the registry itself refuses to store one).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cudalign.cli import main
from cudalign.errors import NetworkError
from cudalign.facts import load
from cudalign.facts.registry import RegistryClient, RegistryError, docker_credentials
from cudalign.stack.images import image_facts, parse_reference
from cudalign.stack.registry import RegistryReader

REGISTRY = shutil.which("docker-registry")
pytestmark = pytest.mark.skipif(REGISTRY is None, reason="Debian's docker-registry is not installed")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
REQ_124 = "cuda>=12.4 brand=tesla,driver>=470,driver<471"
REQ_128 = "cuda>=12.8"
REQ_130 = "cuda>=13.0"
USER, PASSWORD = "robot", "s3cret-pw"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


class Pusher:
    """Pushes blobs and manifests to the registry over plain HTTP, as ``docker push`` does."""

    def __init__(self, port: int) -> None:
        self.port = port

    def _call(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp

    def blob(self, repo: str, body: bytes) -> dict[str, object]:
        start = self._call("POST", f"/v2/{repo}/blobs/uploads/")
        assert start.status == 202, start.status
        location = start.headers["Location"]
        path = location.split(f":{self.port}", 1)[-1]
        sep = "&" if "?" in path else "?"
        done = self._call(
            "PUT",
            f"{path}{sep}digest={_digest(body)}",
            body,
            {"Content-Type": "application/octet-stream", "Content-Length": str(len(body))},
        )
        assert done.status == 201, done.status
        return {"mediaType": "application/octet-stream", "digest": _digest(body), "size": len(body)}

    def manifest(self, repo: str, tag: str, doc: dict[str, object], media: str) -> str:
        body = json.dumps(doc).encode()
        resp = self._call("PUT", f"/v2/{repo}/manifests/{tag}", body, {"Content-Type": media})
        assert resp.status == 201, resp.status
        return _digest(body)

    def image(
        self, repo: str, tag: str | None, env: list[str], arch: str = "amd64", raw: bytes | None = None
    ) -> str:
        config = (
            raw
            or json.dumps(
                {
                    "architecture": arch,
                    "os": "linux",
                    "config": {"Env": env, "Labels": {"org.example": "yes"}},
                    "rootfs": {"type": "layers", "diff_ids": []},
                }
            ).encode()
        )
        cfg = self.blob(repo, config)
        layer = self.blob(repo, b"")  # an empty layer: the reader must never fetch it
        doc = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {**cfg, "mediaType": "application/vnd.oci.image.config.v1+json"},
            "layers": [{**layer, "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"}],
        }
        return self.manifest(repo, tag or _digest(json.dumps(doc).encode()), doc, OCI_MANIFEST)


class Gate(BaseHTTPRequestHandler):
    """The token-auth front: challenge, token endpoint, pass-through, and one broken manifest."""

    upstream = 0
    tokens: ClassVar[dict[str, str]] = {}
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization")
        Gate.seen.append((self.path, auth))
        port = self.server.server_address[1]  # type: ignore[index]
        if self.path.startswith("/token?"):
            from urllib.parse import parse_qs, urlsplit

            q = parse_qs(urlsplit(self.path).query)
            scope = q.get("scope", [""])[0]
            repo = scope.split(":")[1] if scope.count(":") == 2 else ""
            basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if repo.startswith("private/") and auth != basic:
                self._send(401, b'{"details":"incorrect username or password"}', {})
                return
            token = secrets.token_hex(8)
            Gate.tokens[token] = repo
            self._send(200, json.dumps({"token": token}).encode(), {"Content-Type": "application/json"})
            return
        repo = self.path[4:].split("/manifests/")[0].split("/blobs/")[0]
        if not auth or not auth.startswith("Bearer ") or Gate.tokens.get(auth[7:]) != repo:
            challenge = (
                f'Bearer realm="http://127.0.0.1:{port}/token",service="test-registry",'
                f'scope="repository:{repo}:pull"'
            )
            body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
            self._send(401, body, {"WWW-Authenticate": challenge, "Content-Type": "application/json"})
            return
        if self.path == "/v2/acme/broken/manifests/1":
            self._send(200, b"{not json", {"Content-Type": OCI_MANIFEST})
            return
        conn = http.client.HTTPConnection("127.0.0.1", Gate.upstream, timeout=10)
        conn.request("GET", self.path, headers={"Accept": self.headers.get("Accept", "*/*")})
        resp = conn.getresponse()
        body = resp.read()
        keep = {k: v for k, v in resp.getheaders() if k.lower() in ("content-type", "docker-content-digest")}
        conn.close()
        self._send(resp.status, body, keep)


class Registries:
    def __init__(self, direct: str, gated: str, pusher: Pusher, digests: dict[str, str]) -> None:
        self.direct, self.gated, self.pusher, self.digests = direct, gated, pusher, digests


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registries]:
    root = tmp_path_factory.mktemp("registry")
    port = _free_port()
    (root / "config.yml").write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [str(REGISTRY), "serve", str(root / "config.yml")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    gate: ThreadingHTTPServer | None = None
    try:
        for _ in range(200):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/v2/")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("docker-registry did not start")
        push = Pusher(port)
        env_124 = [
            "PATH=/usr/bin",
            "CUDA_VERSION=12.4.1",
            f"NVIDIA_REQUIRE_CUDA={REQ_124}",
            "NV_CUDA_COMPAT_PACKAGE=cuda-compat-12-4",
            "NV_CUDNN_VERSION=9.1.0.70",
            "PYTORCH_VERSION=2.5.1",
        ]
        digests = {"app": push.image("acme/cuda-app", "1.0", env_124)}
        push.image("private/app", "1.0", env_124)
        push.image(
            "nvidia/cuda",
            "12.1.1-devel-ubuntu22.04",
            ["CUDA_VERSION=12.1.1", "NVIDIA_REQUIRE_CUDA=cuda>=12.1"],
        )
        push.image("acme/plain", "1", ["PATH=/usr/bin"])
        for tag, cudnn in (("cudnn8", "8.9.7.29"), ("cudnn9", "9.1.0.70")):
            push.image(
                "acme/asr",
                tag,
                ["CUDA_VERSION=12.4.1", f"NVIDIA_REQUIRE_CUDA={REQ_124}", f"NV_CUDNN_VERSION={cudnn}"],
            )
        for tag, compat in (("plain", []), ("compat", ["NV_CUDA_COMPAT_PACKAGE=cuda-compat-12-8"])):
            env = [
                "CUDA_VERSION=12.8.1",
                f"NVIDIA_REQUIRE_CUDA={REQ_128}",
                "NVIDIA_DISABLE_REQUIRE=1",
                *compat,
            ]
            push.image("acme/norequire", tag, env)
        push.image("acme/badconfig", "1", [], raw=b"\x00 not a config")
        amd = push.image("acme/multi", None, ["CUDA_VERSION=12.8.1", f"NVIDIA_REQUIRE_CUDA={REQ_128}"])
        arm = push.image(
            "acme/multi", None, ["CUDA_VERSION=13.0.0", f"NVIDIA_REQUIRE_CUDA={REQ_130}"], "arm64"
        )
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": arm,
                    "size": 1,
                    "platform": {"os": "linux", "architecture": "arm64"},
                },
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": amd,
                    "size": 1,
                    "platform": {"os": "linux", "architecture": "amd64"},
                },
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": arm,
                    "size": 1,
                    "platform": {"os": "unknown", "architecture": "unknown"},
                },
            ],
        }
        digests["multi"] = push.manifest("acme/multi", "2.0", index, OCI_INDEX)
        amd_only = {**index, "manifests": [index["manifests"][1]]}  # type: ignore[index]
        push.manifest("acme/multi", "amd64-only", amd_only, OCI_INDEX)
        # a mirror's copy of a tag the facts say is linux/amd64 only, published multi-arch: the index wins
        tag = "2.3.0-cuda12.1-cudnn8-runtime"
        pt_amd = push.image("mirror/pytorch/pytorch", None, ["CUDA_VERSION=12.1.1"])
        pt_arm = push.image("mirror/pytorch/pytorch", None, ["CUDA_VERSION=12.1.1"], "arm64")
        both = {
            **index,
            "manifests": [
                {**index["manifests"][0], "digest": pt_arm},  # type: ignore[index]
                {**index["manifests"][1], "digest": pt_amd},  # type: ignore[index]
            ],
        }
        push.manifest("mirror/pytorch/pytorch", tag, both, OCI_INDEX)
        digests["multi-amd64"] = amd
        Gate.upstream = port
        gate = ThreadingHTTPServer(("127.0.0.1", 0), Gate)
        threading.Thread(target=gate.serve_forever, daemon=True).start()
        yield Registries(f"127.0.0.1:{port}", f"127.0.0.1:{gate.server_address[1]}", push, digests)
    finally:
        if gate is not None:
            gate.shutdown()
            gate.server_close()
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Docker's config lives in the test's own directory (never the user's ~/.docker)."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    return tmp_path / "docker"


def _login(folder: Path, host: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}), encoding="utf-8")


def _check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(["check", *argv, "--format", "json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


# -- check --registry on a plain registry ---------------------------------------------------------------


def test_check_reads_the_config_env_and_catches_an_old_driver(
    registries: Registries, capsys: pytest.CaptureFixture[str]
) -> None:
    image = f"{registries.direct}/acme/cuda-app:1.0"
    code, report, _ = _check(capsys, "--image", image, "--gpu", "A100", "--driver", "535.54.03", "--registry")
    stack = report["stack"]
    assert isinstance(stack, dict)
    assert (
        stack["image_cuda"] == "12.4.1"
        and stack["image_require"] == REQ_124
        and stack["image_compat"] is True
    )
    assert any(
        f["id"].startswith(f"registry.{registries.direct}/acme/cuda-app@sha256:") for f in stack["facts"]
    )
    assert report["verdict"] == "fails" and code == 1
    codes = {f["code"] for f in report["findings"]}
    assert "CA401" in codes and "CA308" not in codes


def test_check_reads_the_config_and_passes_a_new_driver(
    registries: Registries, capsys: pytest.CaptureFixture[str]
) -> None:
    image = f"{registries.direct}/acme/cuda-app:1.0"
    code, report, _ = _check(capsys, "--image", image, "--gpu", "A100", "--driver", "550.54.15", "--registry")
    assert report["verdict"] == "ok" and code == 0


def test_without_the_flag_the_image_stays_unknown(
    registries: Registries, capsys: pytest.CaptureFixture[str]
) -> None:
    image = f"{registries.direct}/acme/cuda-app:1.0"
    _, report, _ = _check(capsys, "--image", image, "--gpu", "A100", "--driver", "550.54.15")
    assert report["verdict"] == "unknown"


def test_a_missing_tag_is_a_finding(registries: Registries, capsys: pytest.CaptureFixture[str]) -> None:
    image = f"{registries.direct}/nvidia/cuda:12.1-devel-ubuntu22.04"
    code, report, _ = _check(capsys, "--image", image, "--gpu", "A100", "--driver", "550.54.15", "--registry")
    assert report["verdict"] == "fails" and code == 1
    (finding,) = report["findings"]
    assert finding["code"] == "CA308"
    assert "no such tag (MANIFEST_UNKNOWN)" in finding["message"]
    assert "12.1-devel-ubuntu22.04" in finding["message"]
    # offline, NVIDIA's tag lists in the knowledge base say the same, with the nearest published tag
    _, offline, _ = _check(capsys, "--image", image, "--gpu", "A100", "--driver", "550.54.15")
    assert offline["verdict"] == "fails"
    (listed,) = offline["findings"]
    assert listed["code"] == "CA308" and "12.1.1-devel-ubuntu22.04" in listed["fix"]


def test_an_existing_tag_of_the_same_family_is_no_finding(
    registries: Registries, capsys: pytest.CaptureFixture[str]
) -> None:
    image = f"{registries.direct}/nvidia/cuda:12.1.1-devel-ubuntu22.04"
    code, report, _ = _check(capsys, "--image", image, "--gpu", "A100", "--driver", "550.54.15", "--registry")
    assert report["verdict"] == "ok" and code == 0 and report["findings"] == []
    assert report["stack"]["image_require"] == "cuda>=12.1"


@pytest.mark.parametrize(("tag", "caught"), [("cudnn8", True), ("cudnn9", False)])
def test_the_configs_cudnn_is_judged_by_the_cudnn_major_rules(
    registries: Registries, capsys: pytest.CaptureFixture[str], tag: str, caught: bool
) -> None:
    """NV_CUDNN_VERSION is the image's cuDNN: ctranslate2 4.5 (cuDNN 9) cannot load in a cuDNN 8 image."""
    image = f"{registries.direct}/acme/asr:{tag}"
    argv = ("ctranslate2==4.5.0", "--image", image, "--gpu", "A100", "--driver", "550.54.15", "--registry")
    _, report, _ = _check(capsys, *argv)
    assert report["stack"]["cudnn"] == ("8.9.7.29" if caught else "9.1.0.70")
    hits = [f for f in report["findings"] if f["code"] == "CA304"]
    assert bool(hits) is caught
    if caught:
        assert "needs cuDNN 9" in hits[0]["message"] and "cuDNN 8" in hits[0]["message"]


@pytest.mark.parametrize(
    ("tag", "gpu", "error"),
    [("plain", "A100", "error 35"), ("compat", "RTX 4090", "error 804")],
)
def test_an_image_that_disables_the_requirement_starts_and_its_cuda_calls_fail(
    registries: Registries, capsys: pytest.CaptureFixture[str], tag: str, gpu: str, error: str
) -> None:
    image = f"{registries.direct}/acme/norequire:{tag}"
    code, report, _ = _check(capsys, "--image", image, "--gpu", gpu, "--driver", "550.54.15", "--registry")
    assert code == 1 and report["stack"]["image_require_disabled"] is True
    (hit,) = [f for f in report["findings"] if f["code"] == "CA401"]
    assert "container starts" in hit["message"] and error in hit["message"]
    assert "will not start" not in hit["message"]
    assert any(r["id"] == "image.disable-require" for r in hit["facts"])


def test_an_image_that_disables_the_requirement_on_a_new_driver_is_no_finding(
    registries: Registries, capsys: pytest.CaptureFixture[str]
) -> None:
    image = f"{registries.direct}/acme/norequire:plain"
    code, report, _ = _check(
        capsys, "--image", image, "--gpu", "A100", "--driver", "570.124.06", "--registry"
    )
    assert code == 0 and not [f for f in report["findings"] if f["code"] == "CA401"]


def test_an_image_without_cuda_says_what_its_config_lacks(registries: Registries) -> None:
    reader = RegistryReader(load())
    info = image_facts(load(), f"{registries.direct}/acme/plain:1", reader)
    assert info.cuda is None and info.require is None
    assert "sets neither CUDA_VERSION nor NVIDIA_REQUIRE_CUDA" in info.unknown["image_require"]


def test_the_multi_arch_index_gives_the_hosts_platform(registries: Registries) -> None:
    facts = load()
    ref = f"{registries.direct}/acme/multi:2.0"
    amd = image_facts(facts, ref, RegistryReader(facts, platform="x86_64"))
    arm = image_facts(facts, ref, RegistryReader(facts, platform="aarch64"))
    assert (amd.cuda, amd.require) == ("12.8.1", REQ_128)
    assert (arm.cuda, arm.require) == ("13.0.0", REQ_130)
    assert amd.platforms == arm.platforms == ("linux/arm64", "linux/amd64")  # attestations are no platform
    s390 = RegistryReader(facts, platform="s390x")
    missing = image_facts(facts, ref, s390)  # the tag exists: its platforms say where it cannot run
    assert "image_tag" not in missing.unknown and missing.platforms == ("linux/arm64", "linux/amd64")
    assert missing.cuda == "13.0.0"  # the first entry's config still tells the image's CUDA


# -- the platforms an image is published for (CA404) ------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "arch", "fails"),
    [
        ("acme/multi:amd64-only", "aarch64", True),  # an index with one platform
        ("acme/cuda-app:1.0", "aarch64", True),  # a single manifest: its config's platform
        ("acme/multi:amd64-only", "x86_64", False),
        ("acme/multi:2.0", "aarch64", False),
    ],
)
def test_the_index_says_which_hosts_an_image_runs_on(
    registries: Registries, capsys: pytest.CaptureFixture[str], image: str, arch: str, fails: bool
) -> None:
    ref = f"{registries.direct}/{image}"
    argv = ("--image", ref, "--gpu", "GH200", "--driver", "580.65.06", "--arch", arch, "--registry")
    _, report, _ = _check(capsys, *argv)
    hits = [f for f in report["findings"] if f["code"] == "CA404"]
    assert bool(hits) is fails
    if fails:
        assert "linux/amd64 only" in hits[0]["message"] and "exec format error" in hits[0]["message"]
        assert any(r["id"].startswith(f"registry.{registries.direct}/") for r in hits[0]["facts"])


def test_the_registry_index_overrides_the_platform_facts(
    registries: Registries, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = f"{registries.direct}/mirror/pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime"
    argv = ("--image", ref, "--gpu", "GH200", "--driver", "580.65.06", "--arch", "aarch64")
    _, offline, _ = _check(capsys, *argv)  # the facts: pytorch/pytorch's CUDA tags are linux/amd64 only
    assert [f["code"] for f in offline["findings"] if f["code"] == "CA404"] == ["CA404"]
    _, online, _ = _check(capsys, *argv, "--registry")  # this registry's index publishes linux/arm64 too
    assert not [f for f in online["findings"] if f["code"] == "CA404"]
    assert online["stack"]["image_platforms"] == ["linux/arm64", "linux/amd64"]


def test_pytorch_version_becomes_the_torch_release(registries: Registries) -> None:
    info = image_facts(load(), f"{registries.direct}/acme/cuda-app:1.0", RegistryReader(load()))
    assert info.torch == "2.5.1" and info.torch_build is None and info.accelerator == "nvidia"


# -- token auth -------------------------------------------------------------------------------------------


def test_anonymous_bearer_token_flow(registries: Registries, tmp_path: Path) -> None:
    client = RegistryClient(cache_dir=tmp_path / "c")
    cfg = client.config(registries.gated, "acme/cuda-app", "1.0")
    assert cfg.env["CUDA_VERSION"] == "12.4.1" and cfg.labels == {"org.example": "yes"}
    assert cfg.digest == registries.digests["app"]
    token_calls = [p for p, _ in Gate.seen if p.startswith("/token?")]
    assert any("scope=repository%3Aacme%2Fcuda-app%3Apull" in p for p in token_calls)


def test_private_repo_uses_docker_config_credentials(
    registries: Registries, docker_config: Path, tmp_path: Path
) -> None:
    with pytest.raises(RegistryError, match="refused anonymous access"):
        RegistryClient(cache_dir=tmp_path / "c").config(registries.gated, "private/app", "1.0")
    _login(docker_config, registries.gated)
    assert docker_credentials(registries.gated) == (USER, PASSWORD)
    cfg = RegistryClient(cache_dir=tmp_path / "c").config(registries.gated, "private/app", "1.0")
    assert cfg.env["NVIDIA_REQUIRE_CUDA"] == REQ_124


def test_refused_credentials_are_one_line_without_the_secret(
    registries: Registries, docker_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docker_config.mkdir(parents=True, exist_ok=True)
    bad = base64.b64encode(b"robot:wrong-pw").decode()
    (docker_config / "config.json").write_text(json.dumps({"auths": {registries.gated: {"auth": bad}}}))
    code, _, err = _check(
        capsys, "--image", f"{registries.gated}/private/app:1.0", "--gpu", "A100", "--registry"
    )
    assert code == 2
    assert err.count("\n") == 1 and "refused the credentials in ~/.docker/config.json" in err
    assert "wrong-pw" not in err and bad not in err and "Traceback" not in err


def test_a_manifest_that_is_not_json_is_one_line(
    registries: Registries, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _check(
        capsys, "--image", f"{registries.gated}/acme/broken:1", "--gpu", "A100", "--registry"
    )
    assert code == 2 and err.startswith("cudalign: error: ") and err.count("\n") == 1
    assert "acme/broken:1: the manifest is not JSON" in err


def test_a_config_blob_that_is_not_json_is_one_line(
    registries: Registries, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _check(
        capsys, "--image", f"{registries.direct}/acme/badconfig:1", "--gpu", "A100", "--registry"
    )
    assert code == 2 and "the config blob is not JSON" in err and err.count("\n") == 1


def test_a_lenient_reader_notes_a_broken_answer_and_falls_back(registries: Registries) -> None:
    facts = load()
    reader = RegistryReader(facts, strict=False)
    info = image_facts(facts, f"{registries.gated}/acme/broken:1", reader)
    assert info.unknown.get("image", "").startswith("no image_family fact")
    assert len(reader.notes) == 1 and "the manifest is not JSON" in reader.notes[0]


# -- cache and offline ------------------------------------------------------------------------------------


class _Offline:
    def get(self, url: str, headers: object, timeout: float) -> object:
        from cudalign.facts.http import ConnectFailed

        raise ConnectFailed(f"{url}: cannot connect: offline")


def test_a_digest_is_read_from_the_cache_without_a_request(registries: Registries, tmp_path: Path) -> None:
    first = RegistryClient(cache_dir=tmp_path / "c")
    digest = registries.digests["multi-amd64"]
    cfg = first.config(registries.direct, "acme/multi", digest)
    assert cfg.env["CUDA_VERSION"] == "12.8.1" and first.requests == 2  # manifest and config blob only
    again = RegistryClient(_Offline(), cache_dir=tmp_path / "c")  # type: ignore[arg-type]
    assert again.config(registries.direct, "acme/multi", digest) == cfg and again.requests == 0
    names = sorted(p.name for p in (tmp_path / "c" / "sha256").iterdir())
    assert not any(n.startswith(".part-") for n in names) and len(names) == 2


def test_a_corrupt_cache_entry_is_fetched_again(registries: Registries, tmp_path: Path) -> None:
    digest = registries.digests["multi-amd64"]
    RegistryClient(cache_dir=tmp_path / "c").config(registries.direct, "acme/multi", digest)
    (tmp_path / "c" / "sha256" / digest[7:]).write_bytes(b"{}")
    client = RegistryClient(cache_dir=tmp_path / "c")
    assert client.config(registries.direct, "acme/multi", digest).env["CUDA_VERSION"] == "12.8.1"
    assert client.requests == 1


def test_offline_falls_back_to_the_knowledge_base_with_one_note(capsys: pytest.CaptureFixture[str]) -> None:
    image = f"127.0.0.1:{_free_port()}/nvidia/cuda:12.4.1-runtime-ubuntu22.04"
    code, report, err = _check(
        capsys, "--image", image, "--gpu", "A100", "--driver", "550.54.15", "--registry"
    )
    assert report["verdict"] == "ok" and code == 0
    assert err.count("\n") == 1 and "cannot connect" in err and "judged from the knowledge base" in err


def test_the_cache_lives_under_the_cudalign_cache_dir(registries: Registries, isolated_cache: Path) -> None:
    client = RegistryClient()
    client.config(registries.direct, "acme/cuda-app", "1.0")
    assert list((isolated_cache / "registry" / "sha256").iterdir())


# -- scan --registry ------------------------------------------------------------------------------------


def test_scan_reads_images_of_a_compose_file(
    registries: Registries, make_repo: Callable[[dict[str, str]], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(
        {
            "compose.yaml": "services:\n"
            f"  app:\n    image: {registries.direct}/acme/cuda-app:1.0\n"
            "    deploy:\n      resources:\n        reservations:\n          devices:\n"
            "            - driver: nvidia\n              count: 1\n              capabilities: [gpu]\n"
        }
    )
    code = main(
        ["scan", str(repo), "--gpu", "A100", "--driver", "535.54.03", "--registry", "--format", "json"]
    )
    online = json.loads(capsys.readouterr().out)
    assert code == 1 and "CA401" in {f["code"] for f in online["findings"]}
    main(["scan", str(repo), "--gpu", "A100", "--driver", "535.54.03", "--format", "json"])
    offline = json.loads(capsys.readouterr().out)
    assert "CA401" not in {f["code"] for f in offline["findings"] if f["severity"] == "error"}


def test_the_reference_parser_and_credentials_file() -> None:
    assert parse_reference("127.0.0.1:5000/acme/app:1").registry == "127.0.0.1:5000"
    assert docker_credentials("ghcr.io", {"DOCKER_CONFIG": "/nonexistent"}) is None


def test_network_errors_are_cudalign_errors() -> None:
    assert issubclass(RegistryError, NetworkError)
