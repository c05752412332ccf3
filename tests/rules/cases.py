"""The table of cases per rule: inputs each rule must catch and inputs it must not, run by one meta-test.

An engine case describes a host (``--gpu``/``--driver``/``--python`` and field changes) and a stack (the
requirements it resolves from, an image, features, or the host's installed packages); a repo case is a
repository's files and a fleet driver. A rule *catches* an input when it reports a finding for it that is
not a missing fact (``unknown``); it does *not catch* one when it reports nothing at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cudalign.model import ContainerInfo, InstalledPackage

__all__ = ["CASES", "EngineCase", "RepoCase", "RuleCases"]


@dataclass(frozen=True)
class EngineCase:
    """A host and a stack for one engine rule."""

    what: str
    requirements: tuple[str, ...] = ()
    gpus: tuple[str, ...] = ()
    driver: str | None = None
    python: str | None = None
    image: str | None = None
    features: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    host: Mapping[str, Any] = field(default_factory=dict)
    """Host fields to replace (``origin``, ``container``, ``packages``, ``cudnn`` …)."""
    os: Mapping[str, Any] = field(default_factory=dict)
    """``OsInfo`` fields to replace (``system``, ``glibc``)."""
    driver_info: Mapping[str, Any] = field(default_factory=dict)
    """``DriverInfo`` fields to replace (``nvml_mismatch``)."""
    installed: bool = False
    """Judge the host's installed packages instead of resolving ``requirements``."""


@dataclass(frozen=True)
class RepoCase:
    """A repository for one repo rule."""

    what: str
    files: Mapping[str, str]
    fleet_driver: str | None = None


@dataclass(frozen=True)
class RuleCases:
    catches: tuple[EngineCase | RepoCase, ...]
    catches_not: tuple[EngineCase | RepoCase, ...]


ADA = ("RTX 6000 Ada",)
NEW = "580.95.05"
IMAGE = "nvidia/cuda:12.8.1-runtime-ubuntu22.04"
GPU = (
    "    deploy:\n      resources:\n        reservations:\n"
    "          devices:\n            - capabilities: [gpu]\n"
)
REQS = "RUN pip install -r requirements.txt\n"
CU126 = "--extra-index-url https://download.pytorch.org/whl/cu126\ntorch==2.9.0+cu126\n"


def _installed(*packages: InstalledPackage) -> dict[str, Any]:
    return {"packages": packages}


CASES: dict[str, RuleCases] = {
    # ---------------------------------------------------------------- driver
    "CA101": RuleCases(
        (
            EngineCase("CUDA 13 torch on R575", ("torch==2.11.0",), ("H100",), "575.57.08"),
            EngineCase("a GPU newer than the driver", ("torch==2.7.0+cu128",), ("RTX 5090",), "560.35.03"),
            EngineCase(
                "CUDA 11.0 torch below CUDA 11.0's own driver", ("torch==1.7.1+cu110",), ("T4",), "440.33.01"
            ),
        ),
        (
            EngineCase("CUDA 13 torch on R580", ("torch==2.11.0",), ("H100",), NEW),
            # 450.51.06 is below the 11.x compatibility floor (450.80.02) but CUDA 11.0's own driver: native
            EngineCase(
                "CUDA 11.0 torch on CUDA 11.0's driver", ("torch==1.7.1+cu110",), ("T4",), "450.51.06"
            ),
        ),
    ),
    "CA102": RuleCases(
        (EngineCase("cu128 torch on R550", ("torch==2.9.0",), ADA, "550.107.02"),),
        (EngineCase("cu128 torch on R570", ("torch==2.9.0",), ADA, "570.133.07"),),
    ),
    "CA103": RuleCases(
        (EngineCase("FA2 PTX on Hopper with R550", ("vllm==0.11.2",), ("H100 PCIe",), "550.144.03"),),
        (EngineCase("Ada, where sm_80 code runs", ("vllm==0.11.2",), ADA, "550.144.03"),),
    ),
    "CA104": RuleCases(
        (
            EngineCase(
                "a probed host without a driver",
                ("torch==2.9.0",),
                ("H100",),
                host={"origin": "probe", "unknown": {"driver": "libcuda.so.1 not found"}},
            ),
            EngineCase(
                "a described host without a driver: the driver it needs", ("torch==2.9.0",), ("H100",)
            ),
        ),
        (
            EngineCase("a driver", ("torch==2.9.0",), ("H100",), NEW),
            EngineCase("a driver given as a branch", ("torch==2.9.0",), ("H100",), "R580"),
        ),
    ),
    "CA105": RuleCases(
        (
            EngineCase(
                "NVML mismatch",
                ("torch==2.9.0",),
                ("A100",),
                "550.90.07",
                driver_info={"nvml_mismatch": True},
            ),
        ),
        (EngineCase("no mismatch", ("torch==2.9.0",), ("A100",), "550.90.07"),),
    ),
    # ---------------------------------------------------------------- architectures
    "CA201": RuleCases(
        (
            EngineCase("Blackwell on cu124 torch", ("torch==2.6.0+cu124",), ("RTX 5090",), "570.133.07"),
            EngineCase("a described host without a GPU: the GPUs that run it", ("torch==2.9.0",), (), NEW),
            EngineCase(
                "NGC 20.06 (CUDA 11.0) on an RTX 3090 (sm_86)",
                gpus=("RTX 3090",),
                driver=NEW,
                image="nvcr.io/nvidia/pytorch:20.06-py3",
            ),
        ),
        (
            EngineCase("Blackwell on cu128 torch", ("torch==2.7.0+cu128",), ("RTX 5090",), "570.133.07"),
            EngineCase(
                "NGC 22.12 (CUDA 11.8) on an RTX 4090 (sm_89)",
                gpus=("RTX 4090",),
                driver=NEW,
                image="nvcr.io/nvidia/tensorrt:22.12-py3",
            ),
        ),
    ),
    "CA202": RuleCases(
        (
            EngineCase(
                "Volta dropped from torch 2.11 cu128", ("torch==2.11.0+cu128",), ("V100",), "570.133.07"
            ),
            EngineCase("Volta with CUDA 13", ("vllm==0.20.0",), ("V100",), NEW),
            EngineCase(
                "NGC 25.10 (CUDA 13.0) on a V100",
                gpus=("V100",),
                driver=NEW,
                image="nvcr.io/nvidia/pytorch:25.10-py3",
            ),
        ),
        (
            EngineCase("Volta on torch 2.10 cu128", ("torch==2.10.0+cu128",), ("V100",), "570.133.07"),
            EngineCase(
                "NGC 25.01 (CUDA 12.8) on a V100",
                gpus=("V100",),
                driver=NEW,
                image="nvcr.io/nvidia/pytorch:25.01-py3",
            ),
        ),
    ),
    "CA203": RuleCases(
        (EngineCase("bf16 on a T4", ("torch==2.9.0",), ("T4",), "570.133.07", features=("bf16",)),),
        (EngineCase("bf16 on an A10", ("torch==2.9.0",), ("A10",), "570.133.07", features=("bf16",)),),
    ),
    # ---------------------------------------------------------------- packages
    "CA301": RuleCases(
        (
            EngineCase("vLLM's torch pin against the user's", ("vllm==0.13.0", "torch==2.8.0"), ADA, NEW),
            EngineCase(
                "an installed pin that is not met",
                gpus=ADA,
                driver=NEW,
                host=_installed(
                    InstalledPackage("torch", "2.9.0+cu128"),
                    InstalledPackage("vllm", "0.11.0", requires=("torch==2.8.0",)),
                ),
                installed=True,
            ),
        ),
        (
            EngineCase("pins that agree", ("vllm==0.13.0", "torch==2.9.0"), ADA, NEW),
            EngineCase(
                "installed pins that hold",
                gpus=ADA,
                driver=NEW,
                host=_installed(
                    InstalledPackage("torch", "2.8.0+cu128"),
                    InstalledPackage("vllm", "0.11.0", requires=("torch==2.8.0",)),
                ),
                installed=True,
            ),
        ),
    ),
    "CA302": RuleCases(
        (
            EngineCase(
                "xformers built for another torch",
                gpus=ADA,
                driver=NEW,
                host=_installed(
                    InstalledPackage("torch", "2.6.0+cu124"),
                    InstalledPackage("xformers", "0.0.28.post3", requires=("torch==2.5.1",)),
                ),
                installed=True,
            ),
        ),
        (
            EngineCase(
                "the matching pair",
                gpus=ADA,
                driver=NEW,
                host=_installed(
                    InstalledPackage("torch", "2.5.1+cu124"),
                    InstalledPackage("xformers", "0.0.28.post3", requires=("torch==2.5.1",)),
                ),
                installed=True,
            ),
        ),
    ),
    "CA303": RuleCases(
        (EngineCase("cu12 vLLM with cu130 torch", ("vllm==0.13.0", "torch==2.9.0+cu130"), ADA, NEW),),
        (EngineCase("cu12 vLLM with cu128 torch", ("vllm==0.13.0", "torch==2.9.0+cu128"), ADA, NEW),),
    ),
    "CA304": RuleCases(
        (
            EngineCase(
                "cuDNN 8 ctranslate2 next to cuDNN 9 torch", ("ctranslate2==4.4.0", "torch==2.5.1"), ADA, NEW
            ),
            EngineCase(
                "torch loads another cuDNN major than the system's",
                gpus=ADA,
                driver=NEW,
                host={
                    "packages": (InstalledPackage("torch", "2.9.0+cu128"),),
                    "cudnn": {"torch": "9.10.2.21", "system": "8.9.7"},
                },
                installed=True,
            ),
        ),
        (
            EngineCase(
                "cuDNN 9 ctranslate2 with cuDNN 9 torch", ("ctranslate2==4.5.0", "torch==2.5.1"), ADA, NEW
            ),
            EngineCase(
                "the same cuDNN in wheel and system",
                gpus=ADA,
                driver=NEW,
                host={
                    "packages": (InstalledPackage("torch", "2.9.0+cu128"),),
                    "cudnn": {"torch": "9.10.2.21", "system": "9.10.2.21"},
                },
                installed=True,
            ),
        ),
    ),
    "CA305": RuleCases(
        (
            EngineCase("CPU torch on a GPU host", ("torch==2.9.0+cpu",), ADA, NEW),
            EngineCase("PyPI's torch on Windows", ("torch==2.9.0",), ADA, NEW, os={"system": "Windows"}),
        ),
        (EngineCase("CUDA torch", ("torch==2.9.0",), ADA, NEW),),
    ),
    "CA306": RuleCases(
        (EngineCase("an old glibc", ("torch==2.9.0",), ADA, NEW, python="3.12", os={"glibc": "2.17"}),),
        (EngineCase("a supported Python", ("vllm==0.13.0",), ADA, NEW, python="3.12"),),
    ),
    "CA307": RuleCases(
        (EngineCase("two NCCL packages", ("torch==2.13.0", "nvidia-nccl-cu12==2.29.3"), ADA, NEW),),
        (EngineCase("torch alone", ("torch==2.13.0",), ADA, NEW),),
    ),
    "CA308": RuleCases(
        (
            EngineCase("a release the index never had", ("torch==2.5.9",), ADA, NEW, python="3.12"),
            EngineCase(
                "an nvidia/cuda tag NVIDIA never published", image="nvidia/cuda:12.1-devel-ubuntu22.04"
            ),
        ),
        (
            EngineCase("releases that exist", ("torch==2.5.1", "vllm==0.13.0"), ADA, NEW, python="3.12"),
            EngineCase(
                "a published nvidia/cuda tag", (), ADA, NEW, image="nvidia/cuda:12.1.1-devel-ubuntu22.04"
            ),
        ),
    ),
    "CA309": RuleCases(
        (
            EngineCase("two exact pins", ("torch==2.5.1", "torch==2.6.0"), ADA, NEW),
            EngineCase(
                "a constraint that excludes the pin", ("torch==2.6.0",), ADA, NEW, constraints=("torch<2.6",)
            ),
        ),
        (
            EngineCase(
                "pins that agree", ("torch==2.6.0", "torch>=2.5"), ADA, NEW, constraints=("torch<2.7",)
            ),
        ),
    ),
    # ---------------------------------------------------------------- images and containers
    "CA401": RuleCases(
        (
            EngineCase(
                "a GeForce on R550 in a CUDA 12.8 image",
                ("torch==2.9.0",),
                ("RTX 4090",),
                "550.144.03",
                image=IMAGE,
            ),
            EngineCase(
                "the same with NVIDIA_DISABLE_REQUIRE: it starts, its CUDA calls fail",
                ("torch==2.9.0",),
                ("RTX 4090",),
                "550.144.03",
                image=IMAGE,
                host={"container": ContainerInfo(kind="docker", nvidia_disable_require=True)},
            ),
        ),
        (
            EngineCase("the same on R570", ("torch==2.9.0",), ("RTX 4090",), "570.133.07", image=IMAGE),
            EngineCase(
                "a brand clause admits a datacenter GPU on R550",
                ("torch==2.9.0",),
                ("H100",),
                "550.144.03",
                image=IMAGE,
            ),
        ),
    ),
    "CA402": RuleCases(
        (
            EngineCase(
                "compat libraries on a workstation card",
                ("torch==2.9.0",),
                ("RTX A6000",),
                "550.144.03",
                image=IMAGE,
            ),
            EngineCase(
                "compat libraries older than the host driver",
                ("torch==2.9.0",),
                ("H100",),
                NEW,
                host={
                    "container": ContainerInfo(
                        kind="docker", compat_libs=("/usr/local/cuda/compat",), compat_cuda="12.8"
                    )
                },
            ),
        ),
        (EngineCase("no compat libraries", ("torch==2.9.0",), ("RTX A6000",), "570.133.07", image=IMAGE),),
    ),
    "CA403": RuleCases(
        (
            EngineCase(
                "a container without GPUs",
                ("torch==2.9.0",),
                driver=NEW,
                host={"origin": "probe", "container": ContainerInfo(kind="docker")},
            ),
        ),
        (
            EngineCase(
                "a container with GPUs",
                ("torch==2.9.0",),
                ("H100",),
                NEW,
                host={
                    "origin": "probe",
                    "container": ContainerInfo(kind="docker", nvidia_visible_devices="all"),
                },
            ),
        ),
    ),
    "CA404": RuleCases(
        (
            EngineCase(
                "a pytorch/pytorch CUDA tag (linux/amd64 only) on an aarch64 host",
                gpus=("GH200",),
                driver=NEW,
                image="pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime",
                os={"arch": "aarch64"},
            ),
            EngineCase(
                "a vLLM image before arm64 images on an aarch64 host",
                gpus=("GB200",),
                driver=NEW,
                image="vllm/vllm-openai:v0.9.0",
                os={"arch": "aarch64"},
            ),
        ),
        (
            EngineCase(
                "the same pytorch/pytorch tag on x86_64",
                gpus=("H100",),
                driver=NEW,
                image="pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime",
            ),
            EngineCase(
                "a multi-arch vLLM image on aarch64",
                gpus=("GB200",),
                driver=NEW,
                image="vllm/vllm-openai:v0.11.0",
                os={"arch": "aarch64"},
            ),
            EngineCase(
                "an image whose platforms no fact gives (NGC) on aarch64",
                gpus=("GH200",),
                driver=NEW,
                image="nvcr.io/nvidia/pytorch:25.12-py3",
                os={"arch": "aarch64"},
            ),
        ),
    ),
    # ---------------------------------------------------------------- runtime
    "CA501": RuleCases(
        (
            EngineCase(
                "ctranslate2 without CUDA libraries on a probed host",
                ("ctranslate2==4.6.0",),
                ("RTX 4090",),
                "570.133.07",
                host={"origin": "probe"},
            ),
        ),
        (
            EngineCase(
                "ctranslate2 next to CUDA 12 torch",
                ("ctranslate2==4.6.0", "torch==2.9.0"),
                ("RTX 4090",),
                "570.133.07",
            ),
        ),
    ),
    "CA502": RuleCases(
        (
            EngineCase(
                "NVSwitch without Fabric Manager",
                ("torch==2.9.0",),
                ("H100", "H100"),
                NEW,
                host={"nvswitch": True, "fabric_manager": "not-started"},
            ),
        ),
        (
            EngineCase(
                "a running Fabric Manager",
                ("torch==2.9.0",),
                ("H100", "H100"),
                NEW,
                host={"nvswitch": True, "fabric_manager": "running"},
            ),
        ),
    ),
    # ---------------------------------------------------------------- repo rules
    "CA601": RuleCases(
        (
            RepoCase(
                "one service off the common torch",
                {
                    "a/requirements.txt": "torch==2.9.0\n",
                    "b/requirements.txt": "torch==2.9.0\n",
                    "c/requirements.txt": "torch==2.8.0\n",
                },
            ),
        ),
        (
            RepoCase(
                "vLLM pins the same torch",
                {"a/requirements.txt": "torch==2.9.0\n", "b/requirements.txt": "vllm==0.13.0\n"},
            ),
        ),
    ),
    "CA602": RuleCases(
        (
            RepoCase(
                "one service on another CUDA",
                {
                    "a/requirements.txt": CU126,
                    "b/requirements.txt": "torch==2.9.0\n",
                    "c/requirements.txt": "torch==2.9.0\n",
                },
            ),
        ),
        (
            RepoCase(
                "one CUDA everywhere",
                {"a/requirements.txt": "torch==2.9.0\n", "b/requirements.txt": "torch==2.9.0\n"},
            ),
        ),
    ),
    "CA603": RuleCases(
        (
            RepoCase(
                "a CUDA 12.4 image under cu128 torch",
                {
                    "svc/Dockerfile": "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\n" + REQS,
                    "svc/requirements.txt": "torch==2.9.0\n",
                },
            ),
        ),
        (
            RepoCase(
                "a matching CUDA 12.8 image",
                {
                    "svc/Dockerfile": "FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04\n" + REQS,
                    "svc/requirements.txt": "torch==2.9.0\n",
                },
            ),
        ),
    ),
    "CA604": RuleCases(
        (RepoCase("a range on vLLM", {"svc/requirements.txt": "vllm>=0.12\n"}),),
        (RepoCase("an exact pin", {"svc/requirements.txt": "vllm==0.13.0\nrequests>=2\n"}),),
    ),
    "CA605": RuleCases(
        (RepoCase("a +cu126 pin with no index", {"svc/requirements.txt": "torch==2.9.0+cu126\n"}),),
        (RepoCase("the variant's index", {"svc/requirements.txt": CU126}),),
    ),
    "CA606": RuleCases(
        (
            RepoCase(
                "two pins of torch in one service",
                {
                    "svc/requirements.txt": "torch==2.9.0\n",
                    "svc/Dockerfile": "FROM python:3.12\n" + REQS + "RUN pip install torch==2.8.0\n",
                },
            ),
        ),
        (
            RepoCase(
                "the same pin twice",
                {
                    "svc/requirements.txt": "torch==2.9.0\n",
                    "svc/Dockerfile": "FROM python:3.12\n" + REQS + "RUN pip install torch==2.9.0\n",
                },
            ),
        ),
    ),
    "CA607": RuleCases(
        (
            RepoCase(
                "a vLLM service that reserves no GPU",
                {
                    "compose.yaml": "services:\n  llm:\n    build: ./llm\n",
                    "llm/Dockerfile": "FROM python:3.12\nRUN pip install vllm==0.13.0\n",
                },
            ),
        ),
        (
            RepoCase(
                "the same service with a reservation",
                {
                    "compose.yaml": "services:\n  llm:\n    build: ./llm\n" + GPU,
                    "llm/Dockerfile": "FROM python:3.12\nRUN pip install vllm==0.13.0\n",
                },
            ),
        ),
    ),
    "CA608": RuleCases(
        (
            RepoCase(
                "a CUDA 12.8 image on an R535 fleet",
                {"svc/Dockerfile": "FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04\n"},
                fleet_driver="535.104.05",
            ),
        ),
        (
            RepoCase(
                "the same image on an R570 fleet",
                {"svc/Dockerfile": "FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04\n"},
                fleet_driver="570.133.07",
            ),
        ),
    ),
    "CA609": RuleCases(
        (RepoCase("pyproject.toml that does not parse", {"pyproject.toml": "[project\nname = 'x'\n"}),),
        (RepoCase("pyproject.toml that parses", {"pyproject.toml": "[project]\nname = 'x'\n"}),),
    ),
    "CA610": RuleCases(
        (
            RepoCase(
                "a CUDA 12.1 devel stage compiling against a cu130 torch, copied into the final image",
                {
                    "svc/Dockerfile": "FROM nvidia/cuda:12.1.1-devel-ubuntu22.04 AS build\n"
                    "RUN pip install torch==2.9.0 --index-url https://download.pytorch.org/whl/cu130\n"
                    "RUN python setup.py bdist_wheel\n"
                    "FROM nvidia/cuda:13.0.1-runtime-ubuntu24.04\n"
                    "COPY --from=build /dist /dist\n"
                },
            ),
        ),
        (
            RepoCase(
                "a CUDA 12.4 devel stage compiling against a cu126 torch (same major: torch only warns)",
                {
                    "svc/Dockerfile": "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\n"
                    "RUN pip install torch==2.6.0 --index-url https://download.pytorch.org/whl/cu126\n"
                    "RUN python setup.py bdist_wheel\n"
                },
            ),
            RepoCase(
                "the mismatching stage is never used by the final image",
                {
                    "svc/Dockerfile": "FROM nvidia/cuda:12.1.1-devel-ubuntu22.04 AS old\n"
                    "RUN pip install torch==2.9.0 --index-url https://download.pytorch.org/whl/cu130\n"
                    "RUN python setup.py bdist_wheel\n"
                    "FROM nvidia/cuda:13.0.1-runtime-ubuntu24.04\n"
                },
            ),
        ),
    ),
    "CA611": RuleCases(
        (
            RepoCase(
                "tensorrt-cu11 beside a cu121 torch",
                {
                    "svc/requirements.txt": "--extra-index-url https://download.pytorch.org/whl/cu121\n"
                    "torch==2.5.1+cu121\ntensorrt-cu11==10.0.1\n"
                },
            ),
        ),
        (
            RepoCase(
                "CUDA 12 packages beside a cu121 torch",
                {
                    "svc/requirements.txt": "--extra-index-url https://download.pytorch.org/whl/cu121\n"
                    "torch==2.5.1+cu121\ntensorrt-cu12==10.0.1\njax[cuda12]==0.4.35\ncuda-python==12.6.0\n"
                },
            ),
        ),
    ),
    "CA612": RuleCases(
        (
            RepoCase(
                "sentence-transformers on a CUDA image, no torch pin",
                {
                    "svc/Dockerfile": "FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04\n"
                    "RUN pip install sentence-transformers\n"
                },
            ),
        ),
        (
            RepoCase(
                "the same with torch pinned, and transformers (which does not pull torch)",
                {
                    "svc/Dockerfile": "FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04\n"
                    "RUN pip install sentence-transformers torch==2.8.0 transformers==4.46.0\n"
                },
            ),
        ),
    ),
}
"""Rule code -> inputs it catches and inputs it does not."""
