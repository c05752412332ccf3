"""What the scan sources yield: declarations with their file and line, and the services they form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cudalign.model import Location

__all__ = [
    "BuildStep",
    "ComposeService",
    "Declared",
    "EnvVar",
    "ImageRef",
    "Include",
    "IndexRef",
    "K8sContainer",
    "MakeCall",
    "MakeRule",
    "Problem",
    "SourceFile",
]


@dataclass(frozen=True, slots=True)
class Declared:
    """A package requirement as a file declares it."""

    name: str
    """Normalised distribution name (``torch``, ``nvidia-cudnn-cu12``)."""
    text: str
    """The requirement as written, without hashes and per-line options (``torch==2.9.0+cu128``)."""
    specifier: str
    """The version specifier (``==2.9.0+cu128``, ``>=0.12``, ``""`` when none)."""
    location: Location
    marker: str | None = None
    """The environment marker (``sys_platform == 'linux'``), when one is given."""
    url: str | None = None
    """A direct reference (``pkg @ https://…``)."""
    locked: bool = False
    """True when it comes from a lock file (``uv.lock``, ``pylock.toml``): an exact resolution."""
    index_url: str | None = None
    """The index a lock file or ``[tool.uv.sources]`` says serves this package."""
    extra: str | None = None
    """The ``[project.optional-dependencies]`` extra it belongs to (installed only when selected)."""
    constraint: bool = False
    """True when it comes from a constraints file (``-c``): it pins, it does not install."""
    install: int = 0
    """Which install command of the service's Dockerfile installs it (the n-th, counted from 1, in the
    file's order; a requirements file takes the number of the command that installs it with ``-r``), 0
    when none is known. A later, separate command replaces what an earlier one installed; one command
    (or one requirements closure) is resolved as a whole."""

    @property
    def pinned_version(self) -> str | None:
        """The exact version when the specifier is one ``==``/``===`` pin without wildcard, else None."""
        spec = self.specifier.strip()
        for op in ("===", "=="):
            if spec.startswith(op) and "," not in spec:
                version = spec[len(op) :].strip()
                return None if "*" in version or not version else version
        return None


@dataclass(frozen=True, slots=True)
class IndexRef:
    """A package index or find-links location a file names."""

    url: str
    kind: str
    """``index-url``, ``extra-index-url``, ``find-links``, ``uv-index``, ``uv-source``, ``env`` or
    ``torch-backend`` (uv's ``--torch-backend=cu128``)."""
    location: Location
    packages: tuple[str, ...] = ()
    """For ``uv-source``: the packages ``[tool.uv.sources]`` sends to this index (empty: all)."""
    extra: str | None = None
    """The extra a source applies to (``extra == 'cuda'`` in its marker, or uv's ``extra =``)."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A base image a Dockerfile stage, compose service or k8s container uses."""

    reference: str
    """The image with build arguments substituted (``nvidia/cuda:12.1.1-runtime-ubuntu22.04``)."""
    location: Location
    stage: str | None = None
    """The Dockerfile stage name (``AS builder``)."""
    unresolved: tuple[str, ...] = ()
    """Build arguments without a default that the reference still needs (``--build-arg``)."""
    final: bool = False
    """True for the last ``FROM`` of a Dockerfile: the image the service runs in."""


@dataclass(frozen=True, slots=True)
class EnvVar:
    """An environment variable a Dockerfile, compose or k8s file sets."""

    name: str
    value: str
    location: Location


@dataclass(frozen=True, slots=True)
class Include:
    """A file another file pulls in: ``-r``/``-c`` in requirements or a Dockerfile ``pip install -r``."""

    path: str
    """The path as written."""
    kind: str
    """``requirement`` or ``constraint``."""
    location: Location
    install: int = 0
    """For a Dockerfile's ``pip install -r``: which install command of the file names it (from 1)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in a file that could not be read (becomes a CA609 finding)."""

    location: Location
    message: str
    fix: str | None = None
    """What to do, where it is not simply to correct the syntax at that line."""


@dataclass(frozen=True, slots=True)
class ComposeService:
    """One service of a compose file."""

    name: str
    location: Location
    context: str | None = None
    """Build context, repo-relative posix path (``"."`` for the root), when the service builds."""
    dockerfile: str | None = None
    """Dockerfile path relative to the repo root, when given or implied."""
    build_args: Mapping[str, str] = field(default_factory=dict)
    image: ImageRef | None = None
    gpu: bool = False
    """True when the service reserves a GPU: ``deploy…devices`` with ``gpu``, ``runtime: nvidia`` or
    ``gpus:``."""
    gpu_how: str | None = None
    """How it reserves one, for messages."""
    env: tuple[EnvVar, ...] = ()
    extends: tuple[str, str] | None = None
    """``extends``: (file, service) it builds on, the file repo-relative."""
    base_image: ImageRef | None = None
    """The base image its build resolves to with its build arguments (set when grouping services)."""
    extended: bool = False
    """True when another compose service ``extends`` it: a template, not deployed on its own."""
    devices: tuple[str, ...] = ()
    """``devices:`` host paths it maps (``/dev/kfd``, ``/dev/dri``, ``/dev/davinci0``)."""
    profiles: tuple[str, ...] = ()
    """``profiles:`` it belongs to (``cpu``, ``gpu`` …)."""
    command: str = ""
    """Its ``command:`` as one line (``--device cpu`` tells a CPU profile)."""
    label: str | None = None
    """How reports name it when several compose files define a service of that name
    (``comfyui (cu126-slim/docker-compose.yml)``); None when the name alone is unique."""


@dataclass(frozen=True, slots=True)
class K8sContainer:
    """A container of a Kubernetes workload."""

    workload: str
    """``Deployment/llm``."""
    name: str
    image: ImageRef | None
    location: Location
    gpus: int | None = None
    """``nvidia.com/gpu`` limit (or request)."""
    gpu_products: tuple[str, ...] = ()
    """``nvidia.com/gpu.product`` values from nodeSelector or node affinity."""
    env: tuple[EnvVar, ...] = ()
    runtime: str | None = None
    """For a KServe ``InferenceService`` model: the serving runtime it names (``runtime:``), else
    ``format:<name>`` for the runtime KServe picks by model format; the image comes from that runtime."""
    serves: tuple[str, ...] = ()
    """For a KServe ``ServingRuntime``'s container: the model formats it is picked for (``autoSelect``)."""
    accelerators: tuple[str, ...] = ()
    """Other accelerator resources it asks for (``amd.com/gpu``, ``huawei.com/Ascend910``,
    ``gpu.intel.com/i915``), as their vendor's resource name."""
    deployment: str | None = None
    """The unit it is deployed with: the folder of the Helm chart (``Chart.yaml``) or kustomization
    (``kustomization.yaml``) that holds its manifest; None for a manifest of its own."""


@dataclass(frozen=True, slots=True)
class BuildStep:
    """A ``RUN`` of a Dockerfile stage that compiles a CUDA extension against torch (``python setup.py
    build_ext``, ``pip install --no-build-isolation …``, ``TORCH_CUDA_ARCH_LIST=… pip install .``)."""

    location: Location
    command: str
    """The command as one short line, for messages."""
    stage: str
    """The stage's name (``AS builder``), or its number (``#1``)."""
    image: ImageRef | None
    """The image the stage starts from, through ``FROM <stage>`` chains (None for ``scratch``)."""
    torch: tuple[Declared, ...] = ()
    """The torch requirements installed before it in this stage or the stages it builds on."""
    indexes: tuple[IndexRef, ...] = ()
    """The index options and variables of those stages (which torch build pip takes)."""
    by_name: bool = False
    """True for a package installed by name (``pip install flash-attn --no-build-isolation``): its own
    setup may fetch a prebuilt wheel before it compiles."""
    final_stage: bool = False
    """True when it runs in the stage the image runs (or one that stage is built ``FROM``)."""
    reached: bool = True
    """False when the final stage neither builds on it nor copies from it (BuildKit skips it)."""
    make: MakeCall | None = None
    """For ``RUN make TARGET``: the Makefile and targets to read; a step still carrying it is not yet
    known to build anything (the Makefile's recipes decide, when the repository holds it)."""


@dataclass(frozen=True, slots=True)
class MakeCall:
    """A ``make`` command of a Dockerfile ``RUN``: which Makefile of the build context, which targets."""

    makefile: str
    """Repo-relative path of the Makefile the command reads (mapped back through ``COPY``)."""
    targets: tuple[str, ...]
    """The targets named (empty: the Makefile's first target)."""
    arch_list: bool = False
    """``TORCH_CUDA_ARCH_LIST`` is set in the stage or the command (``pip install .`` then compiles)."""


@dataclass(frozen=True, slots=True)
class MakeRule:
    """One rule of a Makefile: its target, prerequisites and recipe lines (with their line numbers)."""

    target: str
    prerequisites: tuple[str, ...]
    recipe: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One parsed file: everything it declares, each with its line."""

    path: str
    """Repo-relative posix path."""
    kind: str
    """``requirements``, ``pyproject``, ``uv-lock``, ``pylock``, ``dockerfile``, ``compose``, ``k8s``."""
    requirements: tuple[Declared, ...] = ()
    indexes: tuple[IndexRef, ...] = ()
    no_index: bool = False
    images: tuple[ImageRef, ...] = ()
    env: tuple[EnvVar, ...] = ()
    includes: tuple[Include, ...] = ()
    compose_services: tuple[ComposeService, ...] = ()
    containers: tuple[K8sContainer, ...] = ()
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()
    workspace_members: tuple[str, ...] = ()
    """``[tool.uv.workspace] members`` globs of a pyproject."""
    system_packages: tuple[str, ...] = ()
    """Distribution packages a Dockerfile installs (``apt-get install libcudnn8`` …)."""
    extras: tuple[str, ...] | None = None
    """Extras a Dockerfile installs the project with (``--extra cuda``, ``.[gpu]``; ``("*",)`` for all);
    None when it installs no project."""
    builds: tuple[BuildStep, ...] = ()
    """CUDA extensions a Dockerfile compiles, each with its stage's image and torch."""
    make_rules: tuple[MakeRule, ...] = ()
    """A Makefile's rules, in file order (its ``include`` directives are in ``includes``)."""
