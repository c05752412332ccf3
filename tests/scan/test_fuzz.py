"""Fuzzing: malformed input never raises out of a parser or out of ``scan``."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cudalign.facts import Facts
from cudalign.scan import parse_file, scan
from cudalign.scan.model import SourceFile

# fragments that real files of each kind are made of, shuffled and broken by hypothesis
_FRAGMENTS = [
    "torch==2.9.0+cu128",
    "vllm>=0.12",
    "-r other.txt",
    "-c c.txt",
    "--index-url",
    "--extra-index-url=",
    "https://download.pytorch.org/whl/cu128",
    "\\",
    "#",
    "# cudalign: ignore=CA604",
    ";",
    "python_version<'3.12'",
    "[project]",
    "dependencies = [",
    "]",
    '"',
    "'",
    "[[tool.uv.index]]",
    "url =",
    "{",
    "}",
    "[tool.uv.sources]",
    "FROM",
    "ARG CUDA=12.1.1",
    "${CUDA}",
    "${X:-y}",
    "AS",
    "RUN pip install",
    "RUN <<EOF",
    "EOF",
    "ENV A=1",
    "COPY . .",
    "WORKDIR /app",
    "services:",
    "  llm:",
    "    build:",
    "      context: ..",
    "    image:",
    "- ",
    "deploy:",
    "capabilities: [gpu]",
    "runtime: nvidia",
    "&a",
    "*a",
    "<<: *a",
    "!!python/object:os.system",
    "apiVersion: v1",
    "kind: Pod",
    "kind: List",
    "items:",
    "containers:",
    "nvidia.com/gpu: x",
    "---",
    "\t",
    "\x00",
    "\ufeff",
    "nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3",
    "[[package]]",
    'name = "torch"',
]
_TEXT = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=12)), max_size=40).map(
    lambda parts: "".join(p + ("\n" if i % 3 == 2 else " ") for i, p in enumerate(parts))
)
_KINDS = [
    "requirements",
    "pyproject",
    "uv-lock",
    "pylock",
    "dockerfile",
    "dockerfile:CUDA=12.8.1",
    "compose",
    "k8s",
]


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(_KINDS), text=_TEXT)
def test_parsers_never_raise(kind: str, text: str) -> None:
    result = parse_file("f", kind, text)
    assert result is None or isinstance(result, SourceFile)


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(_KINDS), text=st.text(max_size=300))
def test_parsers_never_raise_on_arbitrary_text(kind: str, text: str) -> None:
    result = parse_file("f", kind, text)
    assert result is None or isinstance(result, SourceFile)


_NAMES = [
    "requirements.txt",
    "svc/requirements.txt",
    "svc/Dockerfile",
    "Dockerfile",
    "compose.yaml",
    "pyproject.toml",
    "uv.lock",
    "pylock.toml",
    "k8s/deploy.yaml",
    "svc/pyproject.toml",
    "other.txt",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.dictionaries(st.sampled_from(_NAMES), _TEXT, min_size=1, max_size=6))
def test_scan_never_raises_on_malformed_repos(facts: Facts, files: dict[str, str]) -> None:
    root = Path(tempfile.mkdtemp(prefix="cudalign-fuzz-"))
    try:
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
        result = scan(root, facts)
        assert all(
            f.location is None or f.location.file in result.files or f.code != "CA609"
            for f in result.findings
        )
    finally:
        shutil.rmtree(root)
