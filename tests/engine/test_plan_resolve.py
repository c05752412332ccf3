"""``plan --resolve``: every proposed matrix resolved by the real uv, against package indexes the test serves
on loopback (PyPI, vLLM's CUDA variant index, PyTorch's cu129 index) and, online, against PyPI.

Catches: a vLLM variant wheel whose metadata requires a Python the host lacks (that matrix falls to rejected,
the others are relabelled), an untracked requirement whose Python range excludes the host's (every matrix
falls). Catches not: the same plan on a Python they support keeps every matrix. Offline: no uv, or no index,
is one line and exit 2."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from cudalign.cli import main
from cudalign.facts import Facts, load
from cudalign.facts.pypi import PyPIClient
from cudalign.hosts import describe_host
from cudalign.model import Host, Plan, Verdict
from cudalign.plan import make_plan
from cudalign.plan_resolve import matrix_requirements, resolve_plan
from cudalign.stack import uvresolve

VLLM_INDEX = "https://wheels.vllm.ai/0.25.0/cu129"
TORCH_CU129 = "https://download.pytorch.org/whl/cu129"

# index -> (name, version, Requires-Python, Requires-Dist)
INDEXES: dict[str, list[tuple[str, str, str, list[str]]]] = {
    "simple": [
        ("vllm", "0.25.0", ">=3.10", ["torch==2.11.0"]),
        ("torch", "2.11.0", ">=3.10", []),
        ("demo-ok", "1.0", ">=3.9", []),
        ("demo-old", "1.0", ">=3.9, <3.12", []),
    ],
    "vllm-cu129": [("vllm", "0.25.0+cu129", ">=3.10", ["torch==2.11.0"])],
    "vllm-cu129-py313": [("vllm", "0.25.0+cu129", ">=3.13", ["torch==2.11.0"])],
    "torch-cu129": [("torch", "2.11.0+cu129", ">=3.10", [])],
}


def _wheel(name: str, version: str, python: str, deps: list[str]) -> tuple[str, bytes]:
    filename = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Python: {python}\n"
    meta += "".join(f"Requires-Dist: {d}\n" for d in deps)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{name.replace('-', '_')}/__init__.py", "")
        zf.writestr(f"{dist}/METADATA", meta)
        zf.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{dist}/RECORD", "")
    return filename, buf.getvalue()


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    """PEP 691 indexes on loopback, one per key of INDEXES (``BASE/<key>/<project>/``); stopped at the end."""
    files: dict[str, bytes] = {}
    pages: dict[tuple[str, str], list[dict[str, object]]] = {}
    for index, wheels in INDEXES.items():
        for name, version, python, deps in wheels:
            filename, data = _wheel(name, version, python, deps)
            key = f"{index}/{filename}"
            files[key] = data
            pages.setdefault((index, name), []).append(
                {
                    "filename": filename,
                    "url": f"/files/{key.replace('+', '%2B')}",
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
            parts = [p.replace("%2B", "+") for p in self.path.split("?")[0].split("/") if p]
            if len(parts) == 2 and (parts[0], parts[1]) in pages:
                body = json.dumps(
                    {"meta": {"api-version": "1.1"}, "name": parts[1], "files": pages[parts[0], parts[1]]}
                ).encode()
                self._send(200, "application/vnd.pypi.simple.v1+json", body)
            elif len(parts) == 3 and parts[0] == "files" and f"{parts[1]}/{parts[2]}" in files:
                self._send(200, "application/octet-stream", files[f"{parts[1]}/{parts[2]}"])
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
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _uv_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("UV_NO_CONFIG", "1")


FACTS: Facts = load()


def _plan(requirements: Sequence[str], python: str = "3.12") -> tuple[Plan, Host]:
    host = describe_host(FACTS, gpus=["H100"], driver="570.195.03", python=python)
    return make_plan(requirements, FACTS, host, max_matrices=3), host


def _resolve(
    plan: Plan, host: Host, base: str, vllm_index: str = "vllm-cu129", seen: list[list[str]] | None = None
) -> Plan:
    def run(argv: Sequence[str], stdin: str, env: Mapping[str, str]) -> tuple[int, str, str]:
        if seen is not None:
            seen.append([*argv, "<<", stdin])
        return uvresolve._run(argv, stdin, env)

    mirrors = {VLLM_INDEX: f"{base}/{vllm_index}", TORCH_CU129: f"{base}/torch-cu129"}
    client = PyPIClient(index=base, retries=0)
    return resolve_plan(
        plan,
        FACTS,
        host,
        index=f"{base}/simple",
        client=client,
        mirrors=mirrors,
        run=run,
    )


def test_the_plan_offers_the_pypi_and_the_variant_build() -> None:
    plan, _ = _plan(["vllm==0.25.0", "demo-ok"])
    assert [m.vllm for m in plan.matrices][:2] == ["0.25.0", "0.25.0+cu129"]
    variant = plan.matrices[1]
    assert matrix_requirements(plan, variant) == ["vllm==0.25.0+cu129", "demo-ok"]


def test_a_plan_the_installer_resolves_keeps_every_matrix(base: str) -> None:
    plan, host = _plan(["vllm==0.25.0", "demo-ok"])
    seen: list[list[str]] = []
    resolved = _resolve(plan, host, base, seen=seen)
    assert [(m.label, m.vllm, m.driver) for m in resolved.matrices] == [
        (m.label, m.vllm, m.driver) for m in plan.matrices
    ]
    assert [m.verdict for m in resolved.matrices] == [m.verdict for m in plan.matrices]
    assert resolved.rejected == plan.rejected
    assert len(seen) == len(plan.matrices)
    variant = seen[1]  # the +cu129 build: vLLM's index and the cu129 torch index, the host's Python
    assert variant[variant.index("--python-version") + 1] == "3.12"
    assert f"{base}/vllm-cu129" in variant and f"{base}/torch-cu129" in variant
    assert "--torch-backend" not in variant and "vllm==0.25.0+cu129\ndemo-ok\n" in variant
    pypi = seen[0]  # PyPI's own torch build: no other index
    assert f"{base}/torch-cu129" not in pypi and f"{base}/vllm-cu129" not in pypi


def test_a_variant_wheel_needing_a_newer_python_falls_to_rejected(base: str) -> None:
    plan, host = _plan(["vllm==0.25.0", "demo-ok"])
    resolved = _resolve(plan, host, base, vllm_index="vllm-cu129-py313")
    assert "0.25.0+cu129" not in [m.vllm for m in resolved.matrices]
    assert [m.label for m in resolved.matrices] == ["A", "B"]
    assert [m.vllm for m in resolved.matrices] == [m.vllm for m in plan.matrices if m.vllm == "0.25.0"]
    first = resolved.rejected[0]
    assert first.family == "vllm 0.25.0+cu129 + torch 2.11.0+cu129"
    assert "the resolver (uv) finds no solution" in first.reason and "3.13" in first.reason
    assert first.reason.endswith("(the installer's resolution, uv)")


def test_the_same_variant_on_a_python_it_supports_stays(base: str) -> None:
    plan, host = _plan(["vllm==0.25.0", "demo-ok"], python="3.13")
    resolved = _resolve(plan, host, base, vllm_index="vllm-cu129-py313")
    assert "0.25.0+cu129" in [m.vllm for m in resolved.matrices]
    assert resolved.rejected == plan.rejected


def test_an_untracked_package_outside_its_python_range_rejects_every_matrix(base: str) -> None:
    plan, host = _plan(["vllm==0.25.0", "demo-old==1.0"])
    assert plan.matrices and all(m.verdict in (Verdict.OK, Verdict.CAVEATS) for m in plan.matrices)
    resolved = _resolve(plan, host, base)
    assert resolved.matrices == ()
    reasons = [r for r in resolved.rejected if r.reason.endswith("(the installer's resolution, uv)")]
    assert len(reasons) == len(plan.matrices)
    assert all(r.code == "CA301" and "demo-old 1.0 requires Python >=3.9, <3.12" in r.reason for r in reasons)


def test_without_uv_plan_resolve_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "uv", None)  # the resolve extra is not installed
    monkeypatch.setenv("PATH", str(tmp_path))  # nor a uv on PATH
    rc = main(["plan", "vllm==0.25.0", "--gpu", "H100", "--driver", "580.95.05", "--resolve"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert "--resolve: uv is not installed" in err and "cudalign[resolve]" in err


def test_without_an_index_plan_resolve_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("UV_DEFAULT_INDEX", f"http://127.0.0.1:{port}/simple")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    rc = main(["plan", "vllm==0.25.0", "--gpu", "H100", "--driver", "580.95.05", "--resolve"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "--resolve: uv pip compile failed" in err and f"127.0.0.1:{port}" in err


def test_help_says_resolve_is_online(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--resolve online: resolve each proposed matrix with uv pip compile" in out


@pytest.mark.online
def test_an_untracked_package_whose_python_range_excludes_the_host_against_pypi(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["plan", "torch==2.6.0", "TTS==0.22.0", "--gpu", "T4", "--driver", "570.133.20", "--python"]
    main([*argv, "3.12", "--max", "1", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["matrices"]
    rc = main([*argv, "3.12", "--max", "1", "--resolve", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 1 and report["matrices"] == []
    assert any("requires Python >=3.6.0, <3.12" in r["reason"] for r in report["rejected"])
    assert main([*argv, "3.11", "--max", "1", "--resolve", "--json"]) in (0, 1)
    report = json.loads(capsys.readouterr().out)
    assert [m["torch"] for m in report["matrices"]] == ["2.6.0+cu124"]
