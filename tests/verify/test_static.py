"""Compiled code judged per GPU: machine code, JIT, PTX too new for the driver, nothing; the knowledge base's
PTX ISA table; containers a library keeps outside .nv_fatbin."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cudalign.facts import load
from cudalign.verify.static import GpuTarget, LibraryCode, jit_limit, judge, read_site

from .elf_fixture import container, elf, entry, write_library

RECORDED = Path(__file__).resolve().parents[1] / "recordings" / "verify-fatbin"
H200 = GpuTarget(0, "NVIDIA H200", (9, 0))
A100 = GpuTarget(1, "NVIDIA A100", (8, 0))
RTX5090 = GpuTarget(2, "RTX 5090", (12, 0))
P100 = GpuTarget(3, "Tesla P100", (6, 0))


@pytest.fixture(scope="module")
def table() -> dict[tuple[int, int], tuple[int, int]]:
    from cudalign.cli.verify import _ptx_table

    return _ptx_table(load())


def lib(
    sass: tuple[str, ...] = (), ptx: tuple[str, ...] = (), isa: dict[str, str] | None = None
) -> LibraryCode:
    return LibraryCode("pkg/libk.so", "pkg", sass, ptx, isa or {})


def test_jit_limit_follows_the_ptx_release_table(table: dict[tuple[int, int], tuple[int, int]]) -> None:
    assert jit_limit("12.4", table) == (8, 4)
    assert jit_limit("12.6", table) == (8, 5)  # 12.6 introduced no ISA
    assert jit_limit("12.8", table) == (8, 7)
    assert jit_limit("13.0", table) == (9, 0)
    assert jit_limit(None, table) is None
    assert jit_limit("10.2", table) is None


def test_each_way_a_gpu_runs_a_library(table: dict[tuple[int, int], tuple[int, int]]) -> None:
    libs = [
        lib(("sm_80",)),
        lib((), ("compute_80",), {"compute_80": "9.0"}),
        lib(("sm_90a",)),
        lib(("sm_90", "sm_100")),
    ]
    hows = [(v.how, v.code, v.rule) for v in judge(libs, [H200, A100], driver_cuda="12.8", ptx_table=table)]
    assert hows == [
        ("none", None, "CA201 gpu-arch-not-in-build"),  # sm_80 code does not run on 9.0
        ("sass", "sm_80", None),
        ("ptx-too-new", "compute_80", "CA103 ptx-jit-unsupported"),  # ISA 9.0 needs CUDA 13.0
        ("ptx-too-new", "compute_80", "CA103 ptx-jit-unsupported"),
        ("sass", "sm_90a", None),
        ("none", None, "CA202 gpu-arch-dropped"),  # arch-specific code runs on 9.0 only; 8.0 is older
        ("sass", "sm_90", None),
        ("none", None, "CA202 gpu-arch-dropped"),
    ]
    newer = judge([libs[1]], [H200], driver_cuda="13.0", ptx_table=table)
    assert [(v.how, v.rule) for v in newer] == [("jit", None)]
    older = judge([libs[3]], [P100], driver_cuda="13.0", ptx_table=table)
    assert older[0].rule == "CA202 gpu-arch-dropped" and "carries sm_90 sm_100" in (older[0].message or "")
    minor = judge([lib(("sm_120",))], [RTX5090, GpuTarget(4, "x", (12, 1))], ptx_table=table)
    assert [v.how for v in minor] == ["sass", "sass"]


def test_recorded_sm80_build_lacks_the_h200_and_the_ptx_one_is_jit(
    tmp_path: Path, table: dict[tuple[int, int], tuple[int, int]]
) -> None:
    site = tmp_path / "site-packages"
    (site / "brokenext").mkdir(parents=True)
    for name in ("libsm80only.so", "libptxonly.so", "libcompressed.so"):
        shutil.copy(RECORDED / name, site / "brokenext" / name)
    (site / "other.py").write_text("")
    libs = read_site([str(site)])
    assert [(c.path, c.owner, c.sass, c.ptx) for c in libs] == [
        ("brokenext/libcompressed.so", "brokenext", ("sm_90", "sm_90a"), ("compute_90",)),
        ("brokenext/libptxonly.so", "brokenext", (), ("compute_80",)),
        ("brokenext/libsm80only.so", "brokenext", ("sm_80",), ()),
    ]
    verdicts = {v.library: v for v in judge(libs, [H200], driver_cuda="13.0", ptx_table=table)}
    assert verdicts["brokenext/libsm80only.so"].rule == "CA201 gpu-arch-not-in-build"
    assert verdicts["brokenext/libptxonly.so"].how == "jit"
    assert verdicts["brokenext/libcompressed.so"].how == "sass"


def test_containers_outside_nv_fatbin_count(tmp_path: Path) -> None:
    """cuFFT keeps its kernels in .ldata and only a stub in .nv_fatbin: judged on both, no false alarm."""
    stub = container(entry("sass", 75, b"\x7fELF" + b"\0" * 60))
    kernels = b"".join(container(entry("sass", a, b"\x7fELF" + b"\0" * 120)) for a in (80, 90, 100))
    path = tmp_path / "site-packages" / "nvidia" / "cufft" / "lib" / "libcufft.so.12"
    path.parent.mkdir(parents=True)
    path.write_bytes(elf({".nv_fatbin": stub, ".ldata": b"\0" * 64 + kernels}))
    libs = read_site([str(tmp_path / "site-packages")])
    assert [(c.owner, c.sass) for c in libs] == [("nvidia/cufft", ("sm_75",))]
    (v,) = judge(libs, [H200])
    assert (v.how, v.code, v.rule) == ("sass", "sm_90", None)
    # an NVIDIA library wheel with nothing more to find is not proven broken (cuFFTW calls into cuFFT)
    path.write_bytes(elf({".nv_fatbin": stub}))
    (w,) = judge(read_site([str(tmp_path / "site-packages")]), [H200])
    assert (w.how, w.rule) == ("unknown", None)


def test_the_same_file_through_a_link_is_read_once(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    real = write_library(site / "pkg" / "libk.so.1", container(entry("sass", 90, b"\0" * 64)))
    (site / "pkg" / "libk.so").symlink_to(real.name)
    assert len(read_site([str(site), str(site)])) == 1


def test_arch_and_family_specific_code_run_where_nvidia_says(
    table: dict[tuple[int, int], tuple[int, int]],
) -> None:
    b200, b300, gb10 = (
        GpuTarget(5, "B200", (10, 0)),
        GpuTarget(6, "B300", (10, 3)),
        GpuTarget(7, "GB10", (12, 1)),
    )
    # sm_100a/sm_120a machine code: exactly 10.0 / 12.0; compute_120 PTX JITs forward to 12.1 only
    ort = lib(("sm_90a", "sm_100a", "sm_120a"), ("compute_120",), {"compute_120": "8.7"})
    hows = [(v.gpu, v.how, v.code) for v in judge([ort], [b200, b300, RTX5090, gb10, H200], ptx_table=table)]
    assert hows == [
        (5, "sass", "sm_100a"),
        (6, "none", None),
        (2, "sass", "sm_120a"),
        (7, "jit", "compute_120"),
        (0, "sass", "sm_90a"),
    ]
    # sm_100f runs on 10.0 and 10.3, compute_100f JITs in its family only, compute_90a on 9.0 only
    fam = lib((), ("compute_90a", "compute_100f"))
    family = [(v.how, v.code) for v in judge([fam], [H200, b300, RTX5090], ptx_table=table)]
    assert family == [("jit", "compute_90a"), ("jit", "compute_100f"), ("none", None)]
    assert [v.how for v in judge([lib(("sm_100f",))], [b200, b300, RTX5090], ptx_table=table)] == [
        "sass",
        "sass",
        "none",
    ]
