"""Resolving like the installer: the real uv against a package index the test serves on loopback, and
(online) against PyPI. Catches: a Python range only pip enforces, a resolution uv cannot find. Catches
not: the same requirements on a Python the release supports."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cudalign.facts import Facts, load
from cudalign.facts.pypi import PyPIClient
from cudalign.hosts import describe_host
from cudalign.rules import check, verdict
from cudalign.stack.uvresolve import closure, python_platform, resolve_exact

# name, version, Requires-Python, Requires-Dist
PACKAGES = [
    ("demo-tts", "0.22.0", ">=3.9.0, <3.12", ["demo-trainer>=0.0.36"]),
    ("demo-trainer", "0.0.36", ">=3.6.0, <3.12", []),
    ("demo-a", "1.0", ">=3.8", ["demo-c==1.0"]),
    ("demo-b", "1.0", ">=3.8", ["demo-c==2.0"]),
    ("demo-c", "1.0", ">=3.8", []),
    ("demo-c", "2.0", ">=3.8", []),
]


def _wheel(name: str, version: str, python: str, deps: list[str]) -> tuple[str, bytes]:
    dist = name.replace("-", "_")
    filename = f"{dist}-{version}-py3-none-any.whl"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Python: {python}\n"
    meta += "".join(f"Requires-Dist: {d}\n" for d in deps)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{dist}/__init__.py", "")
        zf.writestr(f"{dist}-{version}.dist-info/METADATA", meta)
        zf.writestr(
            f"{dist}-{version}.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        zf.writestr(f"{dist}-{version}.dist-info/RECORD", "")
    return filename, buf.getvalue()


@pytest.fixture(scope="module")
def index() -> Iterator[str]:
    """A PEP 691 index on loopback serving the demo wheels; stopped when the module's tests end."""
    files: dict[str, bytes] = {}
    pages: dict[str, list[dict[str, object]]] = {}
    for name, version, python, deps in PACKAGES:
        filename, data = _wheel(name, version, python, deps)
        files[filename] = data
        pages.setdefault(name, []).append(
            {
                "filename": filename,
                "url": f"/files/{filename}",
                "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
                "requires-python": python,
            }
        )

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self.do_GET(head=True)

        def do_GET(self, head: bool = False) -> None:
            self.head = head
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if len(parts) == 2 and parts[0] == "simple" and parts[1] in pages:
                versions = sorted({str(f["filename"]).split("-")[1] for f in pages[parts[1]]})
                body = json.dumps(
                    {
                        "meta": {"api-version": "1.1"},
                        "name": parts[1],
                        "files": pages[parts[1]],
                        "versions": versions,
                    }
                ).encode()
                self._send(200, "application/vnd.pypi.simple.v1+json", body)
            elif len(parts) == 2 and parts[0] == "files" and parts[1] in files:
                self._send(200, "application/octet-stream", files[parts[1]])
            else:
                self._send(404, "text/plain", b"not found")

        def _send(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not self.head:
                self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _uv_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("UV_NO_CONFIG", "1")


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


def _client(index: str) -> PyPIClient:
    return PyPIClient(index=index.rsplit("/simple", 1)[0], retries=0)


def test_python_range_upper_bound_is_a_finding(facts: Facts, index: str) -> None:
    host = describe_host(facts, gpus=["T4"], driver="580.65.06", python="3.12")
    got = closure(["demo-tts==0.22.0"], host, index=index, client=_client(index))
    assert dict(got.pins) == {"demo-tts": "0.22.0", "demo-trainer": "0.0.36"}  # uv alone lets it through
    assert any(c.startswith("demo-tts 0.22.0 requires Python >=3.9.0, <3.12") for c in got.conflicts)
    assert any(c.startswith("demo-trainer 0.0.36 requires Python") for c in got.conflicts)
    stack = resolve_exact(["demo-tts==0.22.0"], facts, host, index=index, client=_client(index))
    findings = check(host, stack, facts)
    assert verdict(findings, stack).value == "fails"
    assert any(f.code == "CA301" and "demo-tts 0.22.0 requires Python" in f.message for f in findings)


def test_python_range_that_holds_is_no_finding(facts: Facts, index: str) -> None:
    host = describe_host(facts, gpus=["T4"], driver="580.65.06", python="3.11")
    got = closure(["demo-tts==0.22.0"], host, index=index, client=_client(index))
    assert got.conflicts == () and dict(got.pins)["demo-tts"] == "0.22.0"
    stack = resolve_exact(["demo-tts==0.22.0"], facts, host, index=index, client=_client(index))
    assert not any(f.code == "CA301" for f in check(host, stack, facts))


def test_no_solution_becomes_a_conflict(facts: Facts, index: str) -> None:
    host = describe_host(facts, python="3.11")
    got = closure(["demo-a==1.0", "demo-b==1.0"], host, index=index, client=_client(index))
    assert got.pins == ()
    (text,) = got.conflicts
    assert text.startswith("the resolver (uv) finds no solution") and "demo-c" in text


def test_compatible_pins_resolve(facts: Facts, index: str) -> None:
    host = describe_host(facts, python="3.11")
    got = closure(["demo-a==1.0", "demo-c"], host, index=index, client=_client(index))
    assert dict(got.pins) == {"demo-a": "1.0", "demo-c": "1.0"} and got.conflicts == ()


def test_platform_and_backend_passed_to_uv(facts: Facts) -> None:
    seen: list[list[str]] = []

    def fake(argv: object, stdin: str, env: object) -> tuple[int, str, str]:
        assert isinstance(argv, list)
        seen.append(argv)
        return 0, "torch==2.6.0+cu124\n", ""

    host = describe_host(facts, gpus=["GH200"], driver="580.65.06", arch="aarch64", python="3.12")
    got = closure(["torch"], host, index_url="https://download.pytorch.org/whl/cu124", run=fake, client=None)
    argv = seen[0]
    assert argv[argv.index("--python-platform") + 1] == python_platform(host)
    assert python_platform(host).startswith("aarch64-manylinux_2_")
    assert argv[argv.index("--torch-backend") + 1] == "cu124"
    assert argv[argv.index("--python-version") + 1] == "3.12"
    assert got.pins == (("torch", "2.6.0+cu124"),)


def test_network_failure_is_an_error_not_a_verdict(facts: Facts) -> None:
    from cudalign.errors import NetworkError

    def fake(argv: object, stdin: str, env: object) -> tuple[int, str, str]:
        return 2, "", "error: Request failed after 3 retries\n  Caused by: dns error"

    with pytest.raises(NetworkError, match="uv pip compile failed"):
        closure(["torch"], describe_host(facts, python="3.12"), run=fake)


@pytest.mark.online
def test_tts_on_python_312_against_pypi(facts: Facts) -> None:
    host = describe_host(facts, gpus=["T4"], driver="580.65.06", python="3.12")
    stack = resolve_exact(["TTS==0.22.0"], facts, host)
    assert any("tts 0.22.0 requires Python >=3.9.0, <3.12" in c for c in stack.conflicts)
    findings = check(host, stack, facts)
    assert verdict(findings, stack).value == "fails"
