"""NGC framework releases support the GPUs their CUDA supports (topic image.ngc-gpus): CA201 for a GPU
newer than the release, CA202 for one its CUDA (or its notes' lowest capability) no longer supports."""

from __future__ import annotations

from packaging.version import Version

from cudalign._dataclass import replace
from cudalign.facts import Fact, Facts
from cudalign.model import Finding, Severity
from cudalign.rules import Context, check, engine_rule
from cudalign.rules.release_archs import release_fact

from .conftest import Judge


def _errors(found: list[Finding], code: str) -> list[Finding]:
    return [f for f in found if f.code == code and f.severity is Severity.ERROR and not f.unknown]


def test_an_older_release_on_a_newer_gpu_fails_and_names_the_first_release_that_supports_it(
    judge: Judge,
) -> None:
    host = judge.host("RTX 3090", driver="580.65.06")
    found = _errors(judge("CA201", [], host, image="nvcr.io/nvidia/pytorch:20.06-py3"), "CA201")
    assert len(found) == 1
    msg, fix = found[0].message, found[0].fix
    assert "release 20.06" in msg and "CUDA 11.0.167" in msg and "sm_86" in msg and "CUDA 11.1" in msg
    assert "not yet supported" not in msg and "No supported GPU(s) detected" in msg
    # the first recorded release of the same image whose CUDA targets sm_86, derived from the release list
    assert "release 21.02" in fix and "nvcr.io/nvidia/pytorch:21.02-py3" in fix
    ids = {r.id for r in found[0].facts}
    assert {"image.ngc.20.06", "arch.sm_86", "image.ngc.21.02", "image.ngc-gpus"} <= ids


def test_the_advice_follows_the_image_and_its_recorded_releases(judge: Judge, facts: Facts) -> None:
    host = judge.host("RTX 4090", driver="580.65.06")
    found = _errors(judge("CA201", [], host, image="nvcr.io/nvidia/tensorrt:22.05-py3"), "CA201")
    assert found and "sm_89" in found[0].message and "CUDA 11.8" in found[0].message
    newest = min(
        (
            Version(str(f["release"]))
            for f in facts.of_kind("image_release")
            if f.get("gpus_by_cuda")
            and f.get("cuda")
            and Version(str(f["cuda"])) >= Version("11.8")
            and Version(str(f["release"])) > Version("22.05")
            and "nvidia/tensorrt" in (f.get("repositories") or ())
        ),
    )
    first = f"{newest.major}.{newest.minor:02d}"
    assert f"nvcr.io/nvidia/tensorrt:{first}-py3" in found[0].fix


def test_a_release_whose_cuda_supports_the_gpu_passes(judge: Judge) -> None:
    host = judge.host("RTX 4090", driver="580.65.06")
    for code in ("CA201", "CA202"):
        assert judge(code, [], host, image="nvcr.io/nvidia/tensorrt:22.12-py3") == []
    a100 = judge.host("A100", driver="580.65.06")  # CUDA 11.0 is sm_80's first
    assert judge("CA201", [], a100, image="nvcr.io/nvidia/pytorch:20.06-py3") == []


def test_a_release_whose_cuda_dropped_the_gpu_fails_and_names_the_last_release_that_has_it(
    judge: Judge,
) -> None:
    host = judge.host("V100", driver="580.65.06")
    found = _errors(judge("CA202", [], host, image="nvcr.io/nvidia/pytorch:25.10-py3"), "CA202")
    assert found and "sm_70" in found[0].message and "CUDA 12.9" in found[0].message
    assert "nvcr.io/nvidia/pytorch:25.01-py3" in found[0].fix
    assert judge("CA202", [], host, image="nvcr.io/nvidia/pytorch:25.01-py3") == []


def test_a_release_notes_floor_refuses_an_older_gpu_and_advises_no_unstated_release(judge: Judge) -> None:
    host = judge.host("GTX 980", driver="580.65.06")  # sm_52: CUDA 11.0 targets it, release 20.06 does not
    found = _errors(judge("CA202", [], host, image="nvcr.io/nvidia/pytorch:20.06-py3"), "CA202")
    assert found and "6.0" in found[0].message and "records none" in found[0].fix


def test_a_release_notes_floor_holds_for_the_container_whose_notes_state_it(judge: Judge) -> None:
    host = judge.host("GTX 980", driver="580.65.06")  # 22.07's 6.0 floor is read from Triton's notes
    found = _errors(judge("CA202", [], host, image="nvcr.io/nvidia/tritonserver:22.07-py3"), "CA202")
    assert found and "6.0" in found[0].message
    assert judge("CA202", [], host, image="nvcr.io/nvidia/tensorrt:22.07-py3") == []


def test_the_release_facts_and_topic_carry_their_sources(facts: Facts) -> None:
    topic = facts.get("image.ngc-gpus")
    assert topic.source.startswith("https://docs.nvidia.com/") and topic.checked.isoformat() == "2026-12-04"
    assert "not yet supported in this version of the container" in topic["text"]
    ngc = [f for f in facts.of_kind("image_release") if f.get("gpus_by_cuda")]
    assert len(ngc) >= 17 and all(f.get("release") for f in ngc)
    # a release built FROM nvidia/cuda whose torch decides (text-generation-inference) is not judged so
    assert not any(f.get("gpus_by_cuda") for f in facts.of_kind("image_release") if f.get("based_on"))


def _without(facts: Facts, fact_id: str, key: str) -> Facts:
    def strip(f: Fact) -> Fact:
        if f.id != fact_id:
            return f
        return replace(f, values={k: v for k, v in f.values.items() if k != key})

    return Facts([strip(f) for f in facts], facts.snapshot)


def test_a_release_without_a_recorded_cuda_is_unknown(judge: Judge, facts: Facts) -> None:
    kb = _without(facts, "image.ngc.20.06", "cuda")
    host = judge.host("RTX 3090", driver="580.65.06")
    stack = Judge(kb).stack(host=host, image="nvcr.io/nvidia/pytorch:20.06-py3")
    found = engine_rule("CA201").run(Context(host, stack, kb))
    assert found and all(f.unknown for f in found) and "image.ngc.20.06" in (found[0].unknown or "")
    assert engine_rule("CA202").run(Context(host, stack, kb)) == []


def test_an_architecture_without_a_recorded_first_cuda_is_unknown(judge: Judge, facts: Facts) -> None:
    kb = Facts([f for f in facts if f.id != "arch.sm_86"], facts.snapshot)
    host = judge.host("RTX 3090", driver="580.65.06")
    stack = Judge(kb).stack(host=host, image="nvcr.io/nvidia/pytorch:20.06-py3")
    found = engine_rule("CA201").run(Context(host, stack, kb))
    assert found and all(f.unknown for f in found) and "sm_86" in (found[0].unknown or "")


def test_a_release_is_found_only_for_images_whose_gpus_follow_their_cuda(judge: Judge) -> None:
    host = judge.host("RTX 5090", driver="580.65.06")
    for image, ngc in (
        ("nvcr.io/nvidia/pytorch:24.05-py3", True),
        ("mirror.example/nvidia/tritonserver:24.05-vllm-python-py3", True),
        ("ghcr.io/huggingface/text-generation-inference:3.3.0", False),
        ("nvidia/cuda:12.4.1-runtime-ubuntu22.04", False),
    ):
        ctx = Context(host, judge.stack(host=host, image=image), judge.facts)
        assert (release_fact(ctx) is not None) is ngc, image


def test_without_a_gpu_the_release_s_architectures_are_the_condition(judge: Judge) -> None:
    host = judge.host(driver="580.65.06")
    found = judge("CA201", [], host, image="nvcr.io/nvidia/pytorch:20.06-py3")
    assert len(found) == 1 and found[0].condition is not None
    archs = {str(cc) for cc in found[0].condition.archs}
    assert {"6.0", "7.0", "7.5", "8.0"} <= archs and not archs & {"5.2", "8.6", "8.9", "9.0"}


def test_check_fails_the_incident_stack(judge: Judge) -> None:
    host = judge.host("RTX 3090")
    findings = check(host, judge.stack(host=host, image="nvcr.io/nvidia/pytorch:20.06-py3"), judge.facts)
    assert any(f.code == "CA201" and f.severity is Severity.ERROR for f in findings)
