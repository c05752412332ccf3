"""``facts update`` over a real network stack, offline: a local index, a real proxy, a self-signed CA.

The index is :mod:`tests.facts.index_server` on loopback (recorded PyPI answers); the proxy is
``tinyproxy`` (CI installs it with apt-get), started and stopped by the tests, whose log proves what
went through it; the HTTPS index uses a certificate made here with the ``openssl`` command.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cudalign.cli import main
from cudalign.errors import InvalidInput
from cudalign.facts.netconfig import NetworkSettings
from cudalign.facts.snapshot import MANIFEST, load_snapshot, overlay_path, overlay_state

from .index_server import Index, serve_index

SINCE = "2025-08-01"  # the recordings hold the wheel reads of faster-whisper 1.2.0 and 1.2.1
_VARIABLES = [
    *(f"{s}_proxy" for s in ("http", "https", "all", "no")),
    *(f"{s}_PROXY" for s in ("HTTP", "HTTPS", "ALL", "NO")),
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy or CA setting of the machine running the tests leaks in."""
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)


def update(
    capsys: pytest.CaptureFixture[str], index: Index, *extra: str
) -> tuple[int, dict[str, object], str]:
    code = main(
        ["facts", "update", "faster-whisper", "--index", index.url, "--since", SINCE, "--json", *extra]
    )
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else {}, err


def _status(data: dict[str, object]) -> str:
    packages = data["packages"]
    assert isinstance(packages, list)
    return str(packages[0]["status"])


# ---- settings from the environment ----------------------------------------------------------------


def test_lower_case_wins_and_all_proxy_is_the_fallback() -> None:
    env = {"HTTPS_PROXY": "http://upper:1", "https_proxy": "lower:2", "ALL_PROXY": "http://all:3"}
    settings = NetworkSettings.from_environ(env)
    assert settings.https_proxy is not None and settings.https_proxy.url == "http://lower:2"
    assert settings.https_proxy.variable == "https_proxy"
    assert settings.http_proxy is not None and settings.http_proxy.url == "http://all:3"


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "direct"),
    [
        ("example.com", "pypi.example.com", 443, True),
        (".example.com", "example.com", 443, True),
        ("example.com", "badexample.com", 443, False),
        ("10.0.0.0/8", "10.1.2.3", 443, True),
        ("10.0.0.0/8", "11.1.2.3", 443, False),
        ("127.0.0.1", "127.0.0.1", 8080, True),
        ("localhost:8080", "localhost", 8080, True),
        ("localhost:8080", "localhost", 443, False),
        ("*", "pypi.org", 443, True),
        (" pypi.org , files.pythonhosted.org ", "files.pythonhosted.org", 443, True),
        ("", "pypi.org", 443, False),
    ],
)
def test_no_proxy_entries(no_proxy: str, host: str, port: int, direct: bool) -> None:
    settings = NetworkSettings.from_environ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy})
    assert (settings.proxy_for("https", host, port) is None) is direct


def test_proxy_credentials_become_a_header_and_never_show() -> None:
    settings = NetworkSettings.from_environ({"HTTP_PROXY": "http://me:s%40cret@proxy:3128"})
    proxy = settings.http_proxy
    assert proxy is not None and "cret" not in proxy.url
    assert proxy.headers() == {"Proxy-Authorization": "Basic bWU6c0BjcmV0"}  # base64("me:s@cret")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HTTPS_PROXY": "socks5://proxy:1080"}, "HTTPS_PROXY=socks5://proxy:1080: only http:// proxies"),
        ({"http_proxy": "http://proxy:port"}, "http_proxy=http://proxy:port: not a valid port"),
    ],
)
def test_a_proxy_we_cannot_use_is_an_input_error_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        NetworkSettings.from_environ(env)


def test_a_missing_ca_bundle_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PIP_CERT", str(tmp_path / "nope.pem"))
    code = main(["facts", "update", "faster-whisper", "--index", "http://127.0.0.1:9"])
    _, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[0].startswith(
        f"cudalign: error: PIP_CERT={tmp_path / 'nope.pem'}: not a readable"
    )


# ---- a local index --------------------------------------------------------------------------------


def test_update_from_a_local_index_never_reaches_pypi(capsys: pytest.CaptureFixture[str]) -> None:
    with serve_index() as index:
        code, data, err = update(capsys, index, "--full")  # reuse nothing: read the wheels too
    assert code == 0, err
    assert _status(data) == "updated"
    assert any(p.startswith("/files/") and r for p, r, _ in index.requests)  # the wheels came from it too
    release = load_snapshot().release("faster-whisper", "1.2.1")
    assert release is not None and release.metadata["any"].url.startswith(index.url)


def test_a_corrupt_or_deleted_overlay_is_rebuilt_not_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    with serve_index() as index:
        assert update(capsys, index)[0] == 0
        code, data, _ = update(capsys, index)
        assert code == 0 and _status(data) == "unchanged"  # the stored ETag: 304
        manifest = json.loads((overlay_path() / MANIFEST).read_text())
        package = overlay_path() / manifest["packages"]["faster-whisper"]["file"]
        package.write_bytes(package.read_bytes()[:100])
        assert overlay_state().state == "corrupt"
        code, data, _ = update(capsys, index)
        assert code == 0 and _status(data) == "updated"
        assert overlay_state(deep=True).state == "ok"
        (overlay_path() / MANIFEST).unlink()  # the package files and their validators' old home survive
        (overlay_path().parent / "pypi_snapshot.http.json").write_text(json.dumps(manifest["packages"]))
        code, data, _ = update(capsys, index)
        assert code == 0 and _status(data) == "updated"
    assert overlay_state(deep=True).state == "ok"
    assert not (overlay_path().parent / "pypi_snapshot.http.json").exists()  # the old side file is gone


# ---- a real proxy ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A tinyproxy on loopback for one test: its URL and its log file."""
    exe = shutil.which("tinyproxy")
    if exe is None:
        pytest.skip("tinyproxy is not installed (.ci/run installs it with apt-get)")
    port, log = _free_port(), tmp_path / "tinyproxy.log"
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(
        f'Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile "{log}"\nLogLevel Connect\n'
        "MaxClients 20\nAllow 127.0.0.1\n"
    )
    proc = subprocess.Popen(
        [exe, "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    why = log.read_text() if log.exists() else ""
                    raise RuntimeError(f"tinyproxy did not start: {why}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_http_goes_through_the_proxy(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tinyproxy: tuple[str, Path],
    variable: str,
) -> None:
    proxy, log = tinyproxy
    monkeypatch.setenv(variable, proxy)
    with serve_index() as index:
        code, data, err = update(capsys, index)
    assert code == 0 and _status(data) == "updated", err
    assert f"GET {index.url}/pypi/faster-whisper/json" in log.read_text()


def test_no_proxy_goes_direct(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tinyproxy: tuple[str, Path]
) -> None:
    proxy, log = tinyproxy
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("NO_PROXY", "example.com,127.0.0.1")
    with serve_index() as index:
        code, data, _ = update(capsys, index)
    assert code == 0 and _status(data) == "updated" and index.requests
    assert "faster-whisper" not in (log.read_text() if log.exists() else "")


# ---- a custom CA ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1: (certificate, key)."""
    exe = shutil.which("openssl")
    if exe is None:
        pytest.skip("the openssl command is not installed")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [
            *(exe, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"),
            *("-keyout", str(key), "-out", str(cert), "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_an_untrusted_certificate_fails_with_the_fix(
    capsys: pytest.CaptureFixture[str], certificate: tuple[Path, Path]
) -> None:
    with serve_index(tls=certificate) as index:
        code, _, err = update(capsys, index)
    assert code == 1 and "Traceback" not in err
    assert "certificate is not trusted" in err and "SSL_CERT_FILE" in err


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE"])
def test_a_custom_ca_bundle_is_trusted(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    certificate: tuple[Path, Path],
    variable: str,
) -> None:
    monkeypatch.setenv(variable, str(certificate[0]))
    with serve_index(tls=certificate) as index:
        code, data, err = update(capsys, index)
    assert code == 0 and _status(data) == "updated", err


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy"])
def test_https_tunnels_through_the_proxy_with_a_custom_ca(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    certificate: tuple[Path, Path],
    tinyproxy: tuple[str, Path],
    variable: str,
) -> None:
    proxy, log = tinyproxy
    monkeypatch.setenv(variable, proxy)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with serve_index(tls=certificate) as index:
        code, data, err = update(capsys, index)
    assert code == 0 and _status(data) == "updated", err
    port = index.url.rsplit(":", 1)[1]
    assert f"CONNECT localhost:{port}" in log.read_text()


@pytest.mark.parametrize("target", ["file", "unwritable"])
def test_write_embedded_to_a_file_or_an_unwritable_place_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: str
) -> None:
    import os

    if target == "file":
        path = tmp_path / "snap.json"
        path.write_text("mine")
    else:
        if os.geteuid() == 0:
            path = Path("/proc/cudalign-snapshot")  # not writable even for root
        else:
            tmp_path.chmod(0o500)
            path = tmp_path / "snap"
    with serve_index() as index:
        code, _, err = update(capsys, index, "--write-embedded", str(path))
    assert code == 2 and "Traceback" not in err and len(err.splitlines()) == 1
    assert err.startswith(f"cudalign: error: {path}") or err.startswith("cudalign: error: --write-embedded")
    if target == "file":
        assert path.read_text() == "mine"
