"""Per-service analysis: which declaration decides a package, what counts as a GPU stack."""

from __future__ import annotations

from cudalign.model import Location
from cudalign.scan.analysis import ServiceView, cuda_sensitive, declaration_for
from cudalign.scan.model import Declared, ImageRef
from cudalign.scan.services import Service, image_repository


def _decl(name: str, spec: str, line: int, *, locked: bool = False, file: str = "r.txt") -> Declared:
    return Declared(name, f"{name}{spec}", spec, Location(file, line), locked=locked)


def test_declaration_for_prefers_the_lock_entry_that_matches_the_pin() -> None:
    svc = Service("s", ".", ("r.txt",), requirements=(
        _decl("torch", ">=2", 1),
        _decl("torch", "==2.7.1+cu126", 2),
        _decl("torch", "==2.7.1", 10, locked=True, file="poetry.lock"),
        _decl("torch", "==2.7.1+cu126", 20, locked=True, file="poetry.lock"),
    ))  # fmt: skip
    chosen = declaration_for(svc, "torch")
    assert chosen is not None and chosen.location.line == 20
    assert (
        declaration_for(Service("s", ".", (), requirements=(_decl("vllm", ">=0.12", 3),)), "vllm") is not None
    )
    assert declaration_for(svc, "vllm") is None


def test_gpu_stack_signals() -> None:
    def view(*decls: Declared, image: str | None = None) -> ServiceView:
        ref = ImageRef(image, Location("Dockerfile", 1)) if image else None
        return ServiceView(Service("s", ".", (), requirements=decls, image=ref), ())

    assert view(_decl("vllm", "==0.13.0", 1)).gpu_stack
    assert view(_decl("torch", "==2.9.0+cu128", 1)).gpu_stack
    assert view(_decl("nvidia-nccl-cu12", "==2.27.5", 1)).gpu_stack
    assert not view(_decl("torch", "==2.9.0", 1)).gpu_stack  # PyPI default: CPU use is possible
    assert not view(_decl("nvidia-nccl-cu12", "==2.27.5", 1, locked=True)).gpu_stack  # only a lock's
    assert not view(_decl("fastapi", "==0.115.0", 1)).gpu_stack


def test_cuda_sensitive() -> None:
    assert all(
        cuda_sensitive(n) for n in ("torch", "vllm", "nvidia-cudnn-cu12", "cupy-cuda12x", "flash-attn")
    )
    assert not any(cuda_sensitive(n) for n in ("fastapi", "numpy", "httpx"))


def test_nvml_bindings_are_not_cuda_sensitive() -> None:
    """nvidia-ml-py is pure Python (NVML bindings): a lower bound on it is no CUDA misalignment."""
    assert not cuda_sensitive("nvidia-ml-py")
    svc = Service("s", ".", (), requirements=(_decl("nvidia-ml-py", ">=12.535", 1),))
    assert not ServiceView(svc, ()).declares_gpu


def test_image_repository() -> None:
    assert image_repository("registry.example.com:5000/org/tts:1.2@sha256:abc") == "org/tts"
    assert image_repository("docker.io/vllm/vllm-openai:v0.9.0") == "vllm/vllm-openai"
    assert image_repository("localhost/app") == "app"
    assert image_repository("redis") == "redis"
