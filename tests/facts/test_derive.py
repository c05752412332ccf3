"""Derivations over snapshot releases: torch's CUDA stack, exact pins, Python range, glibc floor."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from cudalign.facts import derive
from cudalign.facts.pypi import PyPIClient, ReplayDoor
from cudalign.facts.snapshot import MetadataRecord, Release, Snapshot, Wheel, load_snapshot

RECORDINGS = Path(__file__).parents[1] / "recordings" / "pypi"
TORCH_290 = (
    "https://files.pythonhosted.org/packages/a5/4b/f4bb2e6c25d0272f798cd6d7a04ed315da76cec68c602d87040c7847287f/"
    "torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64.whl"
)
VLLM_0130 = (
    "https://files.pythonhosted.org/packages/46/ae/36f87f514811c1389ff1a16e4e5b0b55f25ce782eb0eff2d7eaa92ff7deb/"
    "vllm-0.13.0-cp38-abi3-manylinux_2_31_x86_64.whl"
)


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    return load_snapshot(use_overlay=False)


def recorded_release(version: str, wheel_url: str, platform: str = "linux_x86_64") -> Release:
    """A release whose metadata is the recorded real ``.metadata`` file of ``wheel_url``."""
    from cudalign.facts.pypi import parse_metadata

    client = PyPIClient(ReplayDoor(RECORDINGS))
    body = client.get(wheel_url + ".metadata").body.decode()
    requires, rp = parse_metadata(body)
    name = wheel_url.rsplit("/", 1)[1]
    record = MetadataRecord(name, wheel_url + ".metadata", "pep658", requires)
    return Release(
        version,
        requires_python=rp,
        wheels=(Wheel(name, ("cp312",), ("cp312",), ("manylinux_2_28_x86_64",)),),
        metadata={platform: record},
    )


def test_torch_290_linux_x86_64_from_the_recorded_metadata() -> None:
    rt = derive.torch_runtime(recorded_release("2.9.0", TORCH_290), "linux_x86_64", checked="2026-11-22")
    assert (rt.cuda, rt.cudnn, rt.nccl) == (Version("12.8"), Version("9.10.2.21"), Version("2.27.5"))
    assert rt.variant == "cu128"
    assert rt.source == TORCH_290 + ".metadata" and rt.checked == "2026-11-22"
    cuda, cudnn, nccl = rt  # unpacks as the contract says
    assert cuda == rt.cuda and nccl == rt.nccl
    assert cudnn is not None and cudnn.release[:2] == (9, 10)


def test_torch_290_from_the_embedded_snapshot(snap: Snapshot) -> None:
    release = snap.release("torch", "2.9.0")
    assert release is not None
    rt = derive.torch_runtime(release, "linux_x86_64", checked=derive.checked_of(snap, "torch"))
    assert tuple(rt) == (Version("12.8"), Version("9.10.2.21"), Version("2.27.5"))
    assert rt.source is not None and "torch-2.9.0-" in rt.source and rt.checked


def test_markers_are_evaluated_per_platform(snap: Snapshot) -> None:
    """torch 2.9.0 guards its nvidia pins with platform_machine == "x86_64": no CUDA pins elsewhere."""
    release = snap.release("torch", "2.9.0")
    assert release is not None
    for platform in ("linux_aarch64", "windows", "macos"):
        rt = derive.torch_runtime(release, platform)
        assert rt.cuda is None and rt.variant == "cpu", platform


def test_cuda_toolkit_pin_gives_cuda_from_torch_211(snap: Snapshot) -> None:
    release = snap.release("torch", "2.11.0")
    assert release is not None
    meta = derive.metadata_for(release, "linux_x86_64")
    assert meta is not None and any(r.startswith("cuda-toolkit[") for r in meta.requires_dist)
    rt = derive.torch_runtime(release, "linux_x86_64")
    assert rt.cuda == Version("13.0") and rt.variant == "cu130"


def test_synthetic_pins() -> None:
    def rel(*requires: str) -> Release:
        return Release("2.99.0", metadata={"linux_x86_64": MetadataRecord("f.whl", "u", "range", requires)})

    assert derive.torch_runtime(rel("nvidia-cuda-runtime-cu12==12.4.127")).cuda == Version("12.4")
    assert derive.torch_runtime(
        rel("cuda-toolkit[cudart]==13.1.0; platform_system == 'Linux'")
    ).cuda == Version("13.1")
    assert derive.torch_runtime(rel("nvidia-cuda-runtime-cu12>=12.4")).cuda is None  # not an exact pin
    assert (
        derive.torch_runtime(rel("nvidia-cudnn-cu12==9.1.0.70; extra == 'cuda'")).cudnn is None
    )  # extra only
    cpu = derive.torch_runtime(rel("filelock"))
    assert cpu.variant == "cpu" and tuple(cpu) == (None, None, None)
    unknown = derive.torch_runtime(Release("2.0.0"))
    assert unknown.variant == "unknown" and unknown.source is None


def test_old_linux_torch_bundled_cuda(snap: Snapshot) -> None:
    release = snap.release("torch", "1.12.0")
    assert release is not None
    assert derive.torch_runtime(release, "linux_x86_64").variant == "bundled"


def test_vllm_0130_pins_torch_290() -> None:
    release = recorded_release("0.13.0", VLLM_0130)
    meta = derive.metadata_for(release, "linux_x86_64")
    assert meta is not None
    assert derive.exact_pin(
        meta.requires_dist, "torch", environment=derive.environment("linux_x86_64")
    ) == Version("2.9.0")


def test_vllm_0130_from_the_embedded_snapshot(snap: Snapshot) -> None:
    release = snap.release("vllm", "0.13.0")
    assert release is not None
    meta = derive.metadata_for(release, "linux_x86_64")
    assert meta is not None
    assert derive.exact_pin(meta.requires_dist, "torch") == Version("2.9.0")
    assert derive.python_range(release) == SpecifierSet(">=3.10,<3.14")
    assert derive.glibc_floor(release, "linux_x86_64") == Version("2.31")
    assert derive.wheel_platforms(release) == {
        "linux_aarch64": ("manylinux_2_31_aarch64",),
        "linux_x86_64": ("manylinux_2_31_x86_64",),
    }


def test_exact_pin_catches_and_catches_not() -> None:
    assert derive.exact_pin(["torch==2.9.0"], "torch") == Version("2.9.0")
    assert derive.exact_pin(["Torch (==2.6.0)"], "torch") == Version("2.6.0")
    assert derive.exact_pin(["torch>=2.6"], "torch") is None
    assert derive.exact_pin(["torch==2.*"], "torch") is None
    assert derive.exact_pin(["torchvision==0.24.0"], "torch") is None
    assert derive.exact_pin(["not a requirement ((", "torch==2.1.0"], "torch") == Version("2.1.0")


@pytest.mark.parametrize(
    ("tags", "floor"),
    [
        (("manylinux_2_28_x86_64",), "2.28"),
        (("manylinux2014_x86_64", "manylinux_2_17_x86_64"), "2.17"),
        (("manylinux1_x86_64",), "2.5"),
        (("manylinux2010_x86_64", "manylinux_2_28_x86_64"), "2.12"),
        (("win_amd64",), None),
    ],
)
def test_glibc_floor(tags: tuple[str, ...], floor: str | None) -> None:
    release = Release("1", wheels=(Wheel("x-1-cp312-cp312-x.whl", ("cp312",), ("cp312",), tags),))
    got = derive.glibc_floor(release, "linux_x86_64")
    assert got == (Version(floor) if floor else None)


def test_python_range_none_or_garbage() -> None:
    assert derive.python_range(Release("1")) is None
    assert derive.python_range(Release("1", requires_python=">=3.6.*,")) is None


def test_release_view_lists_each_value_with_its_source(snap: Snapshot) -> None:
    release = snap.release("vllm", "0.13.0")
    assert release is not None
    view = derive.release_view(snap, "vllm", release)
    pins = [d for d in view["derived"] if d["name"] == "torch pin"]
    assert {d["platform"] for d in pins} == {"linux_x86_64", "linux_aarch64"}
    assert all(
        d["value"] == "torch==2.9.0" and d["source"].startswith("https://") and d["checked"] for d in pins
    )
