"""A host described by ``--os``/``--arch``: Windows and WSL2 as people write them, judged on their own wheels
and driver numbering, never replaced by a probe of this machine."""

from __future__ import annotations

import json

import pytest

from cudalign.cli import main
from cudalign.facts import Facts, load
from cudalign.hosts import WSL_KERNEL, describe_host
from cudalign.rules import check, verdict
from cudalign.rules.common import driver_os
from cudalign.stack import resolve


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


@pytest.mark.parametrize(
    "text", ["windows", "Windows", "win11", "Windows 10", "windows-11", "win", "windows server 2022"]
)
def test_windows_as_people_write_it(facts: Facts, text: str) -> None:
    host = describe_host(facts, os=text)
    assert host.os.system == "Windows"
    assert driver_os(host) == "windows"


@pytest.mark.parametrize(
    ("text", "distro"), [("wsl2", None), ("WSL", None), ("wsl2-ubuntu22.04", ("ubuntu", "22.04"))]
)
def test_wsl2_is_linux_on_the_windows_driver(facts: Facts, text: str, distro: tuple[str, str] | None) -> None:
    host = describe_host(facts, os=text)
    assert host.os.system == "Linux" and host.os.kernel == WSL_KERNEL
    assert (host.os.distro_id, host.os.distro_version) == (distro or (None, None))
    assert driver_os(host) == "windows"


@pytest.mark.parametrize("text", ["ubuntu22.04", "debian12", "windowsx", None])
def test_a_distribution_stays_linux(facts: Facts, text: str | None) -> None:
    host = describe_host(facts, os=text)
    assert host.os.system == "Linux" and host.os.kernel is None
    assert driver_os(host) == "linux"


def _names(facts: Facts, reqs: list[str], **host: object) -> set[str]:
    h = describe_host(facts, **host)  # type: ignore[arg-type]
    return {f.name for f in check(h, resolve(reqs, facts, h), facts)}


def test_pypi_torch_on_windows_is_cpu_only_and_on_linux_is_not(facts: Facts) -> None:
    assert "cpu-only-torch" in _names(
        facts, ["torch==2.7.0"], os="windows", gpus=["RTX 4090"], driver="572.83"
    )
    assert "cpu-only-torch" not in _names(
        facts, ["torch==2.7.0"], os="ubuntu22.04", gpus=["RTX 4090"], driver="572.83"
    )
    assert "cpu-only-torch" not in _names(
        facts, ["torch==2.7.0"], os="wsl2", gpus=["RTX 4090"], driver="572.83"
    )


def test_driver_floors_follow_the_drivers_os(facts: Facts) -> None:
    # CUDA 12.8 GA: 570.26 on Linux, 570.65 on Windows (toolkit table); 570.50 lies between
    reqs = ["torch==2.7.0+cu128"]
    assert "minor-version-compat" not in _names(
        facts, reqs, os="ubuntu22.04", gpus=["RTX 4090"], driver="570.50"
    )
    assert "minor-version-compat" in _names(facts, reqs, os="windows", gpus=["RTX 4090"], driver="570.50")
    assert "minor-version-compat" in _names(facts, reqs, os="wsl2", gpus=["RTX 4090"], driver="570.50")


def test_os_alone_describes_a_host_instead_of_probing(capsys: pytest.CaptureFixture[str]) -> None:
    main(["check", "torch==2.7.0", "--os", "windows", "--json", "--fail-on", "never"])
    report = json.loads(capsys.readouterr().out)
    assert report["host"]["origin"] == "described"
    assert report["host"]["os"]["system"] == "Windows"
    assert report["stack"]["components"][0]["variant"] == "cpu"  # PyPI's Windows wheel, not Linux's cu126
    main(["check", "torch==2.7.0", "--os", "windows", "--gpu", "RTX 4090", "--json", "--fail-on", "never"])
    report = json.loads(capsys.readouterr().out)
    assert "cpu-only-torch" in {f["name"] for f in report["findings"]}


def test_arch_alone_describes_a_host(capsys: pytest.CaptureFixture[str]) -> None:
    main(["check", "torch==2.5.1", "--arch", "aarch64", "--json", "--fail-on", "never"])
    report = json.loads(capsys.readouterr().out)
    assert report["host"]["origin"] == "described" and report["host"]["os"]["arch"] == "aarch64"
    assert report["stack"]["components"][0]["variant"] == "cpu"  # PyPI's aarch64 torch 2.5.1 is CPU-only


def test_a_cpu_only_torch_fails_on_a_described_host_whatever_its_gpu(facts: Facts) -> None:
    # no GPU named: the CPU-only wheel uses none of them; asked for by its label, it is what the user wants
    assert "cpu-only-torch" in _names(facts, ["torch==2.7.0"], os="windows")
    assert "cpu-only-torch" not in _names(facts, ["torch==2.7.0+cpu"], os="windows")
    assert "cpu-only-torch" not in _names(facts, ["torch==2.7.0+cu128"], os="windows")


@pytest.mark.parametrize(
    ("text", "cc"),
    [
        ("Jetson Orin NX", "8.7"),
        ("Jetson Orin Nano", "8.7"),
        ("NVIDIA Jetson AGX Orin 64GB", "8.7"),
        ("Jetson Nano", "5.3"),
    ],
)
def test_jetson_modules_as_people_write_them(facts: Facts, text: str, cc: str) -> None:
    # 'Jetson' is a product-family word like 'GeForce': 'Jetson Orin NX' is the 'Orin NX' the facts alias
    assert str(describe_host(facts, gpus=[text]).gpus[0].cc) == cc


def test_an_unknown_torch_build_is_never_ok() -> None:
    # which build (so which CUDA) the installer takes is a stack fact no rule can judge around
    from cudalign.model import Stack

    assert (
        verdict([], Stack(unknown={"torch_variant": "no fact gives the PyPI default variant"})).value
        == "unknown"
    )
    assert verdict([], Stack()).value == "ok"
