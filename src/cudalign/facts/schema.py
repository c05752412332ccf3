"""The schema of the shipped TOML knowledge base: which kinds of fact exist and which keys each takes.

A fact file holds arrays of tables, one array per kind (``[[gpu]]``, ``[[toolkit]]`` …). Every fact has
``id``, ``source`` (a URL of the vendor's or project's own document, or the PyPI file it came from) and
``checked`` (the date it was last verified). Values are parsed here, at the boundary, into ``packaging``
versions and specifier sets and :class:`~cudalign.model.ComputeCapability`; anything that does not parse
is an :class:`~cudalign.errors.InvalidFact` naming the file and the fact.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from cudalign._dataclass import dataclass
from cudalign.errors import InvalidFact, InvalidInput
from cudalign.model import ComputeCapability

__all__ = ["COMMON", "KINDS", "Field", "Regex", "parse_value"]


class Regex:
    """A validated regular expression, compiled on first use.

    Pickles as its text: the facts cache then loads without compiling every pattern of the knowledge
    base at start-up, only the ones a command actually uses.
    """

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str, compiled: re.Pattern[str] | None = None) -> None:
        self.pattern = pattern
        self._compiled = compiled

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern)
        return self._compiled

    def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
        return self.compiled.search(text, pos)

    def match(self, text: str, pos: int = 0) -> re.Match[str] | None:
        return self.compiled.match(text, pos)

    def fullmatch(self, text: str, pos: int = 0) -> re.Match[str] | None:
        return self.compiled.fullmatch(text, pos)

    def __reduce__(self) -> tuple[type[Regex], tuple[str]]:
        return (Regex, (self.pattern,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Regex) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r})"


@dataclass(frozen=True, slots=True)
class Field:
    """One key a fact may carry."""

    type: str
    """``str``, ``int``, ``float``, ``bool``, ``version``, ``specifier``, ``cc``, ``regex``, ``date``,
    ``list[<type>]`` or ``table[<type>]`` (string keys)."""
    required: bool = False
    doc: str = ""


def _req(type_: str, doc: str = "") -> Field:
    return Field(type_, True, doc)


def _opt(type_: str, doc: str = "") -> Field:
    return Field(type_, False, doc)


COMMON: dict[str, Field] = {
    "id": _req("str", "unique across the whole knowledge base"),
    "source": _req("str", "URL of the document or PyPI file the fact rests on"),
    "checked": _req("date", "when the fact was last verified against its source"),
    "note": _opt("str", "anything a reader should know: caveats, contradictions between sources"),
}

KINDS: dict[str, dict[str, Field]] = {
    # ---- CUDA toolkits and drivers -------------------------------------------------------------
    "toolkit": {
        "version": _req("version", "toolkit release, e.g. 12.4.1 (12.4 Update 1)"),
        "label": _opt("str", "how NVIDIA names the release: '12.4 Update 1'"),
        "driver_linux": _opt("version", "minimum Linux x86_64 driver ('Toolkit Driver Version')"),
        "driver_windows": _opt("version", "minimum Windows driver"),
        "driver_branch": _opt("int", "the driver branch (R615 -> 615) where notes list only branches"),
    },
    "cuda_major": {
        "major": _req("int"),
        "mvc_floor_linux": _req("version", "lowest Linux driver for minor-version compatibility"),
        "mvc_floor_windows": _opt("version"),
        "min_cc": _req("cc", "oldest architecture this major can compile for"),
        "minor_version_compat": _opt(
            "bool",
            "false for majors before 11: no minor-version compatibility, every release needs its own "
            "toolkit driver (mvc_floor_* is then the oldest release's driver)",
        ),
    },
    "arch_support": {
        "cc": _req("cc"),
        "first_cuda": _req("version", "first toolkit that can target it"),
        "last_cuda": _opt("version", "last toolkit that can target it (removed after)"),
        "sm_name": _opt("str", "the nvcc target name when it differs from the capability (sm_101 -> sm_110)"),
    },
    "driver_branch": {
        "branch": _req("int"),
        "designation": _req("str", "LTSB, PB (production), NFB (new feature), EOL …"),
        "eol": _opt("str"),
        "first_version": _opt("version"),
        "max_cuda": _opt("version", "highest CUDA the branch's own libcuda reports"),
        "last_for": _opt("list[str]", "architectures whose last supported branch this is"),
    },
    "driver_release": {
        "branch": _req("int"),
        "version": _req("version", "a release of the branch, e.g. 580.105.08"),
        "released": _opt("date", "release date as the source gives it"),
    },
    "driver_package": {
        "family": _req("str", "ubuntu, debian or rhel: the distribution family whose repository has it"),
        "role": _req("str", "driver, pinning, fabricmanager or stream (an RHEL module stream)"),
        "flavour": _req("str", "open, proprietary or any: the kernel module flavour it installs"),
        "branches": _req("specifier", "the driver branches it exists for, as a specifier on the branch"),
        "name": _req("str", "the package or stream name; {branch} stands for the branch number"),
        "inference": _opt("bool", "true when the source shows the pattern but not this exact name"),
    },
    "topic": {
        "title": _req("str"),
        "text": _req("str", "the rule in words, as the source states it"),
    },
    # ---- GPUs and features ---------------------------------------------------------------------
    "gpu": {
        "name": _req("str", "NVIDIA's product name"),
        "aliases": _opt("list[str]", "names people type: 'RTX 5090', '4090', 'H100 SXM'"),
        "nvml_names": _opt("list[str]", "names NVML reports ('NVIDIA H100 80GB HBM3')"),
        "pci_ids": _opt("list[str]", "PCI device ids, '0x2330'"),
        "cc": _req("cc"),
        "arch": _req("str", "Pascal, Volta, Turing, Ampere, Ada, Hopper, Blackwell, Rubin"),
        "memory_gb": _opt("list[float]", "memory sizes it ships with, GB"),
        "segment": _req("str", "datacenter, workstation, consumer, embedded"),
        "forward_compat": _opt("bool", "whether CUDA forward compatibility (cuda-compat) supports it"),
        "forward_compat_source": _opt("str", "the page that says so (absent forward_compat: no source says)"),
        "min_driver": _opt("version", "first Linux driver that supports the GPU"),
        "open_module_required": _opt("bool", "only NVIDIA's open kernel modules support it"),
    },
    "gpu_host": {
        "gpus": _req("list[str]", "ids of gpu facts whose products come only with this host CPU"),
        "arch": _req("str", "the host's machine as uname -m names it: aarch64"),
    },
    "gpu_datasheet": {
        "gpu": _req("str", "the gpu fact's id the figures are for"),
        "memory_bandwidth_gbs": _opt("float", "peak memory bandwidth, GB/s, as the datasheet states it"),
        "bf16_dense_tflops": _opt("float", "peak dense (no sparsity) BF16 tensor rate, TFLOP/s"),
    },
    "ptx_isa": {
        "isa": _req("version", "a PTX ISA version, the .version directive of PTX text (8.7)"),
        "cuda": _req("version", "the CUDA release that introduced it: drivers of older CUDA cannot JIT it"),
    },
    "feature": {
        "name": _req("str"),
        "aliases": _opt("list[str]"),
        "cc": _req("specifier", "compute capabilities that have it, e.g. '>=8.0' or '>=9.0,<10.0'"),
        "description": _opt("str"),
        "fallback": _opt("str", "feature taking over outside cc (fp8 -> fp8-marlin, weight-only): a caveat"),
        "package": _opt("str", "the package whose kernels provide it (one fact per release range)"),
        "versions": _opt("specifier", "releases of `package` it holds for (absent: every release)"),
    },
    # ---- frameworks -----------------------------------------------------------------------------
    "torch_series": {
        "series": _req("str", "'2.9'"),
        "versions": _req("specifier"),
        "python": _req("specifier"),
        "variants": _req("list[str]", "CUDA variants published on download.pytorch.org: cu126, cu128 …"),
        "pypi_default": _req("table[str]", "platform -> variant of the PyPI wheel (linux_x86_64 …)"),
        "companions": _opt("table[str]", "torchvision / torchaudio series that go with it"),
        "cudnn": _opt(
            "table[version]",
            "variant -> cuDNN its wheels carry (RELEASE.md; for the PyPI default the wheel's own pin wins)",
        ),
    },
    "torch_build": {
        "versions": _req("specifier"),
        "variant": _req("str"),
        "platform": _req("str", "linux_x86_64, linux_aarch64, windows"),
        "archs": _req("list[cc]", "architectures with machine code"),
        "ptx": _opt("list[cc]", "architectures whose PTX is embedded"),
        "cuda": _opt("version", "CUDA of this variant when the variant name is not enough"),
    },
    "vllm_series": {
        "versions": _req("specifier"),
        "wheel_cuda": _req("version", "CUDA the PyPI wheel was built with"),
        "min_cc": _req("cc"),
        "archs": _opt("list[cc]"),
        "ptx": _opt("list[cc]"),
        "variants": _opt("list[str]", "other CUDA variant wheels published"),
        "image_cuda": _opt("table[str]", "image tag suffix ('' for the plain tag) -> CUDA of that image"),
    },
    "vllm_variant_index": {
        "versions": _req("specifier", "the releases whose CUDA variant wheels this index serves"),
        "url": _req("str", "index URL with {version} and {variant} placeholders"),
        "variants": _req("list[str]", "the variants a source shows this index serving for these releases"),
    },
    # ---- images ---------------------------------------------------------------------------------
    "image_family": {
        "repository": _req("str", "nvidia/cuda, pytorch/pytorch, vllm/vllm-openai"),
        "tag_pattern": _req("regex", "named groups: cuda, flavour, os, torch, vllm, suffix …"),
        "compat_libs": _req("bool", "whether its images ship forward-compat libraries"),
        "based_on": _opt("str"),
        "require_cuda": _opt(
            "bool", "false: its images set no NVIDIA_REQUIRE_CUDA, so the container starts on any driver"
        ),
    },
    "image_tags": {
        "repository": _req("str", "nvidia/cuda"),
        "versions": _req("specifier", "the CUDA versions the vendor's tag lists cover"),
        "version_parts": _opt("int", "how many parts every listed tag's version has (3: X.Y.Z)"),
        "tags": _req("table[str]", "CUDA version -> 'os: flavour flavour; os: …' of every listed tag"),
    },
    "image_require": {
        "repository": _req("str"),
        "cuda": _req("specifier", "the image CUDA versions this NVIDIA_REQUIRE_CUDA applies to"),
        "require": _req("str", "the NVIDIA_REQUIRE_CUDA value"),
    },
    "image_release": {
        "repository": _req("str", "the repository path without registry (nvidia/pytorch for nvcr.io's)"),
        "tag_pattern": _req("regex", "the tags of this release (re.fullmatch), e.g. 25\\.12-py3(-igpu)?"),
        "cuda": _opt("version", "the CUDA toolkit the release is based on"),
        "torch": _opt("str", "the torch build inside, as the vendor states it"),
        "compat_libs": _opt("bool", "whether it ships forward-compatibility libraries"),
        "based_on": _opt("str", "the image whose NVIDIA_REQUIRE_CUDA it carries"),
        "require_cuda": _opt(
            "bool", "false: it sets no NVIDIA_REQUIRE_CUDA that the container toolkit enforces"
        ),
        "repositories": _opt("list[str]", "other repositories whose tags of this release share these facts"),
        "release": _opt("str", "the release its tags name (YY.MM), to name it and its neighbours in advice"),
        "gpus_by_cuda": _opt(
            "bool",
            "true: its frameworks support the GPUs its CUDA targets and no newer one (topic image.ngc-gpus)",
        ),
        "min_cc": _opt(
            "cc",
            "the lowest compute capability the release notes of `repository` state (its tags only: another "
            "framework's container of the release may state another)",
        ),
    },
    "image_platforms": {
        "repository": _req("str", "the repository path without registry (vllm/vllm-openai)"),
        "repositories": _opt("list[str]", "other repositories whose tags these platforms hold for"),
        "tag_pattern": _req(
            "regex", "re.fullmatch on the tag; a group 'version' is what 'versions' and 'package' read"
        ),
        "versions": _opt("specifier", "the versions the tag names that this fact covers (absent: every one)"),
        "package": _opt("str", "the PyPI package whose releases the tag's version names (vllm, torch)"),
        "platforms": _req("list[str]", "the os/arch its image index publishes: linux/amd64, linux/arm64"),
    },
    "image_vendor": {
        "repository": _req("str", "a repository path, or a prefix ending in '/' (rocm/)"),
        "accelerator": _req("str", "nvidia, rocm, npu, xpu or cpu"),
    },
    "accelerator_package": {
        "name": _req("str", "a distribution name whose presence says which accelerator a service targets"),
        "accelerator": _req("str", "rocm, npu, xpu or cpu"),
    },
    "image_nvcc": {
        "repository": _req("str", "a repository path (nvidia/cuda) whose tags below ship nvcc"),
        "tag_pattern": _req("regex", "re.fullmatch on the tag: the tags that include the CUDA compiler"),
    },
    "image_torch": {
        "repository": _req("str"),
        "versions": _req(
            "specifier", "versions in the tag: the framework's (vLLM's for vllm/vllm-openai) or the release's"
        ),
        "suffix": _opt("str", "tag suffix it applies to ('' for the plain tag; absent: every suffix)"),
        "tags": _opt("list[str]", "moving tags it also covers ('3.3' when all 3.3.x share it, 'latest')"),
        "torch": _opt("str", "the torch release inside (a PyPI version), where the image's build pins it"),
        "torch_variant": _opt(
            "str", "the torch build the image really ships (cu126 …); absent with torch: PyPI's own build"
        ),
    },
    # ---- neighbouring packages ------------------------------------------------------------------
    "package_build": {
        "package": _req("str"),
        "versions": _req("specifier"),
        "cuda_major": _opt("int"),
        "cuda": _opt("version", "exact CUDA the wheel was built with, where known"),
        "cudnn_major": _opt("int"),
        "torch": _opt("specifier"),
        "python": _opt("specifier"),
        "min_cc": _opt("cc"),
        "archs": _opt("list[cc]"),
        "platforms": _opt("list[str]"),
        "cuda_runtimes": _opt("list[version]", "CUDA runtimes whose native code the wheel ships"),
        "ptx": _opt("list[cc]", "architectures whose PTX the binaries embed (JIT-compiled by the driver)"),
        "component": _opt("str", "a kernel library inside the package this fact is about ('_vllm_fa2_C')"),
    },
    "index_build": {
        "hosts": _req("list[str]", "hosts of a third-party wheel index ('pypi.jetson-ai-lab.dev')"),
        "family": _req("str", "the first path segment that names the build family ('jp6', 'sbsa')"),
        "package": _req("str", "the package whose builds it describes ('torch')"),
        "archs": _req("list[cc]", "architectures with machine code (the build's TORCH_CUDA_ARCH_LIST)"),
        "ptx": _opt("list[cc]", "architectures whose PTX is embedded"),
    },
    "wheel_abi": {
        "package": _req("str", "a package whose wheels carry a cxx11abiTRUE/FALSE label"),
        "versions": _req("specifier", "its releases the fact covers"),
        "label_torch": _req("specifier", "the torch major.minor of the labels it applies to"),
        "label_cxx11abi": _req("bool", "the C++ ABI the label names"),
        "cxx11abi": _req("bool", "the C++ ABI the wheel's extension actually links (differs from the label)"),
    },
    "torch_abi": {
        "versions": _req("specifier", "torch releases"),
        "platform": _req("str", "linux_x86_64 or linux_aarch64"),
        "variants": _opt("list[str]", "the torch variants it applies to (absent: every variant)"),
        "cxx11abi": _req("bool", "torch._C._GLIBCXX_USE_CXX11_ABI of its PyPI and PyTorch-index wheels"),
    },
    "package": {
        "name": _req("str", "the canonical distribution name, or a name prefix when 'prefix' is true"),
        "prefix": _opt("bool", "the entry covers every package whose name starts with 'name'"),
        "tracked": _opt("bool", "'facts update' reads its releases from the index into the snapshot"),
        "cuda_sensitive": _opt("bool", "its wheels are tied to a CUDA version (false overrides a prefix)"),
        "gpu_only": _opt("bool", "declaring it says the service runs on a GPU"),
        "pins_torch": _opt("bool", "it fixes torch's version (a lock without it no longer tells torch's)"),
        "through_torch": _opt("bool", "a torch extension: it runs its CUDA code through torch's runtime"),
        "follow_pins": _opt("bool", "the resolver follows a dependency's exact pin on it into the stack"),
        "torch_index": _opt("bool", "built per torch CUDA variant and served by download.pytorch.org"),
        "attention_backend": _opt("bool", "an attention backend vLLM picks at run time on GPUs it supports"),
    },
    "cuda_suffix": {
        "family": _req("str", "the package family, as its vendor names it (NVIDIA CUDA library wheels)"),
        "pattern": _req(
            "regex", "re.fullmatch on the canonical name (or the extra, or the version); group 'major'"
        ),
        "on": _opt("str", "what the pattern reads: 'name' (absent), 'extra' or 'version'"),
        "packages": _opt("list[str]", "for 'extra' and 'version': the distributions it applies to"),
    },
    "torch_dependency": {
        "package": _req("str", "a distribution whose release metadata (Requires-Dist) names torch"),
        "versions": _req("specifier", "its releases this fact is about"),
        "torch": _req("str", "its requirement on torch as the metadata writes it ('' for any torch)"),
    },
    "cuda_library": {
        "library": _req("str", "cudart, cublas, cudnn, nccl"),
        "wheel": _req("str", "the wheel name before the -cu<major> suffix (nvidia-cudnn)"),
        "provides_cuda": _opt("bool", "its presence says the libraries of its CUDA major are there"),
    },
    "gpu_segment": {
        "segment": _req("str", "datacenter, workstation, consumer, embedded (as gpu.segment)"),
        "brands": _req("list[str]", "NVML brands its GPUs report, spelled as in NVIDIA_REQUIRE_CUDA"),
    },
    # ---- error signatures (explain) -------------------------------------------------------------
    "signature": {
        "pattern": _req("regex"),
        "rule": _req("str", "the rule name it corresponds to"),
        "title": _req("str"),
        "meaning": _req("str"),
        "fix": _req("str"),
        "examples": _req("list[str]", "real log lines it must match"),
        "counter_examples": _opt("list[str]", "lines that look alike and must not match"),
        "family": _opt("str", "the group of messages it belongs to (library, device, capability …)"),
        "severity": _opt("str", "error, warning or info where it differs from the rule's"),
        "when_path": _opt("list[str]", "the match counts only where its path names one of these"),
        "consequence_of": _opt("list[str]", "families whose cause, found in the same log, explains it"),
        "feature": _opt("str", "the feature fact (features.toml name) a capability message is about"),
    },
    # ---- clouds (gpus) ---------------------------------------------------------------------------
    "cloud_price": {
        "provider": _req("str", "aws, azure, gcp, lambda, runpod …"),
        "gpu": _req("str", "the GPU as the knowledge base names it (a gpu fact's name or alias)"),
        "count": _req("int", "GPUs in the offer"),
        "price": _req("float", "on-demand USD per hour for the whole offer"),
        "offer": _opt("str", "instance type or tier as the provider names it"),
        "memory_gb": _opt("float", "memory per GPU of this offer, where the GPU ships in several sizes"),
        "published": _opt("date", "the date the source gives for its prices"),
    },
    "cloud_driver": {
        "provider": _req("str"),
        "image": _req("str", "the provider's GPU machine image (or host pool) the driver comes with"),
        "driver": _opt("version", "the NVIDIA driver the image ships"),
        "cuda_levels": _opt(
            "list[version]", "host CUDA versions a pool's hosts may report (driver not fixed)"
        ),
        "gpus": _opt("list[str]", "the GPUs it applies to (absent: every GPU of the provider)"),
        "published": _opt("date", "the release date the source gives"),
    },
}


def _scalar(type_: str) -> Callable[[Any], Any]:
    def as_str(v: Any) -> str:
        if not isinstance(v, str):
            raise TypeError("expected a string")
        return v

    def as_int(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError("expected an integer")
        return v

    def as_float(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError("expected a number")
        return float(v)

    def as_bool(v: Any) -> bool:
        if not isinstance(v, bool):
            raise TypeError("expected true or false")
        return v

    def as_version(v: Any) -> Version:
        return Version(as_str(v))

    def as_spec(v: Any) -> SpecifierSet:
        return SpecifierSet(as_str(v))

    def as_cc(v: Any) -> ComputeCapability:
        return ComputeCapability.parse(as_str(v))

    def as_regex(v: Any) -> Regex:
        text = as_str(v)
        return Regex(text, re.compile(text))

    def as_date(v: Any) -> dt.date:
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date):
            return v
        return dt.date.fromisoformat(as_str(v))

    table: dict[str, Callable[[Any], Any]] = {
        "str": as_str,
        "int": as_int,
        "float": as_float,
        "bool": as_bool,
        "version": as_version,
        "specifier": as_spec,
        "cc": as_cc,
        "regex": as_regex,
        "date": as_date,
    }
    return table[type_]


def parse_value(type_: str, value: Any, *, where: str) -> Any:
    """Parse one TOML value to its typed form; raise :class:`InvalidFact` with ``where`` on failure."""
    try:
        if type_.startswith("list[") and type_.endswith("]"):
            if not isinstance(value, list):
                raise TypeError("expected a list")
            inner = _scalar(type_[5:-1])
            return tuple(inner(v) for v in value)
        if type_.startswith("table[") and type_.endswith("]"):
            if not isinstance(value, Mapping):
                raise TypeError("expected a table")
            inner = _scalar(type_[6:-1])
            return {str(k): inner(v) for k, v in value.items()}
        return _scalar(type_)(value)
    except (TypeError, ValueError, InvalidVersion, InvalidSpecifier, InvalidInput, re.error) as exc:
        raise InvalidFact(f"{where}: cannot parse {value!r} as {type_}: {exc}") from None
