"""tests/repos/install_order, backends and make_builds: a later, separate install replaces what an earlier
one installed (CA307 only for pins resolved together), drift only between services deployed together
(CA601), a range's commas in the folded CA604, and CUDA builds run through ``make`` targets (CA610)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cudalign.facts import Facts
from cudalign.model import Finding, Location, Severity
from cudalign.scan import ScanResult, scan
from cudalign.scan.fold import fold
from cudalign.scan.makefile import find_build, parse_makefile

REPOS = Path(__file__).resolve().parents[1] / "repos"


def _at(result: ScanResult, code: str) -> set[tuple[str, int | None]]:
    return {(f.location.file, f.location.line) for f in result.findings if f.code == code and f.location}


@pytest.fixture(scope="module")
def installs(facts: Facts) -> ScanResult:
    return scan(REPOS / "install_order", facts, fleet_driver="570.133.20")


def test_a_later_separate_install_replaces_and_is_no_resolution_claim(installs: ScanResult) -> None:
    found = [f for f in installs.findings if f.code == "CA307"]
    # one command and one requirements closure are resolved together: pip refuses both pins
    assert _at(installs, "CA307") == {("nccl_closure/requirements.txt", 1)}
    assert "nccl_together" in found[0].message  # the same finding, said once for both
    # a later RUN installs NCCL over torch's pin: no 'pip cannot install both', a note says what happens
    assert not [f for f in installs.findings if f.service == "nccl_later" and f.code.startswith("CA3")]
    assert any(
        n.startswith("nccl_later/Dockerfile:4: nvidia-nccl-cu12==2.25.1 is installed by a later")
        for n in installs.notes
    )


def test_a_later_torch_install_is_the_services_torch(installs: ScanResult) -> None:
    view = next(v for v in installs.views if v.service.name == "torch_later")
    assert view.torch is not None and view.torch.text == "torch==2.7.0+cu128"
    assert str(view.torch_cuda) == "12.8"  # the later one wins: no CA603 against the CUDA 12.8 image
    assert not [f for f in installs.findings if f.service == "torch_later" and f.code == "CA603"]


@pytest.fixture(scope="module")
def backends(facts: Facts) -> ScanResult:
    return scan(REPOS / "backends", facts)


def test_drift_only_between_services_deployed_together(backends: ScanResult) -> None:
    assert {
        (f.location.file if f.location else "", f.service) for f in backends.findings if f.code == "CA601"
    } == {
        ("stack/b/Dockerfile", "b"),  # one compose file
        ("services/rerank/Dockerfile", "services/rerank"),  # a folder per service, one Dockerfile each
    }
    # Dockerfile, Dockerfile_llamacpp, Dockerfile.rocm share a folder: alternative builds, never compared
    assert not any(
        "Dockerfile" in (f.service or "") and f.code in ("CA601", "CA602") for f in backends.findings
    )
    assert not any("backends (Dockerfile" in f.message for f in backends.findings)


def test_folded_ranges_keep_their_commas(backends: ScanResult) -> None:
    found = [f for f in backends.findings if f.code == "CA604" and f.service == "webui"]
    assert len(found) == 1
    assert found[0].message.startswith("'torch>=2.8.0,<2.9.0', 'torchaudio>=2.8.0,<2.9.0' are not pinned")
    assert "'<2.9.0'" not in found[0].message


def test_fold_names_each_requirement_once() -> None:
    def one(text: str, line: int) -> Finding:
        return Finding(code="CA604", name="unpinned-cuda-package", severity=Severity.WARNING,
                       message=f"'{text}' is not pinned: each build may resolve another release",
                       fix="pin it", location=Location("r.txt", line), service="s")  # fmt: skip

    folded = [
        f for f in fold([one("torch>=2.8.0,<2.9.0", 1), one("vllm>=0.10,<0.11", 2)]) if f.code == "CA604"
    ]
    assert len(folded) == 1
    assert folded[0].message.startswith("'torch>=2.8.0,<2.9.0', 'vllm>=0.10,<0.11' are not pinned")


def test_make_targets_are_followed_into_the_makefile(facts: Facts) -> None:
    result = scan(REPOS / "make_builds", facts)
    found = [f for f in result.findings if f.code == "CA610"]
    assert [(f.location.file, f.location.line, f.severity.value) for f in found if f.location] == [
        ("Dockerfile", 6, "error")  # make build-attn -> python setup.py build, nvcc 11.8 vs torch cu121
    ]
    assert "make build-attn: python setup.py build (kernels/Makefile-attn:6)" in found[0].message
    # `make docs` builds nothing, `make -f generated.mk` reads a Makefile the build writes: no finding
    assert len(result.views[0].service.builds) == 1


def test_makefile_rules_includes_and_bounded_recursion() -> None:
    files = {
        "Makefile": parse_makefile("Makefile", "include more.mk\nall: a\n\t$(MAKE) b\nx = 1\n"),
        "more.mk": parse_makefile(
            "more.mk", "a: all\n\techo a\nb:\n\tpip install --no-build-isolation flash-attn\n"
        ),
    }
    from cudalign.scan.dockerfile import build_command
    from cudalign.scan.model import MakeCall

    found = find_build(MakeCall("Makefile", ()), files.get, build_command)  # default target, a loop a <-> all
    assert found is not None and found[1] is True and "(more.mk:4)" in found[0]
    assert find_build(MakeCall("absent/Makefile", ("all",)), files.get, build_command) is None
