"""Benchmarks of ``cudalign verify --static`` (DESIGN.md: under 2 s over a site-packages with torch and vLLM).

Two site-packages are read: the one of ``CUDALIGN_BENCH_PYTHON`` (default: this interpreter; on the GPU
machine, its python3 with torch 2.11+cu130, the nvidia-* CUDA wheels, JAX and CuPy), and one generated
here with the shape of torch + vLLM + the CUDA wheels: 20,000 ordinary files, and 40 libraries whose
``.nv_fatbin`` holds 450 containers of 6 architectures each (torch 2.11's libtorch_cuda.so holds 444
containers and 2,800 entries; vLLM's ``_C`` and its flash-attention libraries are of that order).
``verify --static --gpu H200`` is timed as the command a user runs, beside ``python3 -c pass``.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from run import cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# the tests' ELF builder, imported by name so that mypy sees that file once, as the tests' module
_fixture = importlib.import_module("tests.verify.elf_fixture")
container, entry, write_library = _fixture.container, _fixture.entry, _fixture.write_library

__all__ = ["BENCHMARKS", "make_site"]

_ARCHS = (75, 80, 86, 90, 100, 120)


def make_site(root: Path, files: int = 20_000, libraries: int = 40, containers: int = 450) -> Path:
    """A site-packages folder of ``files`` plain files and ``libraries`` libraries with GPU code."""
    site = root / "venv" / "lib" / "python3.12" / "site-packages"
    for i in range(files):
        pkg = site / ("torch" if i % 3 else "vllm") / f"mod{i % 200}"
        pkg.mkdir(parents=True, exist_ok=True)
        (pkg / f"f{i}.py").write_text("x = 1\n")
    blobs = [
        container(*(entry("sass", a, b"\x7fELF" + b"\0" * 248) for a in _ARCHS)) for _ in range(containers)
    ]
    for i in range(libraries):
        owner = ("torch/lib", "vllm", "flash_attn", "xformers")[i % 4]
        write_library(site / owner / f"lib{i}.so", *blobs)
    return site


_SITE = make_site(Path(tempfile.mkdtemp(prefix="cudalign-bench-verify-")))
_WRAPPER = _SITE.parents[3] / "python"
_WRAPPER.write_text(f'#!/bin/sh\nPYTHONPATH={_SITE} exec {sys.executable} -S "$@"\n')
_WRAPPER.chmod(0o755)
_TARGET = os.environ.get("CUDALIGN_BENCH_PYTHON", sys.executable)


def _python_pass() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


_static = ("verify", "--static", "--gpu", "H200", "--driver", "580.65.06", "--fail-on", "never")

BENCHMARKS: list[tuple[object, ...]] = [
    ("python3 -c pass (the baseline of the ratios)", _python_pass, None, 10),
    (
        "cudalign verify --static, generated torch+vLLM site",
        cli(*_static, "--python", str(_WRAPPER)),
        2000,
        5,
    ),
    (f"cudalign verify --static, {_TARGET}", cli(*_static, "--python", _TARGET), 2000, 5),
]
