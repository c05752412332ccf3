"""cudalign's own NVML binding: layouts equal to nvml.h (as pynvml has them), errors as pynvml raises."""

from __future__ import annotations

import ctypes
from typing import Any

import pytest

from cudalign.probe.libnvml import FabricInfo, FabricInfoV, Memory, Nvml, NvmlCallError, PciInfo, load
from cudalign.probe.nvml import read_nvml

pynvml = pytest.importorskip("pynvml")


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (PciInfo, "nvmlPciInfo_t"),
        (Memory, "c_nvmlMemory_t"),
        (FabricInfoV, "c_nvmlGpuFabricInfoV_t"),
    ],
)
def test_struct_layouts_match_pynvml(ours: Any, theirs: str) -> None:
    ref = getattr(pynvml, theirs, None)
    if ref is None:  # the lowest nvidia-ml-py we allow predates the v2 fabric call; nvml.h is checked below
        pytest.skip(f"this nvidia-ml-py has no {theirs} to compare with")
    assert ctypes.sizeof(ours) == ctypes.sizeof(ref)
    for name, *_ in ref._fields_:
        assert getattr(ours, name).offset == getattr(ref, name).offset, name


def test_legacy_fabric_struct_follows_nvml_h() -> None:
    """Not compared with pynvml: its 13.610 release (on the device machine) made ``clusterUuid`` 80 bytes
    long, 13.615 (here) 16 as nvml.h does; ours reads the nvml.h offsets and has room to spare."""
    offsets = {
        name: getattr(FabricInfo, name).offset for name in ("clusterUuid", "status", "cliqueId", "state")
    }
    assert offsets == {"clusterUuid": 0, "status": 16, "cliqueId": 20, "state": 24}
    assert ctypes.sizeof(FabricInfo) >= 92


def test_fabric_struct_version() -> None:
    assert FabricInfoV().version == 0x02000024
    ref = getattr(pynvml, "c_nvmlGpuFabricInfoV_t", None)
    if ref is not None:
        assert ref().version == 0x02000024


def test_versioned_fabric_struct_follows_nvml_h() -> None:
    """``nvmlGpuFabricInfo_v2_t`` as nvml.h lays it out, independent of the nvidia-ml-py installed."""
    names = ("version", "clusterUuid", "status", "cliqueId", "state", "healthMask")
    assert {name: getattr(FabricInfoV, name).offset for name in names} == {
        "version": 0, "clusterUuid": 4, "status": 20, "cliqueId": 24, "state": 28, "healthMask": 32,
    }  # fmt: skip
    assert ctypes.sizeof(FabricInfoV) == 36


def test_missing_library_reads_as_not_found() -> None:
    result = read_nvml(load("libnvidia-ml-that-does-not-exist.so.1"))
    assert result.status == "not-found" and result.why and "libnvidia-ml.so.1 not found" in result.why


class _Lib:
    """A stand-in for the loaded library: each NVML function returns a fixed nvmlReturn_t."""

    def __init__(self, codes: dict[str, int]) -> None:
        for name, code in codes.items():
            setattr(self, name, self._returning(code))

        def error_string(code: int) -> bytes:
            return {18: b"RM has detected an NVML/RM version mismatch."}.get(code, b"Unknown Error")

        self.nvmlErrorString = error_string

    @staticmethod
    def _returning(code: int) -> Any:
        def fn(*args: Any) -> int:
            return code

        return fn


def _with(lib: _Lib) -> Nvml:
    nvml = Nvml()
    nvml._lib = lib
    return nvml


def test_error_codes_and_strings() -> None:
    nvml = _with(_Lib({"nvmlInit_v2": 18}))
    with pytest.raises(NvmlCallError) as err:
        nvml.nvmlInit()
    assert err.value.value == 18 and "version mismatch" in str(err.value)
    assert read_nvml(_with(_Lib({"nvmlInit_v2": 18}))).status == "mismatch"


def test_absent_function_is_function_not_found() -> None:
    nvml = _with(_Lib({"nvmlInit_v2": 0}))
    with pytest.raises(NvmlCallError) as err:
        nvml.nvmlSystemGetDriverVersion()
    assert err.value.value == 13
