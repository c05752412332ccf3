"""Compiled GPU code read without loading it: every shared library with a fatbin, judged per GPU.

For each library under the interpreter's site-packages that carries an ``.nv_fatbin`` section, and each
GPU (the host's, or those ``--gpu`` describes), the answer is one of: machine code for it (``sass``),
only PTX the driver compiles at load time (``jit``), PTX newer than the driver's JIT accepts
(``ptx-too-new``, rule CA103), or nothing for it (``none``, rule CA201; CA202 when the GPU is older than
anything in the library). This names the library that would fail with "no kernel image is available"
before anything is loaded, and needs no GPU.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from cudalign.model import ComputeCapability
from cudalign.verify.fatbin import Entry, Fatbin, read_library

__all__ = [
    "GpuTarget",
    "LibraryCode",
    "Verdict",
    "jit_limit",
    "judge",
    "libraries",
    "read_site",
    "with_embedded",
]


@dataclass(frozen=True, slots=True)
class GpuTarget:
    """A GPU to judge the libraries against."""

    index: int
    name: str
    cc: tuple[int, int]


@dataclass(frozen=True, slots=True)
class LibraryCode:
    """The GPU code in one library file."""

    path: str
    """Relative to its site-packages folder (``torch/lib/libtorch_cuda.so``)."""
    owner: str
    """Who ships it: the top folder (``torch``, ``vllm``), two levels for ``nvidia/…``."""
    sass: tuple[str, ...]
    """``sm_XX`` with machine code."""
    ptx: tuple[str, ...]
    """``compute_XX`` with PTX."""
    ptx_isa: Mapping[str, str]
    """``compute_XX`` -> the PTX ISA version of its PTX (``8.7``), where read."""
    error: str | None = None
    file: str = ""
    """The absolute path, to read it again (kernels embedded outside ``.nv_fatbin``)."""
    embedded: bool = False
    """Whether ``sass``/``ptx`` include containers the library stores outside ``.nv_fatbin``."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """How one GPU runs one library."""

    library: str
    gpu: int
    how: str
    """``sass``, ``jit``, ``ptx-too-new``, ``none``, or ``unknown`` (an NVIDIA library wheel whose kernels are
    not in ``.nv_fatbin``)."""
    code: str | None
    """The entry that serves it (``sm_90``, ``compute_80``), if any."""
    rule: str | None = None
    message: str | None = None


def _is_library(name: str) -> bool:
    return name.endswith(".so") or ".so." in name


def libraries(site_dirs: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(site dir, path)`` of every shared-library file under the site folders, each real file once."""
    seen: set[tuple[int, int]] = set()
    for site in site_dirs:
        if not os.path.isdir(site):
            continue
        stack = [site]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for e in entries:
                try:
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    elif _is_library(e.name) and e.is_file():
                        st = e.stat()
                        if (st.st_dev, st.st_ino) not in seen and st.st_size > 64:
                            seen.add((st.st_dev, st.st_ino))
                            yield site, e.path
                except OSError:
                    continue


def _owner(rel: str) -> str:
    parts = rel.split(os.sep)
    if parts[0] == "nvidia" and len(parts) > 2:
        return f"nvidia/{parts[1]}"
    return parts[0]


def _code(site: str, fb: Fatbin) -> LibraryCode:
    rel = os.path.relpath(fb.path, site)
    isa = {name: f"{v[0]}.{v[1]}" for name, v in fb.ptx_isa().items()}
    return LibraryCode(
        path=rel,
        owner=_owner(rel),
        sass=fb.sass_names,
        ptx=fb.ptx_names,
        ptx_isa=isa,
        error=fb.error,
        file=fb.path,
    )


def with_embedded(lib: LibraryCode, gpus: Sequence[GpuTarget] = ()) -> LibraryCode:
    """``lib`` with the code of fatbin containers it stores outside ``.nv_fatbin`` added, if it has any."""
    from dataclasses import replace

    from cudalign.verify.fatbin import embedded, fatbin_section

    try:
        with open(lib.file, "rb") as f:
            section = fatbin_section(f)
    except (OSError, ValueError):
        return lib

    def enough(found: list[Entry]) -> bool:
        names = {e.name for e in found if e.kind == "sass"}
        return bool(gpus) and all(any(_runs_on(n, g.cc) for n in names) for g in gpus)

    extra = embedded(lib.file, section, enough)
    if not extra:
        return lib
    more = _code(os.path.dirname(lib.file), Fatbin(lib.file, extra))
    isa = {**more.ptx_isa, **lib.ptx_isa}
    sass = tuple(dict.fromkeys((*lib.sass, *more.sass)))
    ptx = tuple(dict.fromkeys((*lib.ptx, *more.ptx)))
    return replace(lib, sass=sass, ptx=ptx, ptx_isa=isa, embedded=True)


def read_site(site_dirs: Iterable[str]) -> tuple[LibraryCode, ...]:
    """Every library under the site folders that carries GPU code (or whose fatbin could not be read)."""
    out = []
    for site, path in libraries(site_dirs):
        fb = read_library(path)
        if fb is not None and (fb.entries or fb.error):
            out.append(_code(site, fb))
    return tuple(sorted(out, key=lambda c: c.path))


def _arch(name: str) -> tuple[int, int]:
    digits = name.split("_", 1)[1].rstrip("abf")
    return int(digits[:-1]), int(digits[-1])


def _runs_on(name: str, cc: tuple[int, int]) -> bool:
    """Whether machine code ``name`` runs on ``cc``: same major, minor <= cc's; ``sm_90a`` on 9.0 only."""
    return ComputeCapability.parse(name).sass_runs_on(ComputeCapability(*cc))


def _jits_on(name: str, cc: tuple[int, int]) -> bool:
    """Whether PTX ``name`` JIT-compiles for ``cc``: plain forward, ``compute_100f`` in its family,
    ``compute_90a`` for 9.0 only."""
    return ComputeCapability.parse(name).ptx_runs_on(ComputeCapability(*cc))


def jit_limit(
    driver_cuda: str | None, table: Mapping[tuple[int, int], tuple[int, int]]
) -> tuple[int, int] | None:
    """The newest PTX ISA a driver's JIT compiles: the highest ISA whose CUDA release is at most the driver's.

    ``table`` maps a PTX ISA version to the CUDA release that introduced it (the knowledge base's
    ``ptx_isa`` facts). ``None`` when the driver's CUDA is not known.
    """
    if not driver_cuda:
        return None
    try:
        major, _, minor = driver_cuda.partition(".")
        cuda = (int(major), int(minor or 0))
    except ValueError:
        return None
    fits = [isa for isa, need in table.items() if need <= cuda]
    return max(fits) if fits else None


def _verdict(lib: LibraryCode, gpu: GpuTarget, limit: tuple[int, int] | None, driver: str | None) -> Verdict:
    cc = gpu.cc
    sass = [(s, _arch(s)) for s in lib.sass]
    exact = [s for s in lib.sass if _runs_on(s, cc)]
    if exact:
        return Verdict(lib.path, gpu.index, "sass", max(exact, key=_arch))
    ptx = [(p, _arch(p)) for p in lib.ptx if _jits_on(p, cc)]
    if ptx:
        best = max(ptx, key=lambda x: x[1])[0]
        isa = lib.ptx_isa.get(best)
        if limit is not None and isa is not None:
            have = tuple(int(x) for x in isa.split("."))
            if have > limit:
                return Verdict(
                    lib.path,
                    gpu.index,
                    "ptx-too-new",
                    best,
                    "CA103 ptx-jit-unsupported",
                    f"{gpu.name} ({_sm(cc)}) has no machine code in {lib.path}, only PTX ISA {isa} ({best}), "
                    f"newer than the driver (CUDA {driver}, PTX ISA {limit[0]}.{limit[1]}) can JIT-compile",
                )
        return Verdict(lib.path, gpu.index, "jit", best)
    if lib.owner.startswith("nvidia/"):
        # NVIDIA's CUDA library wheels load most kernels themselves (cuFFT: 24k containers in .ldata,
        # cuFFTW: a stub that calls cuFFT); what .nv_fatbin lacks there proves nothing
        return Verdict(lib.path, gpu.index, "unknown", None, None, f"{lib.path}: loads its kernels itself")
    every = [a for _, a in sass] + [_arch(p) for p in lib.ptx]
    older = bool(every) and cc < min(every)
    carried = " ".join((*lib.sass, *lib.ptx)) or "nothing"
    return Verdict(
        lib.path,
        gpu.index,
        "none",
        None,
        "CA202 gpu-arch-dropped" if older else "CA201 gpu-arch-not-in-build",
        f"{lib.path} has no kernel image for {gpu.name} ({_sm(cc)}): it carries {carried}",
    )


def _sm(cc: tuple[int, int]) -> str:
    return f"sm_{cc[0]}{cc[1]}"


def judge(
    libs: Sequence[LibraryCode],
    gpus: Sequence[GpuTarget],
    *,
    driver_cuda: str | None = None,
    ptx_table: Mapping[tuple[int, int], tuple[int, int]] | None = None,
) -> tuple[Verdict, ...]:
    """How every GPU runs every library (libraries whose fatbin could not be read are left out)."""
    limit = jit_limit(driver_cuda, ptx_table or {})
    out = []
    for lib in libs:
        if lib.error is not None:
            continue
        verdicts = [_verdict(lib, g, limit, driver_cuda) for g in gpus]
        if any(v.how in ("none", "unknown") for v in verdicts) and lib.file:
            # read the rest of the file only where .nv_fatbin falls short
            fuller = with_embedded(
                lib, [g for g, v in zip(gpus, verdicts, strict=False) if v.how in ("none", "unknown")]
            )
            if fuller is not lib:
                verdicts = [_verdict(fuller, g, limit, driver_cuda) for g in gpus]
        out += verdicts
    return tuple(out)
