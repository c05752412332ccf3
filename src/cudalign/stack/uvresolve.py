"""The resolver door: the exact closure ``uv pip compile`` picks for a host, judged like any stack.

``--resolve`` (online) runs the real resolver for the host's Python, platform and torch backend instead
of following only the packages the knowledge base tracks. What it returns is judged as an exact stack:
the tracked packages of the closure go through the rules as pinned releases, every package of the
closure has its ``Requires-Python`` checked against the host's Python (uv reads only the lower bound
of a range, pip refuses a release whose upper bound excludes the interpreter), and a resolution uv
cannot find becomes a conflict the rules report. uv is a PyPI package: ``pip install 'cudalign[resolve]'``.

The door is :class:`UvRunner`; tests give a real uv a local index, or replace the runner.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from cudalign._dataclass import dataclass
from cudalign.errors import InvalidInput, NetworkError
from cudalign.model import Host, Stack

if TYPE_CHECKING:
    from cudalign.facts import Facts
    from cudalign.facts.pypi import PyPIClient
    from cudalign.stack.images import ImageReader

__all__ = ["Closure", "UvRunner", "closure", "python_platform", "resolve_exact", "uv_command"]

UvRunner = Callable[[Sequence[str], str, Mapping[str, str]], "tuple[int, str, str]"]
"""``(argv, stdin, env) -> (exit status, stdout, stderr)``: how uv is run."""

_PIN = r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$"


@dataclass(frozen=True, slots=True)
class Closure:
    """What the resolver picked: exact pins, and why it could not (or pip would not) install them."""

    pins: tuple[tuple[str, str], ...]
    """(canonical name, version with its local label) of every package, as uv wrote them."""
    conflicts: tuple[str, ...] = ()
    """uv's 'No solution found' explanation, and releases whose Requires-Python excludes the host's."""
    python: str = ""
    platform: str = ""
    torch_backend: str | None = None


def python_platform(host: Host) -> str:
    """uv's ``--python-platform`` for a host: ``x86_64-manylinux_2_28``, ``aarch64-manylinux_2_35`` …"""
    arch = "aarch64" if (host.os.arch or "").lower() in ("aarch64", "arm64") else "x86_64"
    name = (host.os.system or "linux").lower()
    if name.startswith("win"):
        return "x86_64-pc-windows-msvc" if arch == "x86_64" else "aarch64-pc-windows-msvc"
    if name.startswith(("mac", "darwin")):
        return f"{arch}-apple-darwin"
    glibc = host.os.glibc
    m = re.match(r"^2\.(\d+)", glibc or "")
    minor = int(m.group(1)) if m else 28
    return f"{arch}-manylinux_2_{max(17, min(minor, 40))}"


def uv_command() -> list[str]:
    """The uv executable: the ``uv`` package's binary (the ``resolve`` extra), else one on PATH."""
    try:
        from uv import find_uv_bin

        return [find_uv_bin()]
    except (ImportError, FileNotFoundError):
        import shutil

        found = shutil.which("uv")
        if found:
            return [found]
    raise InvalidInput("--resolve: uv is not installed (pip install 'cudalign[resolve]')")


def _run(argv: Sequence[str], stdin: str, env: Mapping[str, str]) -> tuple[int, str, str]:
    try:
        proc = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, env=dict(env), timeout=600, check=False
        )
    except subprocess.TimeoutExpired:
        raise NetworkError("--resolve: uv pip compile did not finish within 600 s") from None
    except OSError as exc:
        raise InvalidInput(f"--resolve: cannot run uv: {exc}") from None
    return proc.returncode, proc.stdout, proc.stderr


def _backend(variant: str | None) -> str | None:
    return variant if variant and re.match(r"^(cu\d+|cpu|rocm[\d.]+)$", variant) else None


def closure(
    requirements: Iterable[str],
    host: Host,
    *,
    index_url: str | None = None,
    constraints: Iterable[str] = (),
    run: UvRunner | None = None,
    client: PyPIClient | None = None,
    index: str | None = None,
    extra_index_urls: Sequence[str] = (),
    torch_index: str | None = None,
) -> Closure:
    """Run ``uv pip compile`` for the host and read back the exact closure (or its conflict).

    ``index`` replaces PyPI (a mirror, or a local index in tests) for uv and for the Python-range
    check alike. ``extra_index_urls`` are more indexes to search (vLLM's CUDA variant index).
    ``torch_index`` serves torch's build instead of uv's ``--torch-backend`` (a mirror of
    ``download.pytorch.org/whl/<variant>``): it is searched beside the others for the best match, as
    pip searches its extra indexes."""
    from cudalign.stack.request import parse_requirements

    request = parse_requirements(tuple(requirements), index_url=index_url, constraints=tuple(constraints))
    py = host.python or f"{sys.version_info.major}.{sys.version_info.minor}"
    platform = python_platform(host)
    backend = _backend(request.variants.get("torch"))
    lines = [
        w.text
        for name in request.order
        for w in request.written.get(name, ())
        if not w.constraint and w.direct is None
    ]
    lines += [w.text for ws in request.written.values() for w in ws if w.direct is not None]
    argv = [*uv_command(), "pip", "compile", "-", "--python-version", py, "--python-platform", platform]
    argv += ["--python", sys.executable]  # builds sdists if it must; spares uv a search for another
    argv += ["--no-header", "--no-annotate", "--quiet", "--color", "never"]
    if index:
        argv += ["--index-url", index]
    for url in extra_index_urls:
        argv += ["--extra-index-url", url]
    if torch_index:
        argv += ["--extra-index-url", torch_index, "--index-strategy", "unsafe-best-match"]
    elif backend:
        argv += ["--torch-backend", backend]
    elif request.index_url and not index:
        argv += ["--extra-index-url", request.index_url]
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1"}
    if request.constraint_items:
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
            fh.write("\n".join(request.constraint_items) + "\n")
        argv += ["--constraint", fh.name]
    try:
        status, out, err = (run or _run)(argv, "\n".join(lines) + "\n", env)
    finally:
        if request.constraint_items:
            os.unlink(fh.name)
    if status != 0:
        conflict = _conflict(err)
        if conflict is None:
            last = next((ln.strip() for ln in reversed(err.splitlines()) if ln.strip()), "no output")
            first = next((ln.strip() for ln in err.splitlines() if ln.startswith("error:")), last)
            said = last if first == last else f"{first.removeprefix('error:').strip()}: {last}"
            raise NetworkError(f"--resolve: uv pip compile failed (exit {status}): {said}")
        return Closure((), (conflict,), py, platform, backend)
    pins = []
    for line in out.splitlines():
        m = re.match(_PIN, line.split(";", 1)[0].split("#", 1)[0].strip())
        if m:
            pins.append((str(canonicalize_name(m.group(1))), m.group(2)))
    misses = _python_misses(pins, py, client, index)
    return Closure(tuple(pins), tuple(misses), py, platform, backend)


def _conflict(stderr: str) -> str | None:
    """uv's explanation of an impossible resolution, as one sentence."""
    text = re.sub(r"[\u2500-\u257f\u00d7]", " ", stderr)
    m = re.search(r"No solution found when resolving dependencies:?(.*)", text, re.S)
    if m is None:
        return None
    body = " ".join(
        ln.strip() for ln in m.group(1).splitlines() if ln.strip() and not ln.strip().startswith("hint")
    )
    body = re.sub(r"\s+", " ", re.sub(r"\bcause: ", "", body)).strip().rstrip(".")
    return f"the resolver (uv) finds no solution: {body}" if body else "the resolver (uv) finds no solution"


def _python_misses(
    pins: Sequence[tuple[str, str]], python: str, client: PyPIClient | None, index: str | None
) -> list[str]:
    """Releases of the closure whose every file's Requires-Python excludes the host's Python."""
    if not pins:
        return []
    from concurrent.futures import ThreadPoolExecutor

    from cudalign.facts.pypi import DEFAULT_INDEX, PyPIClient

    pypi = client or PyPIClient(index=index.rsplit("/simple", 1)[0] if index else DEFAULT_INDEX)
    try:
        target = Version(python)
    except InvalidVersion:
        return []

    def one(pin: tuple[str, str]) -> str | None:
        name, version = pin
        try:
            page = pypi.project_simple(name)
        except NetworkError:
            return None
        if page is None:
            return None
        public = Version(version).public if _parses(version) else version
        files = [f for v, fs in page.files.items() if _same(v, version, public) for f in fs]
        ranges = {f.requires_python for f in files if f.requires_python}
        if not files or not ranges or len(ranges) != 1:
            return None
        spec = next(iter(ranges))
        try:
            ok = SpecifierSet(spec).contains(target, prereleases=True)
        except InvalidSpecifier:
            return None
        if ok:
            return None
        return (
            f"{name} {version} requires Python {spec}; the host has Python {python} (pip: 'requires a "
            "different Python'; uv reads only the lower bound)"
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        return [m for m in pool.map(one, pins) if m]


def _parses(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _same(listed: str, version: str, public: str) -> bool:
    if listed in (version, public):
        return True
    try:
        return Version(listed) == Version(public)
    except InvalidVersion:
        return False


def resolve_exact(
    requirements: Iterable[str],
    facts: Facts,
    host: Host,
    *,
    image: str | None = None,
    index_url: str | None = None,
    constraints: Iterable[str] = (),
    run: UvRunner | None = None,
    client: PyPIClient | None = None,
    index: str | None = None,
    image_reader: ImageReader | None = None,
) -> Stack:
    """The stack the installer would really install on the host, judged exactly (see the module)."""
    from cudalign.stack.resolve import resolve

    items = tuple(requirements)
    got = closure(
        items, host, index_url=index_url, constraints=constraints, run=run, client=client, index=index
    )
    if not got.pins:  # no solution: judge what was asked, with the resolver's conflict
        stack = resolve(
            items,
            facts,
            host,
            image=image,
            index_url=index_url,
            constraints=constraints,
            image_reader=image_reader,
        )
        return dataclasses.replace(stack, conflicts=(*stack.conflicts, *got.conflicts))
    tracked = set(facts.snapshot.packages)
    exact = [f"{n}=={v}" for n, v in got.pins if n in tracked]
    stack = resolve(
        exact,
        facts,
        host,
        image=image,
        index_url=index_url,
        constraints=constraints,
        image_reader=image_reader,
    )
    return dataclasses.replace(
        stack,
        conflicts=(*stack.conflicts, *got.conflicts),
        unknown={k: v for k, v in stack.unknown.items() if k not in dict(got.pins)},
    )
