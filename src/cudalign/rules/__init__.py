"""The one rule catalogue: each rule is a stable code, a name, a severity and one check.

Engine rules (CA1xx-CA5xx) check a stack on a host through a :class:`Context`; repo rules (CA6xx, run
by ``scan``) check a repository's services through a :class:`~cudalign.rules.repo.RepoContext`.
:data:`RULES` lists them all, :data:`ENGINE_RULES` and :data:`REPO_RULES` each kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

from packaging.version import Version

from cudalign._dataclass import dataclass, field
from cudalign.facts import query
from cudalign.model import ComputeCapability, Condition, Finding, Gpu, Host, Severity, Stack, Verdict
from cudalign.rules.common import Hit, label

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts

__all__ = [
    "ENGINE_RULES",
    "REPO_RULES",
    "RULES",
    "AnyRule",
    "Context",
    "Hit",
    "RepoContext",
    "RepoHit",
    "RepoRule",
    "Rule",
    "check",
    "check_repo",
    "engine_rule",
    "host_conditions",
    "rule",
    "verdict",
]


_T = TypeVar("_T")


class Context:
    """A host, a stack, the knowledge base and requested features, with answers computed once."""

    def __init__(self, host: Host, stack: Stack, facts: Facts, features: Sequence[str] = ()) -> None:
        self.host = host
        self.stack = stack
        self.facts = facts
        self.features = tuple(features)
        self.memo: dict[str, object] = {}
        """What several rules derive alike from this host and stack (their builds, the CUDA majors
        provided …), computed by the first that asks."""

    def once(self, key: str, make: Callable[[], _T]) -> _T:
        """``make()``'s answer for this host and stack, computed by the first rule that asks for ``key``."""
        if key not in self.memo:
            self.memo[key] = make()
        return cast("_T", self.memo[key])

    @cached_property
    def driver(self) -> Version | None:
        """The host driver version, when known."""
        if self.host.driver is None or not self.host.driver.version:
            return None
        try:
            return Version(self.host.driver.version)
        except ValueError:
            return None

    @property
    def driver_text(self) -> str:
        """The driver version as the host reported it (``550.107.02``)."""
        return (self.host.driver.version if self.host.driver else None) or "?"

    @cached_property
    def host_cuda(self) -> query.Answer[Version | None]:
        """The highest CUDA the driver supports."""
        return query.host_cuda(self.facts, self.host)

    @cached_property
    def compat_cuda(self) -> Version | None:
        """The CUDA of forward-compatibility libraries the stack would really run on, or ``None``.

        That is the case when the image (or, probed inside a container, the container) puts
        ``cuda-compat`` libraries newer than the host driver on the loader path, the container starts
        (its ``NVIDIA_REQUIRE_CUDA`` admits this driver), and every GPU supports forward compatibility:
        then the user-mode driver is the compat one, and the host's kernel driver only has to be a branch
        the compat package supports, which the image's brand/driver clauses name.
        """
        hc = self.host_cuda.value
        if hc is None or not self.gpus:
            return None
        cuda: Version | None = None
        if self.stack.image and self.stack.image_compat and self.stack.image_cuda:
            from cudalign.rules.images import require_outcome

            holds, _ = require_outcome(self)
            if holds is not True and self.stack.image_require:
                return None  # the container does not start, or that is not known
            cuda = query.cuda_minor(Version(self.stack.image_cuda))
        elif self.host.container.compat_libs and self.host.container.compat_cuda:
            try:
                cuda = query.cuda_minor(Version(self.host.container.compat_cuda))
            except ValueError:
                return None
        if cuda is None or cuda <= hc:
            return None
        if any(f is None or f.get("forward_compat") is not True for _, f in self.gpus):
            return None
        return cuda

    @cached_property
    def user_driver(self) -> Version | None:
        """The user-mode driver CUDA code meets: the compat libraries' driver when forward compatibility
        applies (:attr:`compat_cuda`), else the host driver."""
        if self.compat_cuda is not None:
            compat = query.min_driver_for_cuda(self.facts, self.compat_cuda).value
            if compat is not None and (self.driver is None or compat > self.driver):
                return compat
        return self.driver

    @property
    def user_driver_text(self) -> str:
        """How messages name the user-mode driver: the host driver, or the compat libraries over it."""
        if self.compat_cuda is not None and self.user_driver != self.driver:
            return (
                f"the CUDA {self.compat_cuda} compat driver (forward compatibility over {self.driver_text})"
            )
        return f"driver {self.driver_text}"

    @property
    def user_cuda(self) -> Version | None:
        """The highest CUDA the user-mode driver supports."""
        return self.compat_cuda or self.host_cuda.value

    @cached_property
    def gpus(self) -> tuple[tuple[Gpu, Fact | None], ...]:
        """Each GPU with its knowledge-base entry."""
        return tuple((g, query.gpu_fact(self.facts, g)) for g in self.host.gpus)

    def cc_of(self, gpu: Gpu, fact: Fact | None) -> ComputeCapability | None:
        if gpu.cc is not None:
            return gpu.cc
        return fact["cc"] if fact is not None else None

    @cached_property
    def cuda_needs(self) -> tuple[tuple[str, Version], ...]:
        """(what, CUDA version) for each piece of the stack whose compiled code needs a CUDA driver."""
        out: list[tuple[str, Version]] = []
        torch = self.stack.component("torch")
        if self.stack.cuda_runtime and torch is not None and torch.variant != "cpu":
            out.append((f"torch {label(torch)}", query.parse_version(self.stack.cuda_runtime)))
        for c in self.stack.components:
            if c.name == "torch" or not c.cuda:
                continue
            if c.name in query.torch_companions(self.facts) and c.cuda == self.stack.cuda_runtime:
                continue  # torch's companions share its CUDA: one finding says it
            try:
                v = query.parse_version(c.cuda)
            except ValueError:
                continue
            out.append((f"{c.name} {c.version}", v))
        if not out and self.stack.cuda_runtime:
            out.append(("the stack", query.parse_version(self.stack.cuda_runtime)))
        return tuple(out)

    @property
    def described_without_driver(self) -> bool:
        return self.host.driver is None and self.host.origin == "described"


def _severity(h: Hit, default: Severity) -> Severity:
    if h.severity is not None:
        return h.severity
    return Severity.INFO if h.unknown else default


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of the catalogue."""

    code: str
    name: str
    severity: Severity
    title: str
    function: Callable[[Context], Iterable[Hit]] = field(repr=False)

    @property
    def doc(self) -> str:
        """The docstring of the check: what it checks, why, how to fix, examples."""
        import inspect

        return inspect.cleandoc(self.function.__doc__ or "")

    def run(self, ctx: Context) -> list[Finding]:
        return [
            Finding(
                code=self.code,
                name=self.name,
                severity=_severity(h, self.severity),
                message=h.message,
                fix=h.fix,
                facts=tuple(dict.fromkeys(h.facts)),
                unknown=h.unknown,
                condition=h.condition,
            )
            for h in self.function(ctx)
        ]


from cudalign.rules import (  # noqa: E402
    arch,
    driver,
    images,
    packages,
    requirements,
    runtime,
)

if TYPE_CHECKING:
    from cudalign.rules.repo import RepoContext, RepoHit, RepoRule

    AnyRule = Rule | RepoRule
    REPO_RULES: tuple[RepoRule, ...]
    RULES: tuple[AnyRule, ...]

ENGINE_RULES: tuple[Rule, ...] = (
    Rule(
        "CA101",
        "driver-too-old",
        Severity.ERROR,
        "The driver is older than the stack's CUDA major or the GPU needs",
        driver.driver_too_old,
    ),
    Rule(
        "CA102",
        "minor-version-compat",
        Severity.WARNING,
        "Runs only through CUDA minor-version compatibility",
        driver.minor_version_compat,
    ),
    Rule(
        "CA103",
        "ptx-jit-unsupported",
        Severity.ERROR,
        "PTX that the driver's JIT compiler is too old to compile",
        driver.ptx_jit_unsupported,
    ),
    Rule("CA104", "no-driver", Severity.ERROR, "No NVIDIA driver on a host that needs one", driver.no_driver),
    Rule(
        "CA105",
        "nvml-driver-mismatch",
        Severity.ERROR,
        "Kernel module and user-space driver differ",
        driver.nvml_driver_mismatch,
    ),
    Rule(
        "CA201",
        "gpu-arch-not-in-build",
        Severity.ERROR,
        "The build has no kernels for the GPU's architecture",
        arch.gpu_arch_not_in_build,
    ),
    Rule(
        "CA202",
        "gpu-arch-dropped",
        Severity.ERROR,
        "The stack's CUDA can no longer target the GPU",
        arch.gpu_arch_dropped,
    ),
    Rule(
        "CA203",
        "feature-needs-compute-capability",
        Severity.ERROR,
        "A requested feature needs a newer compute capability",
        arch.feature_needs_compute_capability,
    ),
    Rule(
        "CA301",
        "torch-pin-conflict",
        Severity.ERROR,
        "Requirements pin different torch versions",
        packages.torch_pin_conflict,
    ),
    Rule(
        "CA302",
        "extension-abi-mismatch",
        Severity.ERROR,
        "An installed extension was built for another torch",
        packages.extension_abi_mismatch,
    ),
    Rule(
        "CA303",
        "cuda-major-mismatch",
        Severity.ERROR,
        "Packages built for different CUDA majors",
        packages.cuda_major_mismatch,
    ),
    Rule(
        "CA304",
        "cuda-library-mismatch",
        Severity.ERROR,
        "A package needs another cuDNN or cuBLAS major",
        packages.cuda_library_mismatch,
    ),
    Rule("CA305", "cpu-only-torch", Severity.ERROR, "torch is a CPU-only build", packages.cpu_only_torch),
    Rule(
        "CA306",
        "no-wheel-for-platform",
        Severity.ERROR,
        "No wheel for this Python, CPU or glibc",
        packages.no_wheel_for_platform,
    ),
    Rule(
        "CA307",
        "nccl-mismatch",
        Severity.ERROR,
        "Packages need different NCCL versions",
        packages.nccl_mismatch,
    ),
    Rule(
        "CA308",
        "unknown-release",
        Severity.ERROR,
        "A requirement or pin names a package or release the index does not have",
        requirements.unknown_release,
    ),
    Rule(
        "CA309",
        "requirements-conflict",
        Severity.ERROR,
        "Two requirements of one package cannot both hold",
        requirements.requirements_conflict,
    ),
    Rule(
        "CA401",
        "image-requires-newer-driver",
        Severity.ERROR,
        "The image's NVIDIA_REQUIRE_CUDA is not met by the host driver",
        images.image_requires_newer_driver,
    ),
    Rule(
        "CA402",
        "forward-compat-unsupported",
        Severity.ERROR,
        "Forward-compatibility libraries on a GPU they do not support, or shadowing a newer driver",
        images.forward_compat_unsupported,
    ),
    Rule(
        "CA403",
        "container-no-gpu",
        Severity.ERROR,
        "A container started without GPU access",
        images.container_no_gpu,
    ),
    Rule(
        "CA404",
        "image-platform-missing",
        Severity.ERROR,
        "The image is not published for the host's CPU architecture",
        images.image_platform_missing,
    ),
    Rule(
        "CA501",
        "library-not-on-path",
        Severity.ERROR,
        "A CUDA library a package loads is not provided",
        runtime.library_not_on_path,
    ),
    Rule(
        "CA502",
        "fabric-manager-missing",
        Severity.ERROR,
        "NVSwitch system without a running Fabric Manager",
        runtime.fabric_manager_missing,
    ),
)


def _repo_rules() -> tuple[RepoRule, ...]:
    """The repo rules (``scan``'s): loaded on first use, so that the engine's commands do without them."""
    from cudalign.rules import repo_builds, repo_drift, repo_images, repo_pins
    from cudalign.rules.repo import RepoRule, unparseable_file

    return (
        RepoRule(
            "CA601",
            "torch-drift",
            Severity.WARNING,
            "Services run different torch versions",
            repo_drift.torch_drift,
        ),
        RepoRule(
            "CA602",
            "cuda-drift",
            Severity.WARNING,
            "Services load different CUDA runtimes",
            repo_drift.cuda_drift,
        ),
        RepoRule(
            "CA603",
            "base-image-cuda-mismatch",
            Severity.WARNING,
            "The base image's CUDA differs from the torch wheel's CUDA",
            repo_images.base_image_cuda_mismatch,
        ),
        RepoRule(
            "CA604",
            "unpinned-cuda-package",
            Severity.WARNING,
            "A CUDA-sensitive package is not pinned",
            repo_pins.unpinned_cuda_package,
        ),
        RepoRule(
            "CA605",
            "variant-without-index",
            Severity.ERROR,
            "A +cuXYZ pin with no index that serves it",
            repo_pins.variant_without_index,
        ),
        RepoRule(
            "CA606",
            "duplicate-pin",
            Severity.WARNING,
            "One service pins a package differently in two files",
            repo_pins.duplicate_pin,
        ),
        RepoRule(
            "CA607",
            "gpu-service-without-reservation",
            Severity.WARNING,
            "A compose service with a GPU stack reserves no GPU",
            repo_images.gpu_service_without_reservation,
        ),
        RepoRule(
            "CA608",
            "image-needs-newer-driver-than-fleet",
            Severity.ERROR,
            "An image needs a newer driver than the fleet has",
            repo_images.image_needs_newer_driver_than_fleet,
        ),
        RepoRule("CA609", "unparseable-file", Severity.WARNING, "A file does not parse", unparseable_file),
        RepoRule(
            "CA610",
            "extension-build-cuda-mismatch",
            Severity.ERROR,
            "A CUDA extension is compiled with another CUDA major than its torch",
            repo_builds.extension_build_cuda_mismatch,
        ),
        RepoRule(
            "CA611",
            "cuda-suffix-mismatch",
            Severity.ERROR,
            "A package named for another CUDA major than the service's",
            repo_builds.suffix_mismatch,
        ),
        RepoRule(
            "CA612",
            "torch-from-dependency",
            Severity.WARNING,
            "A package pulls in a torch the service does not pin",
            repo_builds.torch_from_dependency,
        ),
    )


_LAZY = ("REPO_RULES", "RULES", "AnyRule", "RepoContext", "RepoHit", "RepoRule", "unparseable_file")
"""Names this module gives on first use (:pep:`562`): the repo rules and what they are made of.

``RULES`` is every rule, engine and repo, in code order; ``REPO_RULES`` the repo rules alone."""


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cudalign.rules import repo

    repo_rules = _repo_rules_once()
    made = {
        "REPO_RULES": repo_rules,
        "RULES": (*ENGINE_RULES, *repo_rules),
        "AnyRule": Rule | repo.RepoRule,
        "RepoContext": repo.RepoContext,
        "RepoHit": repo.RepoHit,
        "RepoRule": repo.RepoRule,
        "unparseable_file": repo.unparseable_file,
    }
    globals().update(made)
    return made[name]


@cache
def _repo_rules_once() -> tuple[RepoRule, ...]:
    return _repo_rules()


@cache
def _by_key() -> dict[str, AnyRule]:
    every: tuple[AnyRule, ...] = (*ENGINE_RULES, *_repo_rules_once())
    return {**{r.code: r for r in every}, **{r.name: r for r in every}}


def rule(code_or_name: str) -> AnyRule:
    """A rule by code (``CA101``) or name (``driver-too-old``); ``KeyError`` if there is none."""
    key = code_or_name.strip()
    by_key = _by_key()
    return by_key[key] if key in by_key else by_key[key.upper()]


def engine_rule(code_or_name: str) -> Rule:
    """An engine rule by code or name; ``KeyError`` if there is none (or it is a repo rule)."""
    found = rule(code_or_name)
    if not isinstance(found, Rule):
        raise KeyError(code_or_name)
    return found


def check(
    host: Host, stack: Stack, facts: Facts, *, features: Sequence[str] = (), first_error: bool = False
) -> tuple[Finding, ...]:
    """Run every rule; findings ordered by severity (errors first), then by code.

    ``first_error`` stops after the first rule (in code order) that finds an error resting on no missing
    fact: the verdict (``fails``) and the first finding are then the ones the full run gives, which is all
    a rejected candidate needs (``plan`` tries many)."""
    ctx = Context(host, stack, facts, features)
    found: list[Finding] = []
    for r in ENGINE_RULES:
        hits = r.run(ctx)
        found.extend(hits)
        if first_error and any(f.severity is Severity.ERROR and f.unknown is None for f in hits):
            break
    return tuple(sorted(found, key=lambda f: (-f.severity.rank, f.unknown is not None, f.code)))


def check_repo(ctx: RepoContext) -> list[Finding]:
    """Run every repo rule, in catalogue order."""
    out: list[Finding] = []
    for r in _repo_rules_once():
        out.extend(r.run(ctx))
    return out


_UNDECIDED = ("resolution", "torch_variant")
"""Stack unknowns no rule can judge around: the releases themselves, or which torch build (so which CUDA)
the installer takes."""


def verdict(findings: Iterable[Finding], stack: Stack | None = None) -> Verdict:
    """``fails`` on any error; else ``unknown`` when a rule lacked a fact or the requirements did not
    resolve to releases the knowledge base knows; ``caveats`` on warnings and on conditions (host values
    the user did not state, which must hold); ``ok``."""
    items = list(findings)
    if any(f.severity is Severity.ERROR for f in items):
        return Verdict.FAILS
    if any(f.unknown for f in items) or (stack is not None and any(k in stack.unknown for k in _UNDECIDED)):
        return Verdict.UNKNOWN
    if any(f.severity is Severity.WARNING or f.condition is not None for f in items):
        return Verdict.CAVEATS
    return Verdict.OK


def host_conditions(findings: Iterable[Finding], host: Host | None = None) -> tuple[Condition, ...]:
    """What must hold for the verdict to stand: the findings' conditions on unstated host values, and a
    driver given as a branch (judged on the branch's first release)."""
    out = [f.condition for f in findings if f.condition is not None]
    drv = host.driver if host is not None else None
    if drv is not None and drv.given and drv.version:
        branch = Version(drv.version).major
        out.insert(
            0,
            Condition(
                subject="driver",
                text=f"an R{branch} driver (given as {drv.given!r}), judged on its first release "
                f"{drv.version}",
                minimum=drv.version,
                branches=(f"R{branch}",),
            ),
        )
    return tuple(out)
