"""Files for one matrix of a plan: requirements, a uv pyproject, a Dockerfile, a compose file, Kubernetes
manifests.

One small module per kind, behind the explicit registry :data:`KINDS` (kind -> ``module:function``); every
text comes from :mod:`cudalign.emit.templates`, and every file says in a comment which plan and which
knowledge-base snapshot made it. A kind yields its main file and the files it needs beside it (a Dockerfile
needs the requirements it installs), so the set written with ``-o DIR`` builds and scans on its own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from cudalign._dataclass import dataclass
from cudalign.emit.source import EmitSource, plan_document, source_from_json, source_from_plan

if TYPE_CHECKING:
    from cudalign.emit.context import EmitContext
    from cudalign.facts import Facts

__all__ = [
    "KINDS",
    "EmitSource",
    "EmittedFile",
    "emit",
    "plan_document",
    "source_from_json",
    "source_from_plan",
]


@dataclass(frozen=True, slots=True)
class EmittedFile:
    """One file an emitter writes: its name inside the output directory and its text."""

    path: str
    text: str


KINDS: dict[str, str] = {
    "requirements": "cudalign.emit.requirements:emit",
    "uv": "cudalign.emit.uv:emit",
    "dockerfile": "cudalign.emit.dockerfile:emit",
    "compose": "cudalign.emit.compose:emit",
    "k8s": "cudalign.emit.k8s:emit",
}
"""Every kind of file ``--emit`` writes -> the function that writes it (main file first)."""


def emitter(kind: str) -> Callable[[EmitContext], tuple[EmittedFile, ...]]:
    target = KINDS.get(kind)
    if target is None:
        raise ValueError(f"no emitter for {kind!r} (there are: {', '.join(KINDS)})")
    module, _, name = target.partition(":")
    fn: Callable[[EmitContext], tuple[EmittedFile, ...]] = getattr(importlib.import_module(module), name)
    return fn


def emit(source: EmitSource, kind: str, facts: Facts) -> tuple[EmittedFile, ...]:
    """The files of ``kind`` for the matrix: the main one first, then those it needs beside it."""
    from cudalign.emit.context import context

    return emitter(kind)(context(source, facts))
