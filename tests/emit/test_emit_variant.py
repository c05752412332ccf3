"""A matrix on a vLLM CUDA variant wheel (``vllm==0.25.0+cu129`` from vLLM's own index): the emitted
requirements, uv project and Dockerfile carry that index, and the real uv installs the variant from it.

The indexes are served by the test on loopback (PyPI with only the default build, vLLM's index with the
``+cu129`` one, PyTorch's with torch's); the emitted URLs are pointed at them. Catches: without the
vLLM index uv cannot find the pin. Catches not: a matrix on PyPI's own vLLM build gets no such index.
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cudalign.emit import emit, source_from_plan
from cudalign.emit.source import EmitSource
from cudalign.facts import load
from cudalign.hosts import describe_host
from cudalign.plan import make_plan
from emit.test_emit_validate import tool

VLLM_INDEX = "https://wheels.vllm.ai/0.25.0/cu129"
TORCH_INDEX = "https://download.pytorch.org/whl/cu129"


@functools.cache
def _sources() -> tuple[EmitSource, EmitSource]:
    """(the +cu129 matrix, the PyPI-build matrix) of vLLM 0.25.0 on an H100 with R570."""
    facts = load()
    host = describe_host(facts, gpus=["H100"], driver="570.133.20", python="3.12")
    plan = make_plan(["vllm==0.25.0"], facts, host)
    by_label = {m.label: m for m in plan.matrices}
    variant = next(label for label, m in by_label.items() if m.vllm and "+cu129" in m.vllm)
    default = next(label for label, m in by_label.items() if m.vllm and "+" not in m.vllm)
    return (
        source_from_plan(plan, host, facts, label=variant),
        source_from_plan(plan, host, facts, label=default),
    )


def _files(source: EmitSource, kind: str) -> dict[str, str]:
    return {f.path: f.text for f in emit(source, kind, load())}


def _wheel(name: str, version: str) -> tuple[str, bytes]:
    filename = f"{name}-{version}-py3-none-any.whl"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{name}/__init__.py", "")
        zf.writestr(f"{name}-{version}.dist-info/METADATA", meta)
        zf.writestr(
            f"{name}-{version}.dist-info/WHEEL",
            "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        zf.writestr(f"{name}-{version}.dist-info/RECORD", "")
    return filename, buf.getvalue()


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Three PEP 503 indexes on loopback: ``pypi`` (vllm 0.25.0, torch 2.11.0), ``vllm`` (vllm
    0.25.0+cu129), ``torch`` (torch 2.11.0+cu129); stopped when the module's tests end."""
    root = tmp_path_factory.mktemp("indexes")
    content = {
        "pypi": [("vllm", "0.25.0"), ("torch", "2.11.0")],
        "vllm": [("vllm", "0.25.0+cu129")],
        "torch": [("torch", "2.11.0+cu129")],
    }
    for index, wheels in content.items():
        for name, version in wheels:
            filename, data = _wheel(name, version)
            folder = root / index / name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / filename).write_bytes(data)
            link = filename.replace("+", "%2B")
            (folder / "index.html").write_text(f'<html><body><a href="{link}">{filename}</a></body></html>\n')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield {k: f"{base}/{k}/" for k in content}
    finally:
        server.shutdown()
        server.server_close()


def _local(text: str, urls: dict[str, str]) -> str:
    return text.replace(VLLM_INDEX, urls["vllm"]).replace(TORCH_INDEX, urls["torch"])


def _uv(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "UV_NO_CONFIG": "1",
        "UV_PYTHON_DOWNLOADS": "never",
    }
    return subprocess.run(
        [tool("uv"), *argv, "--no-progress", "--color", "never"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )


def test_the_variant_matrix_names_vllms_index() -> None:
    variant, _ = _sources()
    assert variant.vllm == "0.25.0+cu129"
    assert f"--extra-index-url {VLLM_INDEX}" in variant.index_options


def test_uv_locks_the_variant_from_the_emitted_index(tmp_path: Path, indexes: dict[str, str]) -> None:
    text = _files(_sources()[0], "uv")["pyproject.toml"]
    assert f'url = "{VLLM_INDEX}"' in text and 'vllm = { index = "vllm-cu129" }' in text
    (tmp_path / "pyproject.toml").write_text(_local(text, indexes))
    proc = _uv(tmp_path, "lock", "--default-index", indexes["pypi"], "--python", sys.executable)
    assert proc.returncode == 0, proc.stderr
    lock = (tmp_path / "uv.lock").read_text()
    assert 'name = "vllm"\nversion = "0.25.0+cu129"' in lock and indexes["vllm"].rstrip("/") in lock
    assert 'name = "torch"\nversion = "2.11.0+cu129"' in lock


def test_without_the_vllm_index_uv_cannot_find_the_variant(tmp_path: Path, indexes: dict[str, str]) -> None:
    text = _files(_sources()[0], "uv")["pyproject.toml"]
    assert 'vllm = { index = "vllm-cu129" }\n' in text
    text = text.replace('vllm = { index = "vllm-cu129" }\n', "")
    (tmp_path / "pyproject.toml").write_text(_local(text, indexes))
    proc = _uv(tmp_path, "lock", "--default-index", indexes["pypi"], "--python", sys.executable)
    assert proc.returncode != 0 and "vllm" in proc.stderr


def test_the_requirements_install_the_variant(tmp_path: Path, indexes: dict[str, str]) -> None:
    text = _files(_sources()[0], "requirements")["requirements.txt"]
    (tmp_path / "requirements.txt").write_text(_local(text, indexes))
    proc = _uv(
        tmp_path,
        "pip",
        "compile",
        "requirements.txt",
        "--index-url",
        indexes["pypi"],
        "--python-version",
        "3.12",
    )
    assert proc.returncode == 0, proc.stderr
    assert "vllm==0.25.0+cu129" in proc.stdout


def test_the_dockerfile_starts_from_the_variants_own_image_and_passes_hadolint(tmp_path: Path) -> None:
    files = _files(_sources()[0], "dockerfile")  # the -cu129 image ships it
    assert "FROM vllm/vllm-openai:v0.25.0-cu129 AS runtime" in files["Dockerfile"]
    assert "uv pip install" not in files["Dockerfile"]
    (tmp_path / "Dockerfile").write_text(files["Dockerfile"])
    proc = subprocess.run(
        [tool("hadolint"), "--no-color", "--failure-threshold", "info", str(tmp_path / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_pypi_build_matrix_gets_no_vllm_index() -> None:
    _, default = _sources()
    text = _files(default, "uv")["pyproject.toml"]
    assert "wheels.vllm.ai" not in text and "vllm = {" not in text
