"""Installed packages of the GPU stack, read from their metadata without importing any of them.

torch's build is read from ``torch/version.py`` as text (``cuda = '12.8'``); the cuDNN and NCCL that torch
will load come from the ``nvidia-cudnn-cu1x``/``nvidia-nccl-cu1x`` wheels beside it (or libraries bundled
in ``torch/lib``); the system's copies are found by listing the standard library folders, without
``ldconfig``. System CUDA toolkits come from ``/usr/local/cuda*/version.json``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from cudalign.model import InstalledPackage

__all__ = [
    "EXACT",
    "PREFIXES",
    "find_system_library",
    "interesting",
    "parse_metadata_headers",
    "read_packages",
    "read_toolkits",
    "torch_libraries",
    "torch_version_py",
    "variant_cuda",
]

EXACT = frozenset(
    {
        "torch", "torchvision", "torchaudio", "vllm", "xformers", "flash-attn", "flashinfer-python",
        "flashinfer-cubin", "flashinfer-jit-cache", "ctranslate2", "faster-whisper", "onnxruntime-gpu",
        "onnxruntime", "bitsandbytes", "triton", "pytorch-triton", "sglang", "deepspeed", "tensorflow",
        "paddlepaddle-gpu", "llama-cpp-python", "auto-gptq", "autoawq", "apex", "numba-cuda", "mamba-ssm",
        "causal-conv1d", "transformer-engine", "nvidia-ml-py", "pynvml",
    }
)  # fmt: skip
PREFIXES = ("nvidia-", "jax", "cupy", "cuda-", "tensorrt", "torch-tensorrt")
SYSTEM_LIB_DIRS = (
    "usr/lib/x86_64-linux-gnu",
    "usr/lib/aarch64-linux-gnu",
    "usr/lib64",
    "usr/lib",
    "usr/local/lib",
    "usr/local/cuda/lib64",
    "usr/local/cuda/targets/x86_64-linux/lib",
    "usr/local/cuda/targets/sbsa-linux/lib",
)
_DIST_DIR = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+?)(?:-py\d.*)?\.(?:dist|egg)-info$")
_VARIANT = re.compile(r"^cu(\d{2,3})$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def interesting(name: str) -> bool:
    """Whether a (normalised) distribution belongs to the GPU stack we report."""
    return name in EXACT or name.startswith(PREFIXES)


def variant_cuda(version: str) -> str | None:
    """The CUDA of a local label: ``2.6.0+cu124`` -> ``12.4``, ``+cu118`` -> ``11.8``; ``None`` otherwise."""
    _, _, local = version.partition("+")
    m = _VARIANT.match(local.split(".")[0]) if local else None
    if not m:
        return None
    digits = m.group(1)
    return f"{digits[:-1]}.{digits[-1]}"


def torch_version_py(text: str) -> dict[str, str | None]:
    """``__version__``, ``cuda``, ``hip`` and ``git_version`` from the text of ``torch/version.py``."""
    found: dict[str, str | None] = {}
    for key in ("__version__", "cuda", "hip", "git_version"):
        m = re.search(
            rf"^{re.escape(key)}\s*(?::[^=\n]*)?=\s*(?:'([^'\n]*)'|\"([^\"\n]*)\"|None)", text, re.M
        )
        if m:
            found[key] = m.group(1) if m.group(1) is not None else m.group(2)
    return found


def parse_metadata_headers(text: str) -> dict[str, list[str]]:
    """The header block of a ``METADATA``/``PKG-INFO`` file (RFC 822 style, continuation lines folded).

    Hand-rolled because ``email.parser`` alone costs ~15 ms to import, a twentieth of doctor's budget.
    """
    headers: dict[str, list[str]] = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            break  # the body (the long description) starts here
        if line[0] in " \t" and last is not None:
            headers[last][-1] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        last = key.strip().lower()
        headers.setdefault(last, []).append(value.strip())
    return headers


def _read_metadata(dist_dir: Path) -> tuple[str, str, tuple[str, ...]] | None:
    meta = dist_dir / ("METADATA" if dist_dir.name.endswith(".dist-info") else "PKG-INFO")
    try:
        with open(meta, encoding="utf-8", errors="replace") as fh:
            head = fh.read(262144)
    except OSError:
        return None
    headers = parse_metadata_headers(head)
    name, version = headers.get("name", [""])[0], headers.get("version", [""])[0]
    if not name or not version:
        return None
    return _normalise(name), version, tuple(headers.get("requires-dist", ()))


_VERSION_PY = ("torch", "torchvision", "torchaudio")


def _build(name: str, version: str, site: Path) -> tuple[str, str | None]:
    """``(version, cuda)``: the PyPI wheel of torch says ``2.11.0`` in its metadata but ``2.11.0+cu130``
    in ``torch/version.py``; the build label is the truth about the binary, so it wins when the public
    versions agree. ``cuda`` comes from ``version.py`` (torch) or the ``+cuXYZ`` label."""
    if name not in _VERSION_PY:
        return version, variant_cuda(version)
    try:
        text = (site / name / "version.py").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return version, variant_cuda(version)
    found = torch_version_py(text)
    full = found.get("__version__") or version
    if full.split("+")[0] != version.split("+")[0]:
        full = version  # a stale version.py from another install: trust the metadata
    if "cuda" in found:
        return full, found["cuda"] or None
    return full, variant_cuda(full)


def read_packages(site_dirs: Iterable[str | Path]) -> tuple[InstalledPackage, ...]:
    """The stack's packages in ``site_dirs`` (first match wins, as for imports), sorted by name."""
    seen: dict[str, InstalledPackage] = {}
    for site in site_dirs:
        base = Path(site)
        try:
            entries = [e.name for e in os.scandir(base)]
        except OSError:
            continue
        for entry in entries:
            m = _DIST_DIR.match(entry)
            if not m or not interesting(_normalise(m.group("name"))):
                continue
            meta = _read_metadata(base / entry)
            if meta is None or meta[0] in seen:
                continue
            name, version, requires = meta
            version, cuda = _build(name, version, base)
            seen[name] = InstalledPackage(
                name=name,
                version=version,
                cuda=cuda,
                requires=requires,
                location=str(base),
            )
    return tuple(sorted(seen.values(), key=lambda p: p.name))


def _lib_version(name: str, stem: str) -> str | None:
    m = re.fullmatch(rf"{re.escape(stem)}\.so\.(\d+(?:\.\d+)*)", name)
    return m.group(1) if m else None


def find_system_library(root: Path, stem: str, extra_dirs: Sequence[str] = ()) -> str | None:
    """The highest version of ``<stem>.so.X.Y.Z`` in the standard library folders (and ``extra_dirs``)."""
    best: tuple[tuple[int, ...], str] | None = None
    dirs = [root / d for d in SYSTEM_LIB_DIRS] + [Path(d) for d in extra_dirs if d]
    for d in dirs:
        try:
            names = [e.name for e in os.scandir(d) if e.name.startswith(f"{stem}.so.")]
        except OSError:
            continue
        for n in names:
            v = _lib_version(n, stem)
            if v:
                key = tuple(int(p) for p in v.split("."))
                if best is None or key > best[0]:
                    best = (key, v)
    return best[1] if best else None


def torch_libraries(packages: Sequence[InstalledPackage]) -> tuple[dict[str, str], dict[str, str]]:
    """``(cudnn, nccl)``: ``{"torch": version}`` for what torch will load from its wheels, where known.

    torch's ``libtorch_global_deps`` finds cuDNN and NCCL in the ``nvidia/`` folder beside it, so the
    wheel of the matching CUDA major (``nvidia-cudnn-cu13`` for a CUDA 13 torch) decides; a copy
    bundled in ``torch/lib`` is used when there is no wheel.
    """
    by_name = {p.name: p for p in packages}
    torch = by_name.get("torch")
    cudnn: dict[str, str] = {}
    nccl: dict[str, str] = {}
    if torch is None or not torch.cuda:
        return cudnn, nccl
    major = torch.cuda.split(".")[0]
    for lib, out in (("cudnn", cudnn), ("nccl", nccl)):
        wheel = by_name.get(f"nvidia-{lib}-cu{major}") or by_name.get(f"nvidia-{lib}")
        if wheel is not None:
            out["torch"] = wheel.version
            continue
        bundled = _bundled(Path(torch.location) / "torch/lib", f"lib{lib}") if torch.location else None
        if bundled:
            out["torch"] = bundled
    return cudnn, nccl


def _bundled(lib_dir: Path, stem: str) -> str | None:
    try:
        names = [e.name for e in os.scandir(lib_dir) if e.name.startswith(f"{stem}.so")]
    except OSError:
        return None
    versions = [v for v in (_lib_version(n, stem) for n in names) if v]
    return max(versions, key=lambda v: tuple(int(p) for p in v.split("."))) if versions else None


def _toolkit_version(path: Path) -> str | None:
    """A toolkit's version: ``version.json`` (``12.4.1``), ``version.txt``, else ``CUDA_VERSION`` in
    ``include/cuda.h`` (``13.0``). Not ``libcudart.so.X.Y.Z``: that is the runtime component's own
    version (13.0.96 in toolkit 13.0.2)."""
    try:
        data = json.loads((path / "version.json").read_text(encoding="utf-8"))
        return str(data["cuda"]["version"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        pass
    try:
        m = re.search(
            r"CUDA Version\s+(\d+(?:\.\d+)+)",
            (path / "version.txt").read_text(encoding="utf-8", errors="replace"),
        )
        if m:
            return m.group(1)
    except OSError:
        pass
    try:
        m = re.search(
            r"#define\s+CUDA_VERSION\s+(\d{1,9})\b",
            (path / "include/cuda.h").read_text(encoding="utf-8", errors="replace"),
        )
        if m:
            n = int(m.group(1))
            return f"{n // 1000}.{(n % 1000) // 10}"
    except OSError:
        pass
    return None


def read_toolkits(root: Path) -> tuple[str, ...]:
    """Versions of the CUDA toolkits under ``/usr/local/cuda*`` (``12.4.1``), one per real folder."""
    found: dict[str, str] = {}
    base = root / "usr/local"
    try:
        candidates = sorted(p for p in base.iterdir() if p.name.startswith("cuda"))
    except OSError:
        return ()
    for path in candidates:
        try:
            real = str(path.resolve())
        except (OSError, RuntimeError):  # RuntimeError: a link loop, before Python 3.13
            continue
        if real in found or not path.is_dir():
            continue
        version = _toolkit_version(path)
        if version:
            found[real] = version
    return tuple(sorted(set(found.values()), key=lambda v: tuple(int(p) for p in re.findall(r"\d+", v))))
