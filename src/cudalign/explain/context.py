"""What a host adds to a generic explanation: the driver's CUDA, the GPU, the packages installed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from cudalign._dataclass import dataclass, field
from cudalign.model import ComputeCapability, FactRef, Host, Severity

if TYPE_CHECKING:
    from types import ModuleType

    from packaging.specifiers import SpecifierSet

    from cudalign.facts import Fact, Facts


__all__ = ["driver_text"]


@dataclass(slots=True)
class _Detail:
    """What the host adds to a generic explanation."""

    context: list[str] = field(default_factory=list)
    fix: str | None = None
    facts: list[FactRef] = field(default_factory=list)
    related: list[str] = field(default_factory=list)


class _Placeholders(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "(not in the message)"


def _fmt(template: str, groups: Mapping[str, str]) -> str:
    return template.format_map(_Placeholders(groups))


def _version(text: str | None) -> Version | None:
    if not text:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


class _View:
    """The answers about one host that the specialisers need, read lazily from the knowledge base."""

    def __init__(self, host: Host | None, facts: Facts) -> None:
        self.host = host
        self.facts = facts

    @property
    def query(self) -> ModuleType:
        """The knowledge base's queries, imported when a specialiser first asks (not for a bare line)."""
        from cudalign.facts import query

        return query

    @property
    def driver(self) -> str | None:
        if self.host is None or self.host.driver is None:
            return None
        return self.host.driver.version

    def max_cuda(self) -> tuple[str | None, tuple[FactRef, ...]]:
        if self.host is None:
            return None, ()
        ans = self.query.host_cuda(self.facts, self.host)
        return (str(ans.value) if ans.value is not None else None), ans.refs

    def min_driver(self, cuda: str) -> tuple[str | None, tuple[FactRef, ...]]:
        if _version(cuda) is None:
            return None, ()
        ans = self.query.min_driver_for_cuda(self.facts, cuda)
        return (driver_text(ans.value) if ans.value is not None else None), ans.refs

    def torch(self) -> tuple[str | None, str | None]:
        """The installed torch version and the CUDA it was built for."""
        pkg = self.host.package("torch") if self.host is not None else None
        if pkg is None:
            return None, None
        cuda = pkg.cuda
        if cuda is None and "+cu" in pkg.version:
            digits = pkg.version.split("+cu", 1)[1]
            cuda = f"{digits[:-1]}.{digits[-1]}" if digits.isdigit() and len(digits) >= 2 else None
        return pkg.version, cuda

    def gpu_facts(self) -> list[tuple[str, str | None, Fact | None]]:
        """(name, capability, knowledge-base entry) for each GPU of the host."""
        if self.host is None:
            return []
        out: list[tuple[str, str | None, Fact | None]] = []
        for g in self.host.gpus:
            fact = self.query.gpu_fact(self.facts, g)
            cc = g.cc if g.cc is not None else (fact["cc"] if fact is not None else None)
            out.append((g.name, str(cc) if cc is not None else None, fact))
        return out

    def first_cuda_for(self, cc: str) -> tuple[str | None, tuple[FactRef, ...]]:
        from cudalign.errors import InvalidInput
        from cudalign.model import ComputeCapability

        try:
            want = ComputeCapability.parse(cc)
        except InvalidInput:
            return None, ()
        for f in self.facts.of_kind("arch_support"):
            if f["cc"] == want:
                return str(f["first_cuda"]), (f.ref,)
        return None, ()


def driver_text(version: Version) -> str:
    """A driver version as NVIDIA writes it: ``575.51.3`` -> ``575.51.03`` (two-digit minor and patch)."""
    parts = version.release
    text = str(parts[0])
    for p in parts[1:3]:
        text += f".{p:02d}"
    return text


def _upgrade_hint(view: _View, need: str, d: _Detail) -> str | None:
    """'upgrade the driver to >= X (cudalign runbook --driver B)' for a CUDA version, when the facts know:
    X on the lowest branch NVIDIA still supports that reaches the CUDA version (never an end-of-life one)."""
    drv, refs = view.min_driver(need)
    d.facts.extend(refs)
    if drv is None:
        return None
    rec = view.query.recommended_driver(view.facts, drv)
    d.facts.extend(rec.refs)
    if rec.value is not None:
        drv = driver_text(rec.value)
    branch = drv.split(".", 1)[0]
    return f"upgrade the driver to >= {drv} (`cudalign runbook --driver {branch}` writes the steps)"


def _digits_cc(text: str | None) -> str | None:
    """``sm_120a``, ``compute_86``, ``120``, ``(12, 0)``-style capability text as ``12.0``."""
    if not text:
        return None
    digits = "".join(c for c in text.split("_")[-1] if c.isdigit())
    if "." in text and not text.startswith(("sm_", "compute_")):
        return text
    if len(digits) < 2:
        return None
    return f"{int(digits[:-1])}.{digits[-1]}"


def _runs(
    cc: ComputeCapability, archs: Iterable[ComputeCapability], ptx: Iterable[ComputeCapability]
) -> bool:
    """Machine code for X.y runs on X.z (z >= y, never across majors; ``sm_XYa`` on X.Y only); PTX for an
    older one JITs forward (``compute_XYa`` to X.Y only, ``compute_XYf`` within its family)."""
    return any(a.sass_runs_on(cc) for a in archs) or any(p.ptx_runs_on(cc) for p in ptx)


def torch_index_for(view: _View, cc: str | None, d: _Detail, *, within_driver: bool = True) -> str | None:
    """'pip install torch --index-url …/cuXYZ' for the newest torch variant whose builds for this host's
    platform have machine code for ``cc`` and (``within_driver``, when the driver is known) whose CUDA the
    driver supports; otherwise the oldest such variant, the one that asks least of a driver upgrade."""
    from cudalign.errors import InvalidInput
    from cudalign.model import ComputeCapability

    if cc is None:
        return None
    try:
        want = ComputeCapability.parse(cc)
    except InvalidInput:
        return None
    platform = view.query.platform_key(view.host) if view.host is not None else "linux_x86_64"
    max_cuda, _ = view.max_cuda() if within_driver else (None, ())
    have = _version(max_cuda)
    best: tuple[Version, Fact] | None = None
    for f in view.facts.of_kind("torch_build"):
        cuda = view.query.variant_cuda(f["variant"])
        if f["platform"] != platform or cuda is None or not _runs(want, f["archs"], f.get("ptx") or ()):
            continue
        if have is not None and view.query.cuda_minor(cuda) > have:
            continue
        if best is None or (cuda > best[0] if within_driver else cuda < best[0]):  # else least change
            best = (cuda, f)
    if best is None:
        return None
    f = best[1]
    d.facts.append(f.ref)
    return (
        f"pip install 'torch{f['versions']}' --index-url https://download.pytorch.org/whl/{f['variant']} "
        f"(its {platform} builds carry machine code for compute capability {cc})"
    )


def _driver_context(view: _View, d: _Detail) -> str | None:
    max_cuda, refs = view.max_cuda()
    d.facts.extend(refs)
    if view.driver is None:
        if view.host is not None and view.host.origin == "probe":
            d.context.append("this host has no NVIDIA driver loaded.")
        elif view.host is not None:
            d.context.append("driver not given: what follows holds for any driver.")
        return None
    if max_cuda:
        d.context.append(f"your driver {view.driver} supports CUDA up to {max_cuda}.")
    else:
        d.context.append(f"your driver is {view.driver}.")
    return max_cuda


def _need_more_cuda(view: _View, need: str | None, what: str, d: _Detail, *, alt: str = "builds") -> None:
    if view.host is None:  # nothing host-specific to say; the signature's own fix stands
        return
    max_cuda = _driver_context(view, d)
    if need is None:
        return
    nv, mv = _version(need), _version(max_cuda)
    d.context.append(f"{what} needs CUDA {need}.")
    if nv is not None and mv is not None and mv >= nv:
        d.context.append(
            "that is within what your driver supports: the message comes from another host, or the program "
            "loads a different libcuda than the driver's (check LD_LIBRARY_PATH and compat libraries)."
        )
        return
    hint = _upgrade_hint(view, need, d)
    if hint:
        older = f"CUDA {max_cuda} or older" if max_cuda else "an older CUDA"
        d.fix = f"{hint}, or use {alt} made for {older}."


def _driver_too_old(view: _View, g: Mapping[str, str], d: _Detail) -> None:
    found = g.get("found")
    if found and found.isdigit():
        n = int(found)
        d.context.append(f"the driver told torch it supports CUDA {n // 1000}.{(n % 1000) // 10}.")
    version, cuda = view.torch()
    _need_more_cuda(view, cuda, f"the installed torch {version}" if version else "the program", d)


def _image(view: _View, g: Mapping[str, str], d: _Detail) -> None:
    need = g.get("cuda")
    _need_more_cuda(view, need, "the image", d, alt="an image tag")
    tag = _image_that_runs(view, d)
    if tag and d.fix:
        d.fix += f" The newest CUDA base image this driver runs as it is: {tag}."
    supported = [f for _, _, f in view.gpu_facts() if f is not None and f.get("forward_compat") is True]
    refused = [n for n, _, f in view.gpu_facts() if f is not None and f.get("forward_compat") is False]
    unknown = [n for n, _, f in view.gpu_facts() if f is None or f.get("forward_compat") is None]
    if d.fix and supported and not refused and not unknown:
        d.fix += (
            f" On this {supported[0]['segment']} GPU, forward compatibility also works: run the "
            "container with "
            "NVIDIA_DISABLE_REQUIRE=1 and let it load the image's compat libraries (/usr/local/cuda/compat)."
        )
        d.facts.extend(f.ref for f in supported)
    elif refused:
        d.context.append(f"forward compatibility (NVIDIA_DISABLE_REQUIRE) is not an option on {refused[0]}.")
    elif unknown:
        d.context.append(
            f"whether forward compatibility works on {unknown[0]} is not stated by NVIDIA for this card: it "
            "may fail with error 804 (forward compatibility was attempted on non supported HW)."
        )


def _image_that_runs(view: _View, d: _Detail) -> str | None:
    """The newest ``nvidia/cuda`` runtime tag whose CUDA the host driver supports, as plan chooses base images
    (the knowledge base's toolkit patch releases; the image grammar knows the tag)."""
    max_cuda, _ = view.max_cuda()
    have = _version(max_cuda)
    if have is None:
        return None
    tks = [f for f in view.query.toolkits(view.facts) if len(f["version"].release) >= 3]
    runs = [f for f in tks if view.query.cuda_minor(f["version"]) <= have]
    if not runs:
        return None
    from cudalign.stack.images import image_info

    best = max(runs, key=lambda f: f["version"])
    ref = f"nvidia/cuda:{best['version']}-runtime-ubuntu22.04"
    info = image_info(view.facts, ref)
    if info.unknown:
        return None
    d.facts.append(best.ref)
    return ref


def _ptx(view: _View, g: Mapping[str, str], d: _Detail) -> None:
    version, cuda = view.torch()
    _need_more_cuda(view, cuda, f"torch {version}" if version else "the PTX's toolkit", d)


def _nvml(view: _View, g: Mapping[str, str], d: _Detail) -> None:
    drv = view.host.driver if view.host is not None else None
    libs = g.get("library_version")
    if libs and drv is not None and drv.version and not drv.version.startswith(libs):
        d.context.append(f"the libraries are {libs}; the loaded kernel module is {drv.version}.")
        d.fix = f"reboot to load {libs} (stop GPU workloads first), then check nvidia-smi."
        return
    if drv is not None and drv.library_version and drv.version and drv.library_version != drv.version:
        d.context.append(
            f"the kernel module is {drv.version} but the installed libraries are {drv.library_version}."
        )
        d.fix = f"reboot to load {drv.library_version} (stop GPU workloads first), then check nvidia-smi."


def _arch(view: _View, g: Mapping[str, str], d: _Detail) -> None:
    sm = _digits_cc(g.get("sm") or g.get("sm_value"))
    cc = None
    if sm is None:
        ccs = [(n, c) for n, c, _ in view.gpu_facts() if c]
        if ccs:
            d.context.append("this host's GPUs: " + ", ".join(f"{n} ({c})" for n, c in ccs) + ".")
            cc = ccs[0][1]
    else:
        cc = sm
    version, _ = view.torch()
    if version:
        d.context.append(f"the installed torch is {version}.")
    if cc is None:
        return
    first, refs = view.first_cuda_for(cc)
    d.facts.extend(refs)
    if first:
        d.context.append(f"compute capability {cc} is first targeted by CUDA {first}.")
        drv, drefs = view.min_driver(first)
        d.facts.extend(drefs)
        last = _last_cuda_for(view, cc, d)
        if last:
            d.context.append(f"CUDA {last} is the last toolkit that targets it.")
        if g.get("_family") == "toolchain":
            floor, need = first, g.get("cuda")  # a message may state its own, later, toolkit floor
            if need and (_version(need) or Version("0")) > (_version(first) or Version("0")):
                d.context.append(f"the message's own check asks for CUDA {need}.")
                floor = need
            d.fix = (
                f"compile with a CUDA toolkit from {floor} on"
                + (f" up to {last}" if last else "")
                + (
                    " (point CUDA_HOME at it)."
                    if need
                    else " (for Triton: TRITON_PTXAS_PATH to that toolkit's ptxas)."
                )
            )
            return
        have, want = _version(view.driver), _version(drv)
        too_old = have is not None and want is not None and have < want
        index = torch_index_for(view, cc, d, within_driver=not too_old)
        generic = f"install a torch (or extension) build for CUDA {first} or newer whose arch list has it"
        d.fix = index or generic
        if too_old:
            hint = _upgrade_hint(view, first, d)
            d.fix += f"; CUDA {first} needs a newer driver than yours ({view.driver})" + (
                f": {hint}" if hint else ""
            )
        d.fix += "."


def _last_cuda_for(view: _View, cc: str, d: _Detail) -> str | None:
    from cudalign.errors import InvalidInput
    from cudalign.model import ComputeCapability

    try:
        want = ComputeCapability.parse(cc)
    except InvalidInput:
        return None
    for f in view.facts.of_kind("arch_support"):
        if f["cc"] == want and f.get("last_cuda") is not None:
            d.facts.append(f.ref)
            return str(f["last_cuda"])
    return None


def _feature_spec(view: _View, g: Mapping[str, str], d: _Detail) -> SpecifierSet | None:
    """The capabilities that have the feature: its fact, else the message's number or architecture."""
    from packaging.specifiers import SpecifierSet

    name = (g.get("_feature") or g.get("feature", "")).lower()
    if name:
        for candidate in (name, f"{name}-2"):  # FlashAttention's message comes from FlashAttention 2
            fact = view.query.feature(view.facts, candidate)
            if fact is not None:
                d.facts.append(fact.ref)
                spec: SpecifierSet = fact["cc"]
                return spec
    needs = [c for c in (g.get("need_cc"), g.get("alt_cc"), _digits_cc(g.get("need_cap"))) if c]
    if g.get("need_major") and g.get("need_minor") and g.get("op", "").startswith(">"):
        needs.append(f"{g['need_major']}.{g['need_minor']}")
    if needs:
        return SpecifierSet(f">={min(needs, key=lambda c: _version(c) or Version('0'))}")
    arch = g.get("arch")
    ccs = [f["cc"] for f in view.facts.of_kind("gpu") if f["arch"] == arch] if arch else []
    return SpecifierSet(f">={min(ccs)}") if ccs else None


def _feature(view: _View, g: Mapping[str, str], d: _Detail) -> None:
    spec = _feature_spec(view, g, d)
    if spec is None:
        return
    for name, cc, _ in view.gpu_facts():
        have = _version(cc)
        if have is not None:
            verdict = "has it" if spec.contains(have) else "does not"
            d.context.append(f"{name} has compute capability {cc}: it {verdict} (needs {spec}).")


def _forward_compat(view: _View, g: Mapping[str, str], d: _Detail) -> None:
    if view.host is not None and view.host.container.compat_libs:
        libs = ", ".join(view.host.container.compat_libs)
        d.context.append(f"forward-compatibility libraries are on the loader path: {libs}.")
    for name, _, fact in view.gpu_facts():
        if fact is None:
            continue
        d.facts.append(fact.ref)
        if fact.get("forward_compat") is True:
            d.context.append(f"{name} is a {fact['segment']} GPU that forward compatibility supports.")
        elif fact.get("forward_compat") is False:
            d.context.append(f"{name} is a {fact['segment']} GPU: forward compatibility does not support it.")
        else:
            d.context.append(
                f"{name} is a {fact['segment']} GPU for which NVIDIA does not state forward compatibility "
                "(only select NGC Server Ready SKUs of RTX cards have it): it may fail with error 804."
            )
    _driver_context(view, d)


_COMPANIONS = {"sig.torchvision-cuda": "torchvision", "sig.torchaudio-cuda": "torchaudio"}
"""The CUDA-major signatures about a companion wheel of torch; the others are about the CUDA toolkit (nvcc)
that builds an extension against the installed torch."""


def _torchvision(view: _View, g: Mapping[str, str], d: _Detail) -> None:
    version, cuda = view.torch()
    companion = _COMPANIONS.get(g.get("_id", ""))
    if companion is None:  # an extension build: the toolkit must be of torch's CUDA
        if version and cuda:
            d.context.append(f"the installed torch {version} was built with CUDA {cuda}.")
            d.fix = (
                f"point CUDA_HOME (and PATH) at a CUDA {cuda} toolkit, the CUDA torch {version} was built "
                "with (nvcc --version must say it), then rebuild the extension."
            )
        return
    other = view.host.package(companion) if view.host is not None else None
    if version and other is not None:
        d.context.append(f"installed: torch {version}, {companion} {other.version}.")
    if version and "+" in version:
        variant = version.split("+", 1)[1]
        d.fix = (
            f"reinstall {companion} from https://download.pytorch.org/whl/{variant} "
            f"(the index torch {version} came from)."
        )


def _wheel_for(view: _View, lib: str, major: str | None, d: _Detail) -> str | None:
    """``pip install nvidia-cublas-cu12`` for a CUDA library of a CUDA major its wheels are suffixed with
    (``cuda_library`` facts whose wheels provide the CUDA major; cuDNN's and NCCL's majors are their own).
    From CUDA 13 the wheels are unsuffixed and versioned as the toolkit (``nvidia-cublas>=13.0.0.19`` in
    the requirements the PyPI snapshot holds), so the major becomes a version pin."""
    name = lib.removeprefix("lib").lower()
    if not major or not major.isdigit():
        return None
    for f in view.facts.of_kind("cuda_library"):
        if f.get("provides_cuda") and name in (f["library"], f["library"] + "lt"):
            d.facts.append(f.ref)
            if int(major) >= 13:
                return f"pip install '{f['wheel']}=={major}.*'"
            return f"pip install {f['wheel']}-cu{major}"
    return None


def _cuda_major_library(view: _View, lib: str) -> bool:
    """Whether the soname major of ``lib`` is the CUDA major (``cuda_library`` facts that provide it: cudart,
    cuBLAS and cuBLASLt); other libraries number their sonames on their own."""
    name = lib.removeprefix("lib").lower()
    return any(
        f.get("provides_cuda") and name in (f["library"], f["library"] + "lt")
        for f in view.facts.of_kind("cuda_library")
    )


def _library(view: _View, g: Mapping[str, str], d: _Detail) -> None:
    major, lib = g.get("major"), g.get("library", "")
    version, cuda = view.torch()
    wheel = _wheel_for(view, lib, major, d)
    if wheel and not (cuda and version and cuda.split(".", 1)[0] != major):
        own = g.get("_fix", "").rstrip(".")
        d.fix = (
            f"{own}. The {lib} of CUDA {major}: {wheel}, with its lib folder under site-packages/nvidia on "
            "LD_LIBRARY_PATH (or import torch first, which loads its own copies)."
        )
        max_cuda = _version(view.max_cuda()[0]) if view.host is not None else None
        if max_cuda is not None and major is not None and max_cuda.major < int(major):
            hint = _upgrade_hint(view, f"{major}.0", d)
            if hint:
                d.fix += f" CUDA {major} also needs a newer driver than this host's: {hint}."
    if not (major and cuda and version) or not _cuda_major_library(view, lib):
        return  # cuDNN, NCCL, cuRAND, cuFFT … number their sonames apart from CUDA's major
    if cuda.split(".", 1)[0] != major:
        d.context.append(
            f"the installed torch {version} uses CUDA {cuda}; {lib}.so.{major} belongs to CUDA {major}: "
            f"a package built for CUDA {major} is mixed into a CUDA {cuda.split('.', 1)[0]} environment."
        )
        d.related.append("cuda-major-mismatch")
        d.fix = (
            f"install the build of that package made for CUDA {cuda.split('.', 1)[0]} "
            f"(the same CUDA major as torch), or move torch and everything else to CUDA {major}."
        )


def _cudnn(view: _View, g: Mapping[str, str], d: _Detail) -> None:
    if view.host is not None and view.host.cudnn:
        have = ", ".join(f"{v} ({k})" for k, v in view.host.cudnn.items())
        d.context.append(f"cuDNN found on this host: {have}.")


def _cpu_torch(view: _View, g: Mapping[str, str], d: _Detail) -> None:
    version, _ = view.torch()
    if version:
        kind = "the CPU-only build" if version.endswith("+cpu") else "installed"
        d.context.append(f"torch {version} is {kind}.")
    max_cuda = _driver_context(view, d)
    if max_cuda and version:
        tag = "cu" + max_cuda.replace(".", "")
        d.fix = (
            "reinstall torch from a CUDA index whose variant your driver supports, i.e. "
            f"{tag} or older (pip install torch --index-url https://download.pytorch.org/whl/<variant>)."
        )


def _nccl(view: _View, g: Mapping[str, str], d: _Detail) -> None:
    torch = view.host.package("torch") if view.host is not None else None
    if torch is not None:
        pins = [r for r in torch.requires if r.lower().startswith("nvidia-nccl")]
        if pins:
            d.context.append(f"torch {torch.version} requires {pins[0].split(';', 1)[0].strip()}.")
    if view.host is not None and view.host.nccl:
        have = ", ".join(f"{v} ({k})" for k, v in view.host.nccl.items())
        d.context.append(f"NCCL found on this host: {have}.")


def _extension(view: _View, g: Mapping[str, str], d: _Detail) -> None:
    path = g.get("path", "")
    m = re.search(r"(?:site|dist)-packages/([A-Za-z_]\w*)", path)
    name = m.group(1) if m else (path.split("/")[-2] if path.count("/") >= 1 else g.get("module", ""))
    if name.startswith("flash_attn"):
        name = "flash-attn"
    version, _ = view.torch()
    pkg = view.host.package(name) if view.host is not None and name else None
    if pkg is not None and version:
        pins = [r for r in pkg.requires if re.match(r"torch\s*[=<>!~]", r)]
        pin = f" (it requires {pins[0].split(';', 1)[0].strip()})" if pins else ""
        d.context.append(f"installed: {pkg.name} {pkg.version}{pin} with torch {version}.")


def _no_driver(view: _View, g: Mapping[str, str], d: _Detail) -> None:
    if view.host is None:
        return
    if view.host.container.kind:
        d.context.append(f"this runs in a {view.host.container.kind} container.")
    for var in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"):
        value = view.host.env.get(var)
        if value is None and var == "NVIDIA_VISIBLE_DEVICES":
            value = view.host.container.nvidia_visible_devices
        if value is not None:
            d.context.append(f"{var}={value!r} with {len(view.host.gpus)} GPU(s) visible to the probe.")
    _driver_context(view, d)


_SPECIALISERS = {
    "driver-too-old": _driver_too_old,
    "image-requires-newer-driver": _image,
    "ptx-jit-unsupported": _ptx,
    "nvml-driver-mismatch": _nvml,
    "gpu-arch-not-in-build": _arch,
    "gpu-arch-dropped": _arch,
    "feature-needs-compute-capability": _feature,
    "forward-compat-unsupported": _forward_compat,
    "cuda-major-mismatch": _torchvision,
    "library-not-on-path": _library,
    "cuda-library-mismatch": _cudnn,
    "cpu-only-torch": _cpu_torch,
    "nccl-mismatch": _nccl,
    "extension-abi-mismatch": _extension,
    "no-driver": _no_driver,
    "container-no-gpu": _no_driver,
}


def _severity(rule_name: str, own: str | None = None) -> Severity:
    """The signature's own severity where it states one, else its rule's."""
    if own:
        return Severity(own)
    from cudalign.explain.catalogue import RULES

    if rule_name in RULES:
        return Severity(RULES[rule_name][1])
    from cudalign.rules import rule

    try:
        return rule(rule_name).severity
    except (KeyError, LookupError, ValueError):
        return Severity.ERROR


def _dedupe(refs: Iterable[FactRef]) -> tuple[FactRef, ...]:
    seen: dict[str, FactRef] = {}
    for r in refs:
        seen.setdefault(r.id, r)
    return tuple(seen.values())
