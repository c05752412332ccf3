"""What every emitter derives from a matrix the same way: the summary line, the server the stack runs, the
Python to install, the base images, the GPU labels the scheduler sees."""

from __future__ import annotations

from typing import TYPE_CHECKING

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from cudalign._dataclass import dataclass
from cudalign.emit.source import EmitSource, Pin
from cudalign.emit.templates import SERVER

if TYPE_CHECKING:
    from cudalign.facts import Facts

__all__ = ["EmitContext", "context"]

_PYTHONS = ("3.12", "3.13", "3.11", "3.10")
"""CPython minors an image may be given, in order of preference (3.12 first: the newest every tracked
GPU package had wheels for when this list was written); the plan's specifier chooses among them."""


@dataclass(frozen=True, slots=True)
class EmitContext:
    """A matrix with what the emitters need decided once."""

    source: EmitSource
    name: str
    """The service's name: the server package (``vllm``) or ``app``."""
    server: tuple[int, str, tuple[str, ...]] | None
    """(port, health path, command) when the stack ships a server."""
    python: str
    """The CPython minor to install (``3.12``)."""
    runtime_image: str | None
    build_image: str | None
    """The image to build in: the runtime image, or its ``-devel`` twin when a pin has no wheel."""
    server_image: str | None
    """The plan's image when it already holds the stack (``vllm/vllm-openai:v0.13.0``), else None."""
    ships: tuple[str, ...]
    """What that image already holds (``vllm 0.13.0``, ``torch 2.9.0+cu129``)."""
    gpu_labels: tuple[str, ...]
    """``nvidia.com/gpu.product`` values of the host's GPUs, as GPU Feature Discovery writes them."""
    gpu_count: int
    driver_major: int | None
    """The lowest driver branch the matrix was judged on (the scheduler must not place it lower)."""
    suppress_ca603: str | None
    """Why the base image's CUDA is below torch's on purpose, when it is (the plan's accepted caveat)."""
    suppress_ca608: str | None = None
    """Why the image's CUDA may be above the driver's, when the plan runs it through forward compatibility."""
    image_pins: tuple[Pin, ...] = ()
    """The pins to install into the image: all of them, or on a server image those it does not ship."""
    index_packages: tuple[str, ...] = ()
    """Packages the torch index serves (torch and its companions among the pins, torch itself always)."""
    torch_pin: str | None = None
    """``torch==2.10.0`` when torch is not a pin of its own (vLLM pins it): uv's sources apply to direct
    dependencies only, so the uv project names it."""

    @property
    def summary(self) -> str:
        s = self.source
        parts = []
        if s.driver:
            parts.append(f"driver {s.driver} ({'upgrade, reboot' if s.driver_change else 'kept'})")
        if s.cuda:
            parts.append(f"CUDA {s.cuda}")
        if s.torch:
            parts.append(f"torch {s.torch}")
        if s.vllm:
            parts.append(f"vLLM {s.vllm}")
        if s.python:
            parts.append(f"Python {s.python}")
        return ", ".join(parts) + f"; verdict {s.verdict}"

    @property
    def variant_indexes(self) -> tuple[tuple[str, str, str], ...]:
        """(package, index name, URL) for each pin whose build variant (``vllm==0.25.0+cu129``) comes from
        its project's own index, as the plan's index lines name it (``--extra-index-url
        https://wheels.vllm.ai/0.25.0/cu129``): uv takes a pin's local version only from such an index."""
        s = self.source
        others = [
            line.split(None, 1)[1].strip()
            for line in s.index_options
            if line.startswith("--extra-index-url ") and line.split(None, 1)[1].strip() != s.torch_index
        ]
        out = []
        for pin in s.pins:
            local = Version(pin.version).local if _parses(pin.version) else None
            if not local or pin.name in self.index_packages:
                continue
            url = next((u for u in others if u.rstrip("/").rsplit("/", 1)[-1] == local), None)
            if url is None and len(others) == 1:
                url = others[0]
            if url is not None:
                out.append((pin.name, f"{pin.name}-{local}", url))
        return tuple(out)

    @property
    def image_tag(self) -> str:
        """The tag the emitted compose and k8s files give the image built from the emitted Dockerfile."""
        return f"{self.name}:plan-{self.source.plan_digest.split(':')[-1]}-{self.source.label.lower()}"


def _parses(text: str) -> bool:
    from packaging.version import InvalidVersion

    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _same_vllm_build(source: EmitSource, info_variant: str | None) -> bool:
    """Whether a vLLM image holds the matrix's vLLM build: a variant wheel (``+cu129``) only where the
    image ships that CUDA variant (``v0.25.0-cu129``), not the default build (``v0.25.0``, CUDA 13)."""
    local = Version(source.vllm).local if source.vllm and _parses(source.vllm) else None
    return local is None or local == info_variant


def _python(source: EmitSource) -> str:
    try:
        spec = SpecifierSet(source.python or "")
    except InvalidSpecifier:
        spec = SpecifierSet()
    if source.host.python:
        v = Version(source.host.python)
        mine = f"{v.major}.{v.minor}"
        if mine in _PYTHONS and Version(mine) in spec:
            return mine
    return next((p for p in _PYTHONS if Version(p) in spec), _PYTHONS[0])


def _compiles(source: EmitSource, facts: Facts) -> bool:
    """Whether a pin has only a source distribution on the index (its install compiles): the snapshot's
    wheel list of that release says; a release the snapshot lacks is taken to have wheels."""
    snap = facts.snapshot
    for pin in source.pins:
        rel = snap.release(pin.name, pin.version)
        if rel is not None and not rel.wheels:
            return True
    return False


def _devel(image: str) -> str:
    return image.replace("-runtime-", "-devel-").replace("-base-", "-devel-")


def _labels(source: EmitSource, facts: Facts) -> tuple[str, ...]:
    from cudalign.facts import query

    out = []
    for gpu in source.host.gpus:
        fact = query.gpu_fact(facts, gpu)
        names = fact.get("nvml_names") if fact is not None else None
        name = names[0] if names else gpu.name
        out.append(name.replace(" ", "-"))
    return tuple(dict.fromkeys(out))


def context(source: EmitSource, facts: Facts) -> EmitContext:
    """Decide once what every emitter of this matrix shares."""
    from cudalign.stack import image_info

    server_pkg = next((name for name in SERVER if source.pin(name) or (name == "vllm" and source.vllm)), None)
    server = SERVER[server_pkg] if server_pkg else None
    info = image_info(facts, source.image) if source.image else None
    ships: tuple[str, ...] = ()
    server_image = None
    if info is not None and not info.unknown and info.vllm:
        server_image = source.image
        torch = f"torch {info.torch}" + (f"+{info.torch_variant}" if info.torch_variant else "")
        ships = (f"vLLM {info.vllm}",) + ((torch,) if info.torch else ())
    runtime = None if server_image else source.image
    compiles = _compiles(source, facts)
    build = _devel(runtime) if runtime and compiles else runtime
    driver_major = Version(source.driver).major if source.driver else None
    why = None
    if info is not None and info.cuda and source.cuda and not server_image:
        from cudalign.facts import query

        image_cuda, torch_cuda = query.cuda_minor(info.cuda), query.cuda_minor(source.cuda)
        if image_cuda < torch_cuda and image_cuda.major == torch_cuda.major:
            why = (
                f"base image CUDA {image_cuda} < torch's {torch_cuda} on purpose: driver {source.driver} "
                f"runs CUDA {torch_cuda} through minor-version compatibility, a CUDA {torch_cuda} image "
                "would not"
            )
    companions = query_companions(facts)
    index_packages: tuple[str, ...] = ()
    torch_pin = None
    if source.torch_index:
        index_packages = tuple(p.name for p in source.pins if p.name == "torch" or p.name in companions)
        if source.torch and not source.pin("torch"):
            torch_pin = f"torch=={Version(source.torch).public}"
        if "torch" not in index_packages:
            index_packages = ("torch", *index_packages)
    image_pins = source.pins
    fc = None
    if server_image:
        # the image's own vLLM and torch, unless the matrix wants another build of them (a variant wheel):
        # then every pin is installed over them, from the indexes the plan names
        same = _same_vllm_build(source, info.torch_variant if info is not None else None)
        shipped = {"vllm", "torch"} | companions if same else set()
        image_pins = tuple(p for p in source.pins if p.name not in shipped)
    if source.forward_compat and source.image and info is not None and info.cuda:
        gpus = ", ".join(dict.fromkeys(g.name for g in source.host.gpus)) or "the GPU"
        fc = (
            f"driver {source.driver} runs this image's CUDA {info.cuda} through its forward-compatibility "
            f"libraries, which {gpus} supports (the plan's CA402)"
        )
    return EmitContext(
        source=source,
        name=server_pkg or "app",
        server=server,
        python=_python(source),
        runtime_image=runtime,
        build_image=build,
        server_image=server_image,
        ships=ships,
        gpu_labels=_labels(source, facts),
        gpu_count=max(1, len(source.host.gpus)),
        driver_major=driver_major,
        suppress_ca603=why,
        suppress_ca608=fc,
        image_pins=image_pins,
        index_packages=index_packages,
        torch_pin=torch_pin,
    )


def query_companions(facts: Facts) -> frozenset[str]:
    from cudalign.facts import query

    return query.torch_companions(facts)
