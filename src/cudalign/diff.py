"""``cudalign diff A B``: what changed between two environments, as a before/after table with what each
change needs (a rebuild, a reboot, a new image) and the steps back.

Each side is a snapshot (``cudalign snapshot``), a recorded host or ``doctor --json`` report, or a plan
(``plan --json``; its first matrix, or the one named). :class:`Diff` is plain data with a JSON form
(:meth:`Diff.to_json`); the renderers in ``cudalign.render.diff`` take it from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cudalign._dataclass import dataclass, field
from cudalign.errors import InvalidInput

__all__ = ["SCHEMA", "Change", "Diff", "Side", "diff", "side_from_json"]

SCHEMA = "cudalign.diff/1"

_FIELDS = ("driver", "cuda", "torch", "vllm", "cudnn", "nccl", "python", "image")
"""The rows every diff shows, in this order; then every package that moved."""

_LABELS = {
    "driver": "NVIDIA driver",
    "cuda": "CUDA",
    "torch": "torch",
    "vllm": "vLLM",
    "cudnn": "cuDNN",
    "nccl": "NCCL",
    "python": "Python",
    "image": "base image",
}


@dataclass(frozen=True, slots=True)
class Side:
    """One environment, reduced to what the table compares."""

    name: str
    """Where it came from (``snapshot taken 2026-12-03…``, ``plan matrix A``, ``host h200x2.json``)."""
    kind: str
    """``snapshot``, ``host`` or ``plan``."""
    values: Mapping[str, str | None]
    """Row -> value (``driver`` -> ``580.159.04``); None where this side does not say."""
    packages: Mapping[str, str] = field(default_factory=dict)
    """Distribution -> version (a plan: its pins)."""


@dataclass(frozen=True, slots=True)
class Change:
    """One row of the table."""

    what: str
    """``driver``, ``torch`` …, or ``package:<name>``."""
    label: str
    before: str | None
    after: str | None
    needs: tuple[str, ...]
    """What applying it takes: ``reboot``, ``rebuild``, ``new image``."""
    rollback: str | None
    """The step that returns to ``before``."""


@dataclass(frozen=True, slots=True)
class Diff:
    """A before/after comparison."""

    before: Side
    after: Side
    changes: tuple[Change, ...]
    unchanged: tuple[str, ...]
    """Rows both sides state with the same value."""

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for c in self.changes for n in c.needs))

    def to_json(self) -> dict[str, Any]:
        from cudalign.model import to_jsonable

        out = to_jsonable(self)
        assert isinstance(out, dict)
        return {"schema": SCHEMA, **out, "needs": list(self.needs)}


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def _host_values(host: Mapping[str, Any]) -> tuple[dict[str, str | None], dict[str, str]]:
    drv = host.get("driver") or {}
    pkgs = {_norm(str(p["name"])): str(p["version"]) for p in host.get("packages") or () if "name" in p}
    torch_cuda = next((p.get("cuda") for p in host.get("packages") or () if p.get("name") == "torch"), None)
    values = {
        "driver": drv.get("version"),
        "cuda": torch_cuda or drv.get("cuda"),
        "torch": pkgs.get("torch"),
        "vllm": pkgs.get("vllm"),
        "cudnn": (host.get("cudnn") or {}).get("torch") or (host.get("cudnn") or {}).get("system"),
        "nccl": (host.get("nccl") or {}).get("torch") or (host.get("nccl") or {}).get("system"),
        "python": host.get("python"),
        "image": None,
    }
    return values, pkgs


def side_from_json(doc: Any, name: str, *, matrix: str | None = None) -> Side:
    """A side from a snapshot, a host (or doctor report) or a plan document; one line naming what is wrong."""
    if not isinstance(doc, Mapping):
        raise InvalidInput(f"{name}: expected a JSON object (a snapshot, a host or a plan)")
    schema = doc.get("schema")
    if schema == "cudalign.env-snapshot/1":
        doctor = doc.get("doctor")
        host = doctor.get("host") if isinstance(doctor, Mapping) else None
        if not isinstance(host, Mapping):
            raise InvalidInput(f"{name}: field doctor.host: missing")
        values, pkgs = _host_values(host)
        for d in doc.get("distributions") or ():
            if isinstance(d, Mapping) and d.get("name") and d.get("version"):
                pkgs[_norm(str(d["name"]))] = str(d["version"])
        values["python"] = str(doc.get("python") or values["python"] or "") or None
        return Side(f"{name} (snapshot taken {doc.get('taken')})", "snapshot", values, pkgs)
    if schema in ("cudalign.doctor/1", "cudalign.host/1"):
        host = doc.get("host") if schema == "cudalign.doctor/1" else doc
        if not isinstance(host, Mapping):
            raise InvalidInput(f"{name}: field host: missing")
        values, pkgs = _host_values(host)
        return Side(f"{name} (host)", "host", values, pkgs)
    if schema == "cudalign.plan/1":
        return _plan_side(doc, name, matrix)
    raise InvalidInput(
        f"{name}: field schema: {schema!r} is not a snapshot, host, doctor report or plan",
        hint="write one with 'cudalign snapshot', 'cudalign doctor --json' or 'cudalign plan --json'",
    )


def _plan_side(doc: Mapping[str, Any], name: str, label: str | None) -> Side:
    matrices = doc.get("matrices")
    if not isinstance(matrices, list) or not matrices:
        raise InvalidInput(f"{name}: field matrices: missing or empty (the plan has no matrix that runs)")
    m = next(
        (x for x in matrices if isinstance(x, Mapping) and (label is None or x.get("label") == label)), None
    )
    if m is None:
        raise InvalidInput(f"{name}: no matrix {label}")
    pkgs: dict[str, str] = {}
    for i, line in enumerate(m.get("requirements") or ()):
        if not isinstance(line, str):
            raise InvalidInput(f"{name}: field matrices[{i}].requirements: not a string")
        if "==" in line and not line.startswith("-"):
            pkg, _, version = line.partition("==")
            pkgs[_norm(pkg)] = version.strip()
    values: dict[str, str | None] = {
        "driver": m.get("driver"),
        "cuda": m.get("cuda"),
        "torch": m.get("torch"),
        "vllm": m.get("vllm"),
        "cudnn": None,
        "nccl": None,
        "python": m.get("python"),
        "image": m.get("image"),
    }
    if m.get("torch"):
        pkgs["torch"] = str(m["torch"])
    return Side(f"{name} (plan matrix {m.get('label')})", "plan", values, pkgs)


def _major(version: str | None) -> str | None:
    return version.split(".", 1)[0] if version else None


def _public(version: str | None) -> str | None:
    return version.split("+", 1)[0] if version else None


def _row(what: str, before: str | None, after: str | None, a: Side) -> Change:
    needs: tuple[str, ...]
    if what == "driver":
        needs = ("reboot",)
        rollback = (
            f"reinstall driver {before} (cudalign runbook --driver {_major(before)})" if before else None
        )
    elif what == "image":
        needs = ("new image",)
        rollback = f"FROM {before}" if before else None
    elif what in ("cuda", "cudnn", "nccl"):
        needs = ("rebuild",) + (("new image",) if a.values.get("image") else ())
        rollback = None  # follows torch's (or the image's) pin
    elif what == "python":
        needs = ("rebuild", "new image")
        rollback = f"Python {before}" if before else None
    else:
        pkg = what.removeprefix("package:")
        needs = ("rebuild",)
        rollback = f"{pkg}=={before}" if before else f"pip uninstall {pkg}"
    label = _LABELS.get(what, what.removeprefix("package:"))
    return Change(what, label, before, after, needs, rollback)


def diff(before: Side, after: Side) -> Diff:
    """The table from ``before`` to ``after``: the fixed rows, then every package that moved. A row only
    one side states is a change when the other side states nothing comparable (a plan has no cuDNN)."""
    changes: list[Change] = []
    unchanged: list[str] = []
    for what in _FIELDS:
        b, a = before.values.get(what), after.values.get(what)
        if b is None and a is None:
            continue
        if b is None or a is None:
            if what in ("cudnn", "nccl") and "plan" in (before.kind, after.kind):
                continue  # a plan does not say: not a change
            changes.append(_row(what, b, a, after))
        elif b == a or (what == "python" and "plan" in (before.kind, after.kind) and _within(b, a)):
            unchanged.append(what)
        else:
            changes.append(_row(what, b, a, after))
    shown = {"torch", "vllm"}
    names = sorted((set(before.packages) | set(after.packages)) - shown)
    partial = [s for s in (before, after) if s.kind != "snapshot"]
    if len(partial) == 1:  # a plan names only its pins, a host its GPU stack: compare those
        names = [n for n in names if n in partial[0].packages]
    for n in names:
        b, a = before.packages.get(n), after.packages.get(n)
        if (b != a and _public(b) != _public(a)) or (b is None) != (a is None):
            changes.append(_row(f"package:{n}", b, a, after))
    return Diff(before, after, tuple(changes), tuple(unchanged))


def _within(a: str, b: str) -> bool:
    """A Python version and a plan's Python specifier agree when the version is inside it."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    for version, spec in ((a, b), (b, a)):
        try:
            return Version(version) in SpecifierSet(spec)
        except (InvalidVersion, InvalidSpecifier):
            continue
    return False
