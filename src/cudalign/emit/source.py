"""What an emitted file is made from: one matrix of a plan, read from ``plan --json`` (or the same JSON
made in memory by ``plan --emit``), with the host it was planned for and the stamp every file carries.

A plan JSON from another version, or one edited by hand, is refused with one line naming the field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement

from cudalign._dataclass import dataclass
from cudalign.errors import InvalidHost, InvalidInput

if TYPE_CHECKING:
    from cudalign.facts import Facts
    from cudalign.model import Host, Plan

__all__ = ["PLAN_SCHEMA", "EmitSource", "Pin", "plan_document", "source_from_json", "source_from_plan"]

PLAN_SCHEMA = "cudalign.plan/1"

_REPORT_KEYS = frozenset({"schema", "verdict", "host", "stack", "findings", "knowledge_base"})
"""Keys of the report around the plan's own fields."""

_MATRIX: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "label": (str, False),
    "driver": (str, True),
    "driver_branch": (str, True),
    "driver_change": (bool, False),
    "reboot": (bool, False),
    "cuda": (str, True),
    "torch": (str, True),
    "torch_index": (str, True),
    "vllm": (str, True),
    "vllm_cuda": (str, True),
    "python": (str, True),
    "image": (str, True),
    "install_uv": (str, False),
    "install_pip": (str, False),
    "requirements": (list, False),
    "verdict": (str, False),
    "caveats": (list, False),
    "runbook": (str, True),
    "findings": (list, False),
    "images_rejected": (list, False),
}
"""Matrix fields emitters read -> (JSON type, may be null); any other field of :class:`Matrix` is allowed."""


@dataclass(frozen=True, slots=True)
class Pin:
    """One exact requirement of the matrix (``torch==2.9.0``)."""

    name: str
    """Normalised distribution name."""
    version: str
    text: str
    """As the plan wrote it."""


@dataclass(frozen=True, slots=True)
class EmitSource:
    """One matrix of a plan, checked, with everything an emitter needs and nothing it must guess."""

    label: str
    requested: tuple[str, ...]
    """What the user asked ``plan`` for."""
    host: Host
    driver: str | None
    driver_change: bool
    cuda: str | None
    torch: str | None
    torch_index: str | None
    vllm: str | None
    python: str | None
    """The Python specifier the stack allows (``>=3.10,<3.14``)."""
    image: str | None
    pins: tuple[Pin, ...]
    index_options: tuple[str, ...]
    """The index lines pip needs (``--extra-index-url …``), as the plan wrote them."""
    verdict: str
    finding_codes: tuple[str, ...]
    """Codes of the matrix's own findings: the caveats the plan accepted."""
    forward_compat: bool
    """Whether the matrix runs through its image's forward-compatibility libraries (its CA402 is info)."""
    plan_digest: str
    """sha256 of the plan's canonical JSON (first 12 hex digits): which plan made the file."""
    knowledge_base: str
    """The knowledge base snapshot the plan was made with (or, when its JSON does not say, the one loaded)."""

    @property
    def stamp(self) -> str:
        """The one line every emitted file carries (as a comment)."""
        asked = " ".join(self.requested) or "(nothing)"
        return (
            f"made by cudalign from plan {self.plan_digest} ({asked}), matrix {self.label}; "
            f"knowledge base {self.knowledge_base}"
        )

    def pin(self, name: str) -> Pin | None:
        return next((p for p in self.pins if p.name == name), None)


def _error(field: str, problem: str) -> InvalidInput:
    return InvalidInput(f"plan field {field}: {problem}")


def _digest(doc: Mapping[str, Any]) -> str:
    """The plan's own fields, canonical: the same for ``plan --emit`` and ``render`` of its saved JSON."""
    from cudalign.model import Plan

    body = {k: v for k, v in doc.items() if k in _known(Plan)}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _matrix(doc: Mapping[str, Any], label: str | None) -> tuple[int, Mapping[str, Any]]:
    matrices = doc.get("matrices")
    if not isinstance(matrices, list):
        raise _error("matrices", "missing or not an array")
    if not matrices:
        raise _error("matrices", "empty: the plan found no matrix that runs on its host")
    for i, m in enumerate(matrices):
        if not isinstance(m, Mapping):
            raise _error(f"matrices[{i}]", "not an object")
        if label is None or m.get("label") == label:
            return i, m
    labels = ", ".join(str(m.get("label")) for m in matrices if isinstance(m, Mapping))
    raise InvalidInput(f"--matrix {label}: the plan has matrices {labels}")


def _known(cls: type[Any], leave: frozenset[str] = frozenset()) -> frozenset[str]:
    """The JSON keys of a model dataclass: what this version of cudalign writes."""
    import dataclasses

    return frozenset(f.name for f in dataclasses.fields(cls)) - leave


def _check_matrix(i: int, m: Mapping[str, Any]) -> None:
    from cudalign.model import Matrix

    known = _known(Matrix, frozenset({"stack"}))
    for key in m:
        if key not in known:
            raise _error(f"matrices[{i}].{key}", "unknown (a plan from another cudalign version, or edited)")
    for key, (kind, nullable) in _MATRIX.items():
        where = f"matrices[{i}].{key}"
        if key not in m:
            if key == "images_rejected":
                continue
            raise _error(where, "missing")
        value = m[key]
        if value is None and nullable:
            continue
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise _error(
                where, f"expected {kind.__name__ if isinstance(kind, type) else kind}, got {value!r}"
            )
    for j, line in enumerate(m["requirements"]):
        if not isinstance(line, str):
            raise _error(f"matrices[{i}].requirements[{j}]", "not a string")
    for j, f in enumerate(m["findings"]):
        if not isinstance(f, Mapping) or not isinstance(f.get("code"), str):
            raise _error(f"matrices[{i}].findings[{j}]", "not a finding with a code")


def _pins(i: int, lines: list[str]) -> tuple[tuple[Pin, ...], tuple[str, ...]]:
    pins: list[Pin] = []
    options: list[str] = []
    for j, line in enumerate(lines):
        text = line.strip()
        if text.startswith("-"):
            if not text.startswith(("--extra-index-url ", "--index-url ")):
                raise _error(f"matrices[{i}].requirements[{j}]", f"unexpected option {text!r}")
            options.append(text)
            continue
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise _error(f"matrices[{i}].requirements[{j}]", f"not a requirement: {exc}") from None
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
            raise _error(f"matrices[{i}].requirements[{j}]", f"{text!r} is not an exact pin")
        name = req.name.lower().replace("_", "-").replace(".", "-")
        pins.append(Pin(name, specs[0].version, text))
    return tuple(pins), tuple(options)


def source_from_json(doc: Any, facts: Facts, *, label: str | None = None) -> EmitSource:
    """The matrix ``label`` (default: the first) of a ``plan --json`` document, checked field by field."""
    from cudalign.model import host_from_json

    if not isinstance(doc, Mapping):
        raise InvalidInput("plan: expected a JSON object (the output of 'cudalign plan --json')")
    schema = doc.get("schema")
    if schema != PLAN_SCHEMA:
        raise _error("schema", f"{schema!r} is not {PLAN_SCHEMA!r} (write it with 'cudalign plan --json')")
    from cudalign.model import Plan

    top = _REPORT_KEYS | _known(Plan)
    for key in doc:
        if key not in top:
            raise _error(str(key), "unknown (a plan from another cudalign version, or edited)")
    requested = doc.get("requirements")
    if not isinstance(requested, list) or not all(isinstance(r, str) for r in requested):
        raise _error("requirements", "missing or not an array of strings")
    if "host" not in doc:
        raise _error("host", "missing")
    try:
        host = host_from_json(doc["host"], where="host")
    except InvalidHost as exc:
        raise InvalidInput(f"plan field {exc}") from None
    i, m = _matrix(doc, label)
    _check_matrix(i, m)
    pins, options = _pins(i, m["requirements"])
    kb = doc.get("knowledge_base")
    if kb is not None and not isinstance(kb, str):
        raise _error("knowledge_base", "not a string")
    return EmitSource(
        label=m["label"],
        requested=tuple(requested),
        host=host,
        driver=m["driver"],
        driver_change=m["driver_change"],
        cuda=m["cuda"],
        torch=m["torch"],
        torch_index=m["torch_index"],
        vllm=m["vllm"],
        python=m["python"],
        image=m["image"],
        pins=pins,
        index_options=options,
        verdict=m["verdict"],
        finding_codes=tuple(dict.fromkeys(f["code"] for f in m["findings"])),
        forward_compat=any(f["code"] == "CA402" and f.get("severity") == "info" for f in m["findings"]),
        plan_digest=_digest(doc),
        knowledge_base=kb or knowledge_base_stamp(facts),
    )


def knowledge_base_stamp(facts: Facts) -> str:
    """``snapshot 2026-11-18T13:58:51+00:00 (embedded)``: which PyPI-derived snapshot the facts hold."""
    snap = facts.snapshot
    return f"snapshot {snap.generated} ({snap.origin})"


def plan_document(plan: Plan, host: Host, facts: Facts) -> dict[str, Any]:
    """The ``plan --json`` document of a plan made in memory, with the knowledge base it was made with."""
    from cudalign.render.plan import plan_json

    return {
        "schema": PLAN_SCHEMA,
        "host": host.to_json(),
        **json.loads(json.dumps(plan_json(plan))),
        "knowledge_base": knowledge_base_stamp(facts),
    }


def source_from_plan(plan: Plan, host: Host, facts: Facts, *, label: str | None = None) -> EmitSource:
    """The same :class:`EmitSource` ``render`` reads from the plan's saved JSON."""
    return source_from_json(plan_document(plan, host, facts), facts, label=label)
