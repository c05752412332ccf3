"""Labelled wheels whose extension links another C++ ABI than the label names (flash-attn 2.8.x torch2.6)."""

from __future__ import annotations

import pytest

from cudalign.model import Severity
from cudalign.rules.neighbours import parse_label, wheel_abi

from .conftest import Judge

HOST = {"driver": "580.95.05", "python": "3.11"}


def _ca302(judge: Judge, fa: str, torch: str) -> list:  # type: ignore[type-arg]
    return judge("CA302", [f"flash-attn=={fa}", f"torch=={torch}"], judge.host("A100", **HOST))


@pytest.mark.parametrize("fa", ["2.8.2", "2.8.0.post2"])
def test_catches_false_label_linking_cxx11_with_pre_cxx11_torch(judge: Judge, fa: str) -> None:
    found = _ca302(judge, f"{fa}+cu12torch2.6cxx11abiFALSE", "2.6.0+cu124")
    assert [f.severity for f in found] == [Severity.ERROR]
    assert "labelled cxx11abiFALSE but its extension links the new C++11 ABI" in found[0].message
    assert "undefined symbol" in found[0].message
    assert "wheel_abi.flash-attn.2.8.torch2.6-false" in {r.id for r in found[0].facts}


def test_catches_not_the_release_before_the_defect(judge: Judge) -> None:
    assert _ca302(judge, "2.7.4.post1+cu12torch2.6cxx11abiFALSE", "2.6.0+cu124") == []


@pytest.mark.parametrize("fa", ["2.8.1", "2.8.3"])
def test_releases_no_thread_reports_keep_their_label(judge: Judge, fa: str) -> None:
    assert _ca302(judge, f"{fa}+cu12torch2.6cxx11abiFALSE", "2.6.0+cu124") == []


def test_catches_not_when_torch_uses_the_abi_the_wheel_really_links(judge: Judge) -> None:
    # torch 2.6.0+cu126 is a C++11-ABI build: the defective FALSE wheel's symbols resolve
    assert _ca302(judge, "2.8.2+cu12torch2.6cxx11abiFALSE", "2.6.0+cu126") == []


def test_the_fix_for_a_true_label_does_not_send_users_to_the_defective_false_wheel(judge: Judge) -> None:
    found = _ca302(judge, "2.8.2+cu12torch2.6cxx11abiTRUE", "2.6.0+cu124")
    assert [f.severity for f in found] == [Severity.ERROR]
    assert "build flash-attn from source" in found[0].fix and "outside flash-attn" in found[0].fix
    assert "wheel_abi.flash-attn.2.8.torch2.6-false" in {r.id for r in found[0].facts}
    # before the defect the plain advice stands
    plain = _ca302(judge, "2.7.4.post1+cu12torch2.6cxx11abiTRUE", "2.6.0+cu124")
    assert [f.fix for f in plain] == ["Use the wheel labelled cu12torch2.6cxx11abiFALSE."]


def test_wheel_abi_fact_is_keyed_on_release_label_torch_and_label_abi(judge: Judge) -> None:
    false26 = parse_label("cu12torch2.6cxx11abiFALSE")
    true26 = parse_label("cu12torch2.6cxx11abiTRUE")
    false25 = parse_label("cu12torch2.5cxx11abiFALSE")
    assert false26 and true26 and false25
    assert wheel_abi(judge.facts, "flash-attn", "2.8.2", false26) is not None
    assert wheel_abi(judge.facts, "flash-attn", "2.8.2+cu12torch2.6cxx11abiFALSE", false26) is not None
    assert wheel_abi(judge.facts, "flash-attn", "2.8.2", true26) is None
    assert wheel_abi(judge.facts, "flash-attn", "2.8.2", false25) is None
    assert wheel_abi(judge.facts, "mamba-ssm", "2.8.2", false26) is None
