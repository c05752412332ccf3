"""CUDA 13.x toolkit labels and drivers as NVIDIA's release notes state them, and the patch releases
PyTorch wheels pin (catches: the wrong labels; catches not: the releases that were right)."""

from __future__ import annotations

import pytest
from packaging.version import Version

from cudalign.facts import Facts, load
from cudalign.facts import query as q


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load()


def _toolkit(facts: Facts, version: str) -> dict[str, object] | None:
    for f in facts.of_kind("toolkit"):
        if f["version"] == Version(version):
            return {k: f.get(k) for k in ("label", "driver_linux", "driver_windows", "driver_branch")}
    return None


def test_13_4_ga_is_13_4_1_and_its_update_1_is_13_4_2(facts: Facts) -> None:
    assert _toolkit(facts, "13.4.0") is None  # a developer preview, not a release
    ga, upd = _toolkit(facts, "13.4.1"), _toolkit(facts, "13.4.2")
    assert ga is not None and upd is not None
    assert ga["label"] == "13.4 GA (13.4.1)" and upd["label"] == "13.4 Update 1"
    assert q.min_driver_for_cuda(facts, "13.4").value == Version("615")
    assert q.min_driver_for_cuda(facts, "13.4.2").value == Version("615")


def test_13_2_update_2_needs_595_71_05_and_update_1_still_595_58_03(facts: Facts) -> None:
    assert q.min_driver_for_cuda(facts, "13.2.2").value == Version("595.71.05")
    assert q.min_driver_for_cuda(facts, "13.2.1").value == Version("595.58.03")
    assert q.min_driver_for_cuda(facts, "13.2").value == Version("595.45.04")


def test_windows_floor_for_13_x_is_580_and_12_x_keeps_its_own(facts: Facts) -> None:
    assert q.mvc_floor(facts, 13, "windows").value == Version("580")
    assert q.mvc_floor(facts, 12, "windows").value == Version("527.41")


def test_patch_releases_torch_pins_have_their_branch(facts: Facts) -> None:
    for version, branch in (("12.8.2", 570), ("12.9.2", 575), ("13.0.3", 580), ("13.1.2", 590)):
        fact = _toolkit(facts, version)
        assert fact is not None, version
        assert fact["driver_branch"] == branch
        assert q.min_driver_for_cuda(facts, version).value == Version(str(branch))
    # the update before a patch release keeps its own number
    assert q.min_driver_for_cuda(facts, "12.8.1").value == Version("570.124.06")


def test_r620_is_a_long_term_branch_without_a_guessed_cuda_minor(facts: Facts) -> None:
    r620 = next(f for f in facts.of_kind("driver_branch") if f["branch"] == 620)
    assert r620["designation"] == "LTSB" and r620.get("max_cuda") is None
