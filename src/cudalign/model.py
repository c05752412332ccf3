"""Frozen value types shared by every layer: the host snapshot, stacks, findings, reports.

Everything here round-trips through JSON (``to_json``/``from_json``) so that a host recorded by
``doctor --json`` can be fed back to ``check --host FILE``. A value that could not be read is ``None``
and its reason sits in the owner's ``unknown`` mapping (field name -> reason): one sentinel only.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any

from packaging.version import InvalidVersion, Version

from cudalign._dataclass import dataclass, field, field_names
from cudalign.errors import InvalidHost, InvalidInput

__all__ = [
    "HOST_SCHEMA",
    "Component",
    "ComputeCapability",
    "Condition",
    "ContainerInfo",
    "DriverInfo",
    "FactRef",
    "Finding",
    "Gpu",
    "GpuProcess",
    "Host",
    "InstalledPackage",
    "Location",
    "Matrix",
    "OsInfo",
    "Plan",
    "Rejection",
    "Report",
    "Severity",
    "Stack",
    "Verdict",
    "driver_branch",
    "driver_version",
    "host_from_json",
    "python_version",
    "to_jsonable",
]

HOST_SCHEMA = "cudalign.host/1"


# --------------------------------------------------------------------------- small value types


@dataclass(frozen=True, slots=True, order=True)
class ComputeCapability:
    """A CUDA compute capability such as 9.0 (``sm_90``) or 12.0 (``sm_120``); as a compilation target it
    may be architecture-specific (``sm_90a``) or family-specific (``sm_100f``)."""

    major: int
    """Architecture generation (7 Volta/Turing, 8 Ampere/Ada, 9 Hopper, 10/11/12 Blackwell)."""
    minor: int
    """Revision inside the generation."""
    variant: str = ""
    """For code: ``a`` architecture-specific (``sm_90a``, runs on exactly 9.0), ``f`` family-specific
    (``sm_100f``, runs on the family: 10.0 and 10.3); empty for plain code and for a GPU."""

    # a pattern string, compiled on first use by re's own cache (nothing is compiled at import)
    _PATTERN = r"^\s*(?:sm_?|compute_?)?(\d+)(?:\.(\d+))?([af])?\s*$"

    @classmethod
    def parse(cls, text: str) -> ComputeCapability:
        """Parse ``9.0``, ``sm_90``, ``sm90``, ``90``, ``sm_120a``, ``12.0a`` or ``compute_100f``."""
        m = re.match(cls._PATTERN, str(text), re.IGNORECASE)
        if not m:
            raise InvalidInput(f"not a compute capability: {text!r} (expected e.g. 9.0 or sm_90)")
        whole, minor, variant = m.group(1), m.group(2), (m.group(3) or "").lower()
        if minor is not None:
            return cls(int(whole), int(minor), variant)
        if len(whole) < 2:
            return cls(int(whole), 0, variant)
        return cls(int(whole[:-1]), int(whole[-1]), variant)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}{self.variant}"

    @property
    def sm(self) -> str:
        """The ``sm_XY`` spelling nvcc and ``torch.cuda.get_arch_list()`` use (``sm_90a`` with a variant)."""
        return f"sm_{self.major}{self.minor}{self.variant}"

    @property
    def version(self) -> Version:
        """The capability as a ``packaging`` version, for use with specifier sets like ``>=8.0``."""
        return Version(f"{self.major}.{self.minor}")

    @property
    def device(self) -> ComputeCapability:
        """The GPU's capability this target names, without the variant (``sm_90a`` -> 9.0)."""
        return ComputeCapability(self.major, self.minor) if self.variant else self

    def sass_runs_on(self, gpu: ComputeCapability) -> bool:
        """Whether machine code built for this target runs on a GPU of capability ``gpu``: plain and family
        code for X.y on X.z with z >= y (never across majors), architecture-specific code on X.y only."""
        if self.major != gpu.major:
            return False
        return self.minor == gpu.minor if self.variant == "a" else self.minor <= gpu.minor

    def ptx_runs_on(self, gpu: ComputeCapability) -> bool:
        """Whether the driver can JIT-compile PTX built for this target for ``gpu``: plain PTX forward to any
        newer capability, family PTX (``compute_100f``) within its family, architecture-specific PTX
        (``compute_90a``) for exactly that capability."""
        if self.variant:
            return self.sass_runs_on(gpu)
        return (self.major, self.minor) <= (gpu.major, gpu.minor)


_BRANCH = r"^\s*[rR]?(\d{3})(?:\.[xX*])?\s*$"  # 580, R580, r580, 580.x, 580.*; compiled on first use


def driver_branch(text: str) -> int | None:
    """The branch a driver given as a branch names (``580``, ``R580``, ``580.x``, ``580.*`` -> 580);
    ``None`` for a full version such as ``580.65.06``."""
    m = re.match(_BRANCH, str(text))
    return int(m.group(1)) if m else None


def driver_version(text: str) -> Version:
    """Parse an NVIDIA driver version (``550.107.02``, ``576.02``) into a comparable version.

    A branch as people write it (``580``, ``R580``, ``580.x``) parses as the branch number (``580``);
    :func:`driver_branch` tells such a text apart, and a described host judges it on the branch's first
    release."""
    branch = driver_branch(text)
    if branch is not None:
        return Version(str(branch))
    try:
        return Version(str(text).strip())
    except InvalidVersion:
        raise InvalidInput(
            f"not a driver version: {text!r} (expected e.g. 550.107.02, or a branch such as 580 or R580)"
        ) from None


class Severity(str, enum.Enum):
    """How bad a finding is; ``--fail-on`` compares against this order."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]


class Verdict(str, enum.Enum):
    """Whether a stack runs on a host."""

    OK = "ok"
    CAVEATS = "caveats"
    FAILS = "fails"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class FactRef:
    """A fact a finding rests on: its id in the knowledge base and where it came from."""

    id: str
    source: str


@dataclass(frozen=True, slots=True)
class Location:
    """Where in a repository a scan finding points."""

    file: str
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong (or worth knowing) about a stack on a host."""

    code: str
    """Stable rule id, e.g. ``CA101``."""
    name: str
    """Stable rule name, e.g. ``driver-too-old``."""
    severity: Severity
    message: str
    """One sentence: what is wrong."""
    fix: str
    """One sentence: what to do."""
    facts: tuple[FactRef, ...] = ()
    location: Location | None = None
    service: str | None = None
    """For scan findings: the service (build context) the finding belongs to."""
    unknown: str | None = None
    """When the rule could not decide: the fact of the knowledge base that is missing."""
    condition: Condition | None = None
    """When the verdict rests on a host value the user did not state: what must hold."""


# --------------------------------------------------------------------------- the host snapshot


@dataclass(frozen=True, slots=True)
class Gpu:
    """One GPU as the probe saw it, or as ``--gpu`` described it."""

    index: int
    name: str
    """Product name as NVML reports it (``NVIDIA H100 80GB HBM3``) or the knowledge base's name."""
    cc: ComputeCapability | None = None
    pci_device_id: str | None = None
    """PCI device id, lower-case hex with ``0x`` (``0x2330``)."""
    memory_mib: int | None = None
    mig_mode: bool | None = None
    uuid: str | None = None
    """Masked unless the user asked for it (``GPU-…``)."""
    fact_id: str | None = None
    """The knowledge-base GPU this was matched to, when it was."""
    unknown: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Condition:
    """What must hold on a host value the user did not state for the verdict to stand.

    ``check torch==2.6.0+cu124 --gpu T4`` (no driver) is judged on what was stated; the driver becomes a
    condition: ``driver >= 525.60.13``, ``>= 550.54.14`` without caveats."""

    subject: str
    """The host value it is about: ``driver`` or ``gpu``."""
    text: str
    """What must hold, in words (``driver >= 525.60.13 (R525); >= 550.54.14 (R550) without caveats``)."""
    minimum: str | None = None
    """``driver``: the lowest driver that runs it."""
    full: str | None = None
    """``driver``: the lowest driver that runs it without caveats."""
    branches: tuple[str, ...] = ()
    """``driver``: the still-supported branches that run it (``R580``)."""
    archs: tuple[ComputeCapability, ...] = ()
    """``gpu``: the compute capabilities (of known GPUs) that run it."""


@dataclass(frozen=True, slots=True)
class DriverInfo:
    """The NVIDIA driver: its version and the highest CUDA it supports."""

    version: str | None = None
    """``550.107.02``; compare with :func:`driver_version`."""
    cuda: str | None = None
    """The highest CUDA version this driver supports (``12.4``), from ``cuDriverGetVersion``/NVML."""
    kernel_module: str | None = None
    """``open`` or ``proprietary``."""
    source: str | None = None
    """Where it was read: ``nvml``, ``libcuda``, ``sysfs``, ``proc``, ``nvidia-smi``, ``described``."""
    nvml_mismatch: bool = False
    """True when NVML reported "Driver/library version mismatch" (kernel module upgraded, no reboot)."""
    library_version: str | None = None
    """User-space driver library version when it differs from the kernel module's (mismatch state)."""
    unknown: Mapping[str, str] = field(default_factory=dict)
    given: str | None = None
    """How a described driver was given when that was a branch (``580``, ``R580``, ``580.x``): ``version``
    is then the branch's first release, which the host is judged on."""


@dataclass(frozen=True, slots=True)
class OsInfo:
    """Operating system facts that decide which wheels install."""

    system: str | None = None
    """``Linux``, ``Windows``, ``Darwin``."""
    distro_id: str | None = None
    """``ubuntu``, ``debian``, ``rhel``, ``rocky`` … (``/etc/os-release`` ID)."""
    distro_version: str | None = None
    """``22.04``, ``12``, ``9.4``."""
    distro_like: tuple[str, ...] = ()
    kernel: str | None = None
    glibc: str | None = None
    """``2.35``; ``None`` on musl or non-Linux."""
    arch: str | None = None
    """``x86_64`` or ``aarch64`` (``uname -m``)."""
    secure_boot: bool | None = None
    unknown: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """Whether we run in a container and what the NVIDIA container toolkit gave it."""

    kind: str | None = None
    """``docker``, ``podman``, ``kubernetes``, ``container`` (unknown engine) or ``None`` (not in one)."""
    nvidia_visible_devices: str | None = None
    nvidia_driver_capabilities: str | None = None
    nvidia_require_cuda: str | None = None
    nvidia_disable_require: bool = False
    compat_libs: tuple[str, ...] = ()
    """Forward-compatibility ``libcuda.so`` paths on the loader path (``/usr/local/cuda/compat``)."""
    compat_cuda: str | None = None
    """CUDA version of those compat libraries, where known."""


@dataclass(frozen=True, slots=True)
class InstalledPackage:
    """A package of the stack found installed, read from metadata without importing it."""

    name: str
    """Normalised distribution name (``torch``, ``vllm``, ``nvidia-cudnn-cu12``)."""
    version: str
    """Full version including a local label (``2.9.0+cu128``)."""
    cuda: str | None = None
    """CUDA the package was built for, where the package says (torch's ``version.cuda``)."""
    requires: tuple[str, ...] = ()
    """Its ``Requires-Dist`` lines (PEP 508)."""
    location: str | None = None


@dataclass(frozen=True, slots=True)
class GpuProcess:
    """A compute process using a GPU, as NVML lists it on this machine."""

    pid: int
    name: str
    """Its command name (``/proc/<pid>/comm``), or why it could not be read."""
    gpu: int
    """The GPU's NVML index."""
    used_mib: int | None = None
    """GPU memory it holds, where NVML says."""


@dataclass(frozen=True, slots=True)
class Host:
    """Everything cudalign knows about one machine: probed, loaded from JSON, or described by flags."""

    origin: str
    """``probe``, ``file`` or ``described``."""
    hostname: str | None = None
    python: str | None = None
    """``3.11.7`` of the interpreter that matters (the probed one, or ``--python``)."""
    os: OsInfo = field(default_factory=OsInfo)
    driver: DriverInfo | None = None
    """``None`` when no NVIDIA driver was found; the reason is in ``unknown['driver']``."""
    gpus: tuple[Gpu, ...] = ()
    nvlink: bool | None = None
    nvswitch: bool | None = None
    fabric_manager: str | None = None
    """Fabric manager state as NVML tells it (``running``, ``not-started``, ``n/a``), or ``None``."""
    container: ContainerInfo = field(default_factory=ContainerInfo)
    env: Mapping[str, str] = field(default_factory=dict)
    """Environment variables that matter, secrets masked."""
    packages: tuple[InstalledPackage, ...] = ()
    cudnn: Mapping[str, str] = field(default_factory=dict)
    """cuDNN versions by where they come from: ``torch`` (the wheel torch loads), ``system``."""
    nccl: Mapping[str, str] = field(default_factory=dict)
    """NCCL versions likewise."""
    cuda_toolkits: tuple[str, ...] = ()
    """System CUDA toolkits (``/usr/local/cuda-12.4`` -> ``12.4.1``)."""
    unknown: Mapping[str, str] = field(default_factory=dict)
    """Field name -> why it could not be read."""

    def package(self, name: str) -> InstalledPackage | None:
        """The installed package of that (normalised) name, if any."""
        wanted = name.lower().replace("_", "-")
        return next((p for p in self.packages if p.name == wanted), None)

    def to_json(self) -> dict[str, Any]:
        """The host as the JSON object ``doctor --json`` writes under ``host``."""
        data = to_jsonable(self)
        assert isinstance(data, dict)
        return {"schema": HOST_SCHEMA, **data}


# --------------------------------------------------------------------------- stacks and reports


@dataclass(frozen=True, slots=True)
class Component:
    """One resolved package of a stack."""

    name: str
    version: str
    variant: str | None = None
    """Build variant (``cu128``, ``cpu``) where the package has them."""
    index_url: str | None = None
    requirement: str | None = None
    """The requirement it was resolved from, as the user wrote it."""
    facts: tuple[FactRef, ...] = ()
    cuda: str | None = None
    """CUDA toolkit its compiled code was built with (vLLM 0.13.0: ``12.9``), where known."""
    archs: tuple[ComputeCapability, ...] = ()
    """Architectures with machine code in its binaries, where known."""
    ptx: tuple[ComputeCapability, ...] = ()
    """Architectures whose PTX its binaries embed, where known."""
    pins: tuple[str, ...] = ()
    """Exact requirements its metadata pins (``torch==2.9.0``, ``nvidia-nccl-cu12==2.27.5``)."""


@dataclass(frozen=True, slots=True)
class Stack:
    """A concrete stack: what would be installed, and what that means for CUDA."""

    components: tuple[Component, ...] = ()
    image: str | None = None
    cuda_runtime: str | None = None
    """CUDA runtime version the stack loads (``12.8``)."""
    cudnn: str | None = None
    nccl: str | None = None
    archs: tuple[ComputeCapability, ...] = ()
    """Architectures with machine code (SASS) in the torch build."""
    ptx: tuple[ComputeCapability, ...] = ()
    """Architectures whose PTX is embedded (forward JIT)."""
    python: str | None = None
    """Python specifier the whole stack allows (``>=3.10,<3.14``)."""
    origin: str = "resolved"
    """``resolved`` (from requirements), ``installed`` (what the probe found) or ``image``."""
    platform: str | None = None
    """Snapshot platform key the stack was resolved for (``linux_x86_64``)."""
    image_cuda: str | None = None
    """CUDA version of the image's toolkit (``12.9.1``)."""
    image_require: str | None = None
    """The image's ``NVIDIA_REQUIRE_CUDA``."""
    image_compat: bool | None = None
    """Whether the image puts forward-compatibility libraries (``cuda-compat``) on the loader path."""
    image_require_disabled: bool = False
    """The image sets ``NVIDIA_DISABLE_REQUIRE``: the container starts whatever ``image_require`` says."""
    image_platforms: tuple[str, ...] = ()
    """The platforms (``linux/amd64`` …) the image is published for: its index's, or the knowledge base's;
    ``()`` when not known."""
    conflicts: tuple[str, ...] = ()
    """Requirements that could not all hold, one sentence each (``vllm 0.13.0 pins torch==2.9.0 …``)."""
    requested: tuple[str, ...] = ()
    """The requirements it was resolved from, as written (the rules read them again: unknown releases,
    requirements that cannot both hold, direct references)."""
    constraints: tuple[str, ...] = ()
    """Constraints (``-c`` files) it was resolved under, as written."""
    facts: tuple[FactRef, ...] = ()
    """Facts the resolution rests on."""
    unknown: Mapping[str, str] = field(default_factory=dict)

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)


@dataclass(frozen=True, slots=True)
class Report:
    """What a command found; every renderer takes one of these."""

    schema: str
    """``cudalign.<command>/1``."""
    verdict: Verdict | None = None
    host: Host | None = None
    stack: Stack | None = None
    findings: tuple[Finding, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    """Command-specific payload (a :class:`Plan`, scan services …); its JSON form follows the other fields."""
    exit_on: tuple[Severity, ...] | None = None
    """What ``--fail-on`` is compared with where it is more than the findings (doctor: the requested
    stack's findings too; plan: the chosen matrix's, or an error when no matrix runs)."""

    def severities(self) -> tuple[Severity, ...]:
        """The severities the exit code is judged on."""
        if self.exit_on is not None:
            return self.exit_on
        return tuple(f.severity for f in self.findings)


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class Rejection:
    """A family of candidates that does not run, and the strongest reason."""

    family: str
    code: str
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Matrix:
    """One compatible combination, written the way an operator writes it."""

    label: str
    driver: str | None
    """Driver the matrix runs on: the host's, or the target of an upgrade."""
    driver_branch: str | None
    driver_change: bool
    reboot: bool
    cuda: str | None
    """CUDA runtime torch brings (``12.8``)."""
    torch: str | None
    """``2.9.0+cu128``."""
    torch_index: str | None
    vllm: str | None
    vllm_cuda: str | None
    python: str | None
    image: str | None
    install_uv: str
    install_pip: str
    requirements: tuple[str, ...]
    """requirements.txt lines (index first)."""
    verdict: Verdict
    caveats: tuple[str, ...]
    runbook: str | None
    stack: Stack
    """The stack the matrix stands for (not part of its JSON form)."""
    findings: tuple[Finding, ...]
    images_rejected: tuple[Rejection, ...] = ()
    """Base images tried first that do not run on this driver, each with its strongest reason."""
    driver_assumed: bool = False
    """The host's driver was not given: the matrix is for any driver of ``driver_branch`` from ``driver``."""


@dataclass(frozen=True, slots=True)
class Plan:
    """The ranked matrices for a request, and the rejected families."""

    matrices: tuple[Matrix, ...]
    rejected: tuple[Rejection, ...]
    considered: int
    """How many candidates were checked."""
    requirements: tuple[str, ...] = ()
    """The requirements as the user wrote them."""
    no_driver_change: bool = False
    """Whether only matrices that keep the host's driver were allowed."""


# --------------------------------------------------------------------------- JSON


def to_jsonable(value: Any) -> Any:
    """Turn dataclasses, enums, tuples and capabilities into plain JSON values."""
    if isinstance(value, ComputeCapability):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    names = None if isinstance(value, type) else field_names(value)
    if names is not None:
        return {name: to_jsonable(getattr(value, name)) for name in names if not name.startswith("_")}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def _at(where: str, key: str) -> str:
    """The path of ``key`` inside ``where`` (``gpus[0].name``); the top level has an empty path."""
    if key.startswith("["):
        return f"{where}{key}"
    return f"{where}.{key}" if where else key


def _error(where: str, problem: str) -> InvalidHost:
    return InvalidHost(f"{where}: {problem}" if where else problem)


def _kind(value: Any) -> str:
    """A JSON value's kind in JSON's words: object, array, string, number, true/false, null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    for types, name in (((dict, Mapping), "an object"), ((list, tuple), "an array"), (str, "a string")):
        if isinstance(value, types):
            return name
    return "a number" if isinstance(value, (int, float)) else type(value).__name__


def _build(cls: type[Any], data: Any, where: str) -> Any:
    """Build a dataclass from its JSON form, checking each value's type; errors name the path."""
    if not isinstance(data, Mapping):
        raise _error(where, f"expected an object, got {_kind(data)}")
    import dataclasses

    names = {f.name: f for f in dataclasses.fields(cls)}
    extra = sorted(str(k) for k in set(data) - set(names) - {"schema"})
    if extra:
        raise _error(where, f"unknown key {extra[0]!r}")
    kwargs: dict[str, Any] = {}
    for name, f in names.items():
        value = data.get(name)
        if value is None:
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required and not name.startswith("_"):
                raise _error(where, f"missing field {name!r}")
            continue
        kwargs[name] = _field_value(cls, name, str(f.type), value, _at(where, name))
    return cls(**kwargs)


_NESTED: dict[str, type[Any]] = {}
"""Dataclass name -> class, for the nested types a host holds (filled at the end of the module)."""

_VERSIONS: dict[tuple[str, str], str] = {
    ("DriverInfo", "version"): "a driver version (e.g. 550.107.02)",
    ("DriverInfo", "cuda"): "a CUDA version (e.g. 12.4)",
    ("OsInfo", "glibc"): "a glibc version (e.g. 2.35)",
    ("ContainerInfo", "compat_cuda"): "a CUDA version (e.g. 12.8)",
}
"""Fields the rules compare as versions: a value that does not parse is refused where it is read."""


def _field_value(cls: type[Any], name: str, annotation: str, value: Any, where: str) -> Any:
    """``value`` as the field's annotated type: ``str | None``, ``tuple[Gpu, ...]``, ``Mapping[str, str]``…"""
    kind = annotation.removesuffix(" | None")
    if kind == "str":
        if not isinstance(value, str):
            raise _error(where, f"expected a string, got {_kind(value)}")
        if (cls.__name__, name) == ("Host", "python"):
            try:
                python_version(value)
            except InvalidInput as exc:
                raise _error(where, str(exc)) from None
        elif (cls.__name__, name) in _VERSIONS:
            _check_version(value, _VERSIONS[(cls.__name__, name)], where)
        return value
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise _error(where, f"expected an integer, got {_kind(value)}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _error(where, f"expected true or false, got {_kind(value)}")
        return value
    if kind == "ComputeCapability":
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise _error(where, f'expected a compute capability such as "9.0", got {_kind(value)}')
        try:
            return ComputeCapability.parse(str(value))
        except InvalidInput:
            raise _error(where, f"not a compute capability: {value!r}") from None
    if kind == "Mapping[str, str]":
        if not isinstance(value, Mapping):
            raise _error(where, f"expected an object of strings, got {_kind(value)}")
        for k, v in value.items():
            if not isinstance(v, str):
                raise _error(_at(where, str(k)), f"expected a string, got {_kind(v)}")
        return dict(value)
    if kind.startswith("tuple[") and kind.endswith(", ...]"):
        item = kind[len("tuple[") : -len(", ...]")]
        if not isinstance(value, list):
            raise _error(where, f"expected an array, got {_kind(value)}")
        return tuple(_field_value(cls, name, item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if kind in _NESTED:
        return _build(_NESTED[kind], value, where)
    raise TypeError(f"{cls.__name__}.{name}: no JSON reader for {annotation!r}")  # a new field type


def _check_version(value: str, what: str, where: str) -> None:
    try:
        Version(value)
    except InvalidVersion:
        raise _error(where, f"not {what}: {value!r}") from None


def python_version(text: str) -> str:
    """A Python version as a user gives it (``3.12``, ``3.12.3``, ``3.13.0rc1``), checked and stripped."""
    text = str(text).strip()
    try:
        v = Version(text)
    except InvalidVersion:
        v = None
    if v is None or v.epoch or v.local or not 2 <= len(v.release) <= 3:
        raise InvalidInput(f"not a Python version: {text!r} (expected e.g. 3.12 or 3.12.3)")
    return text


def host_from_json(data: Any, *, where: str = "host") -> Host:
    """Rebuild a :class:`Host` from ``doctor --json`` output (the whole report or its ``host``).

    Every value is checked against its field's type; errors name the path of the bad value under
    ``where`` (``host.gpus[0]: missing field 'name'``) and never a Python signature.
    """
    if isinstance(data, Mapping) and "host" in data and isinstance(data["host"], Mapping):
        data = data["host"]
    if not isinstance(data, Mapping):
        raise _error(where, f"expected a JSON object, got {_kind(data)}")
    schema = data.get("schema")
    if schema is not None and schema != HOST_SCHEMA:
        raise _error(where, f"schema {schema!r} is not {HOST_SCHEMA!r}")
    host = _build(Host, data, where)
    assert isinstance(host, Host)
    return host


_NESTED.update({c.__name__: c for c in (OsInfo, DriverInfo, ContainerInfo, Gpu, InstalledPackage)})
