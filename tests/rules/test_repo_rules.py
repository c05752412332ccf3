"""Each repo rule (CA601-CA612): a case it catches and a case it does not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from packaging.version import Version

from cudalign.facts import Facts
from cudalign.model import Finding
from cudalign.rules import REPO_RULES, rule
from cudalign.rules.repo import driver_text
from cudalign.scan import scan

MakeRepo = Callable[[dict[str, str]], Path]
GPU = (
    "    deploy:\n      resources:\n        reservations:\n"
    "          devices:\n            - capabilities: [gpu]\n"
)


def _codes(repo: Path, facts: Facts, code: str, **kw: str) -> list[Finding]:
    return [f for f in scan(repo, facts, **kw).findings if f.code == code]  # type: ignore[arg-type]


def test_catalogue_is_complete_and_documented() -> None:
    assert [r.code for r in REPO_RULES] == [f"CA6{i:02d}" for i in range(1, 13)]
    for r in REPO_RULES:
        assert r.doc and "Fix:" in r.doc, r.code
        assert rule(r.code) is r and rule(r.name) is r


def test_ca601_torch_drift(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({"a/requirements.txt": "torch==2.9.0\n", "b/requirements.txt": "torch==2.9.0\n",
                      "c/requirements.txt": "torch==2.8.0\n"})  # fmt: skip
    found = _codes(repo, facts, "CA601")
    assert [(f.service, f.location and f.location.file, f.location and f.location.line) for f in found] == [
        ("c", "c/requirements.txt", 1)
    ]
    assert "2.8.0" in found[0].message and "a, b use torch 2.9.0" in found[0].message


def test_ca601_catches_not_one_torch(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({"a/requirements.txt": "torch==2.9.0\n", "b/requirements.txt": "vllm==0.13.0\n"})
    assert _codes(repo, facts, "CA601") == []  # vllm 0.13.0 pins torch 2.9.0 too


def test_ca602_cuda_drift(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({
        "a/requirements.txt": "--extra-index-url https://download.pytorch.org/whl/cu126\ntorch==2.9.0+cu126\n",
        "b/requirements.txt": "torch==2.9.0\n",
        "c/requirements.txt": "torch==2.9.0\n",
    })  # fmt: skip
    found = _codes(repo, facts, "CA602")
    assert [(f.service, f.location and f.location.line) for f in found] == [("a", 2)]
    assert "CUDA 12.6" in found[0].message and "CUDA 12.8" in found[0].message


def test_ca602_catches_not_cpu_services(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({
        "a/requirements.txt": "torch==2.9.0\n",
        "b/requirements.txt": "--index-url https://download.pytorch.org/whl/cpu\ntorch==2.9.0+cpu\n",
    })  # fmt: skip
    assert _codes(repo, facts, "CA602") == []


def test_ca603_base_image_cuda_mismatch(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({
        "svc/Dockerfile": "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nCOPY requirements.txt .\n"
                          "RUN pip install -r requirements.txt\n",
        "svc/requirements.txt": "--extra-index-url https://download.pytorch.org/whl/cu128\ntorch==2.9.0+cu128\n",
    })  # fmt: skip
    (found,) = _codes(repo, facts, "CA603")
    assert found.location is not None and (found.location.file, found.location.line) == (
        "svc/requirements.txt",
        2,
    )
    assert found.severity.value == "warning"
    assert "minor-version compatibility" in found.message and "570.26" in found.message
    assert found.facts, "the minimum driver comes from the knowledge base"


def test_ca603_catches_not_a_matching_image(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({
        "svc/Dockerfile": "FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04\nRUN pip install torch==2.9.0\n",
    })  # fmt: skip
    assert _codes(repo, facts, "CA603") == []


def test_ca604_unpinned_cuda_package(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({"requirements.txt": "vllm>=0.12\nnvidia-nccl-cu12\nrequests>=2\ntorch==2.9.0\n"})
    # one cause (the service's unpinned CUDA packages), one finding: at the first line, naming both
    (found,) = _codes(repo, facts, "CA604")
    assert found.location is not None and found.location.line == 1
    assert "'vllm>=0.12'" in found.message and "'nvidia-nccl-cu12'" in found.message
    assert "requirements.txt:2" in found.message


def test_ca604_catches_not_locked_packages(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({
        "pyproject.toml": '[project]\nname = "x"\nversion = "1"\ndependencies = ["vllm>=0.12"]\n',
        "uv.lock": 'version = 1\n\n[[package]]\nname = "vllm"\nversion = "0.13.0"\n'
                   'source = { registry = "https://pypi.org/simple" }\n',
    })  # fmt: skip
    assert _codes(repo, facts, "CA604") == []


def test_ca605_variant_without_index(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({"requirements.txt": "--extra-index-url https://download.pytorch.org/whl/cu126\n"
                                          "torch==2.9.0+cu128\n"})  # fmt: skip
    (found,) = _codes(repo, facts, "CA605")
    assert found.location is not None and found.location.line == 2
    assert "whl/cu128" in found.fix


def test_ca605_catches_not_served_variants(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({
        "a/requirements.txt": "-r base.txt\ntorch==2.9.0+cu128\n",
        "a/base.txt": "--extra-index-url https://download.pytorch.org/whl/cu128\n",
        "b/Dockerfile": "FROM python:3.12\n"
                        "RUN uv pip install --system --torch-backend=cu126 torch==2.9.0+cu126\n",
        "c/Dockerfile": "FROM python:3.12\nENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cu129\n"
                        "RUN pip install torch==2.8.0+cu129\n",
        "d/pyproject.toml": '[project]\nname = "d"\nversion = "1"\ndependencies = ["torch==2.9.0+cu130"]\n'
                            '[tool.uv.sources]\ntorch = { index = "cu130" }\n'
                            '[[tool.uv.index]]\nname = "cu130"\nurl = "https://download.pytorch.org/whl/cu130"\n'
                            "explicit = true\n",
    })  # fmt: skip
    assert _codes(repo, facts, "CA605") == []


def test_ca606_duplicate_pin(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({
        "Dockerfile": "FROM python:3.12\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
                      'RUN pip install "vllm==0.12.0"\n',
        "requirements.txt": "vllm==0.13.0\n",
    })  # fmt: skip
    (found,) = _codes(repo, facts, "CA606")
    assert found.location is not None and (found.location.file, found.location.line) == (
        "requirements.txt",
        1,
    )
    assert "Dockerfile:4" in found.message


def test_ca606_catches_not_same_version_or_other_markers(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({
        "requirements.txt": "-r gpu.txt\ntorch==2.9\nnumpy==1.26.4 ; python_version < '3.13'\n",
        "gpu.txt": "torch==2.9.0\nnumpy==2.1.0 ; python_version >= '3.13'\n",
    })  # fmt: skip
    assert _codes(repo, facts, "CA606") == []


def test_ca607_gpu_service_without_reservation(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({
        "compose.yaml": "services:\n  llm:\n    build: .\n    environment: [NVIDIA_VISIBLE_DEVICES=all]\n",
        "Dockerfile": "FROM python:3.12\nRUN pip install vllm==0.13.0\n",
    })  # fmt: skip
    (found,) = _codes(repo, facts, "CA607")
    assert found.location is not None and (found.location.file, found.location.line) == ("compose.yaml", 2)
    assert "NVIDIA_VISIBLE_DEVICES alone" in found.message


def test_ca607_catches_not_reserved_or_cpu_services(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({
        "compose.yaml": "services:\n  llm:\n    build: ./llm\n" + GPU + "  api:\n    build: ./api\n",
        "llm/Dockerfile": "FROM python:3.12\nRUN pip install vllm==0.13.0\n",
        "api/Dockerfile": "FROM python:3.12\nRUN pip install fastapi==0.115.0\n",
    })  # fmt: skip
    assert _codes(repo, facts, "CA607") == []


def test_ca608_image_needs_newer_driver_than_fleet(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({"Dockerfile": "FROM nvidia/cuda:12.9.1-runtime-ubuntu22.04\n"})
    (found,) = _codes(repo, facts, "CA608", fleet_driver="550.54.15")
    assert found.location is not None and (found.location.file, found.location.line) == ("Dockerfile", 1)
    assert "575.51.03" in found.message and "550.54.15" in found.message  # 12.9 GA driver: cuda>=12.9


def test_ca608_catches_not_without_fleet_or_with_new_enough_driver(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({"Dockerfile": "FROM nvidia/cuda:12.9.1-runtime-ubuntu22.04\n"})
    assert _codes(repo, facts, "CA608") == []
    assert _codes(repo, facts, "CA608", fleet_driver="580.95.05") == []


def test_ca608_disable_require_is_a_warning(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo(
        {"Dockerfile": "FROM nvidia/cuda:12.9.1-runtime-ubuntu22.04\nENV NVIDIA_DISABLE_REQUIRE=1\n"}
    )
    (found,) = _codes(repo, facts, "CA608", fleet_driver="550.54.15")
    assert found.severity.value == "warning" and "NVIDIA_DISABLE_REQUIRE" in found.message


def test_ca609_unparseable_file(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({"pyproject.toml": "[project\n", "compose.yaml": "services:\n  a: [\n"})
    found = _codes(repo, facts, "CA609")
    assert sorted((f.location.file, f.location.line) for f in found if f.location) == [
        ("compose.yaml", 3),
        ("pyproject.toml", 1),
    ]


def test_ca609_catches_not_yaml_that_is_not_ours(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo(
        {"mkdocs.yml": "nav: [\n", "chart/templates/deploy.yaml": "apiVersion: v1\nkind: {{ .K }}\n"}
    )
    result = scan(repo, facts)
    assert result.findings == ()
    assert any("template" in n for n in result.notes)


def test_driver_text_keeps_two_digit_patch() -> None:
    assert driver_text(Version("580.65.06")) == "580.65.06"
    assert driver_text(Version("570.26")) == "570.26"


def test_ca601_compares_versions_not_text(facts: Facts, make_repo: MakeRepo) -> None:
    """2.11.0 is newer than 2.9.0: with one service each, the newest is the reference."""
    repo = make_repo({"a/requirements.txt": "torch==2.11.0\n", "b/requirements.txt": "torch==2.9.0\n"})
    (found,) = _codes(repo, facts, "CA601")
    assert found.service == "b" and "a uses torch 2.11.0" in found.message


def test_ca608_dockerfile_require_replaces_the_images(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({"Dockerfile": "FROM nvidia/cuda:12.9.1-runtime-ubuntu22.04\n"
                                    "ENV NVIDIA_REQUIRE_CUDA=cuda>=12.9\n"})  # fmt: skip
    (found,) = _codes(repo, facts, "CA608", fleet_driver="550.54.15")
    assert found.severity.value == "error" and "refuses to start it" in found.message


def test_unresolved_build_argument_is_a_note(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({"Dockerfile": "ARG BASE\nFROM ${BASE}\nRUN pip install vllm==0.13.0\n"})
    result = scan(repo, facts)
    assert (
        "Dockerfile:2: FROM ${BASE} needs --build-arg BASE (no default): its CUDA is unknown" in result.notes
    )


def test_ca606_catches_not_other_packages(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo({"requirements.txt": "-r other.txt\nhttpx==0.27.2\n", "other.txt": "httpx==0.25.2\n"})
    assert _codes(repo, facts, "CA606") == []


def test_ca606_out_of_date_lock_is_left_out_of_the_resolution(facts: Facts, make_repo: MakeRepo) -> None:
    """The lock predates vllm==0.13.0: its torch 2.6.0 says nothing about what runs with vLLM 0.13.0."""
    repo = make_repo({
        "pyproject.toml": '[project]\nname = "x"\nversion = "1"\ndependencies = [\n    "vllm==0.13.0",\n]\n',
        "uv.lock": 'version = 1\n\n[[package]]\nname = "torch"\nversion = "2.6.0"\n'
                   'source = { registry = "https://pypi.org/simple" }\n',
    })  # fmt: skip
    result = scan(repo, facts)
    assert [(f.code, f.location and f.location.line) for f in result.findings] == [("CA606", 5)]
    assert "uv.lock does not lock it" in result.findings[0].message
    assert result.views[0].torch_version == Version("2.9.0")  # vLLM 0.13.0's own torch pin


def test_ca609_in_a_file_only_an_include_names(facts: Facts, make_repo: MakeRepo) -> None:
    repo = make_repo(
        {"requirements.txt": "-r deps/gpu.pins\ntorch==2.9.0\n", "deps/gpu.pins": "vllm=0.13.0\n"}
    )
    found = _codes(repo, facts, "CA609")
    assert [(f.location.file, f.location.line) for f in found if f.location] == [("deps/gpu.pins", 1)]
