"""DESIGN.md's import rule, checked by walking every module's imports (ast, no import executed).

``model``, ``errors`` <- ``facts``, ``stack``, ``rules``, ``plan``, ``scan`` (and the other library
packages) <- ``render`` <- ``cli``; ``probe`` and ``verify`` depend only on ``model`` and ``errors``;
nothing imports ``cli``. Every import counts: module-level, inside functions and under
``TYPE_CHECKING`` alike, since each one is a dependency. Module-level imports also must not form a
circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "cudalign"

BASE = frozenset({"model", "errors", "_dataclass", "_dataclass_gen"})
"""The bottom layer: frozen value types, the error kinds, and the decorator the value types are made with."""
DOORS = frozenset({"probe", "verify"})
"""This machine and the target interpreter: they may use only the bottom layer."""
LIBRARY = frozenset(
    {
        "facts",
        "stack",
        "rules",
        "plan",
        "plan_resolve",
        "scan",
        "hosts",
        "explain",
        "runbook",
        "align",
        "fleet",
        "doctor",
        "snapshot",
        "diff",
        "matrix",
        "mcp_server",
        "_pep508",
    }
)
"""Pure functions between the snapshot and the renderer (``_pep508``: the requirement parser they share)."""
RENDER = frozenset({"render", "emit"})
"""Report renderers, and the files ``--emit`` writes from a plan."""
CLI = frozenset({"cli"})

ALLOWED: dict[str, frozenset[str]] = {
    "base": BASE,
    "doors": BASE,
    "library": BASE | LIBRARY,
    "render": BASE | LIBRARY | RENDER,
    "cli": BASE | DOORS | LIBRARY | RENDER | CLI,
}


@dataclass(frozen=True)
class Import:
    importer: str
    """Dotted name of the importing module (``cudalign.rules.driver``)."""
    target: str
    """Dotted name of the imported module (a submodule where ``from pkg import sub`` names one)."""
    line: int
    top_level: bool
    """Executed when the module is imported (not in a function, not under ``TYPE_CHECKING``)."""


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, top_level: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, top_level
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _walk(child, False)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), False)
            for stmt in child.orelse:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), top_level)
        else:
            yield from _walk(child, top_level)


def imports_of(module: str) -> list[Import]:
    """Every import of one of our modules that ``module`` makes."""
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[Import] = []
    for node, top in _walk(tree, True):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            # ``from pkg import sub`` imports the submodule; ``from mod import name`` the module
            targets = [
                f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names
            ]
        for target in dict.fromkeys(targets):
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                out.append(Import(module, target, node.lineno, top))
    return out


ALL_IMPORTS = [i for m in MODULES for i in imports_of(m)]


def part(module: str) -> str:
    """The top-level part of the package a module belongs to (``rules`` for ``cudalign.rules.arch``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer(module: str) -> str:
    p = part(module)
    if p in ("", "__main__"):
        return "entry"
    for name, members in (
        ("base", BASE),
        ("doors", DOORS),
        ("library", LIBRARY),
        ("render", RENDER),
        ("cli", CLI),
    ):
        if p in members:
            return name
    raise AssertionError(f"{module}: its package {p!r} has no place in DESIGN.md's import rule")


def test_the_walker_sees_the_imports_it_must_see() -> None:
    """The walker itself: lazy, TYPE_CHECKING and relative-to-package imports are all found."""
    found = {(i.importer, i.target, i.top_level) for i in ALL_IMPORTS}
    assert ("cudalign.cli", "cudalign.errors", False) in found  # inside main()
    assert ("cudalign.model", "cudalign.errors", True) in found
    assert any(i.importer.startswith("cudalign.rules") and not i.top_level for i in ALL_IMPORTS)
    assert len(ALL_IMPORTS) > 200


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_flow_one_way(module: str) -> None:
    """A module imports only its own package, and the layers below its own."""
    kind = layer(module)
    bad = []
    for imp in imports_of(module):
        target_part = part(imp.target)
        if target_part == part(module) or target_part == "":
            continue  # its own package, or cudalign.__version__
        ok = target_part in CLI if kind == "entry" else target_part in ALLOWED[kind]
        if not ok:
            bad.append(f"line {imp.line}: {imp.target}")
    assert not bad, f"{module} ({kind}) imports across DESIGN.md's rule: {bad}"


def test_nothing_imports_the_cli() -> None:
    offenders = [
        f"{i.importer}:{i.line}"
        for i in ALL_IMPORTS
        if part(i.target) == "cli" and part(i.importer) not in ("cli", "__main__")
    ]
    assert offenders == []


def test_doors_depend_only_on_model_and_errors() -> None:
    offenders = [
        f"{i.importer}:{i.line} -> {i.target}"
        for i in ALL_IMPORTS
        if part(i.importer) in DOORS and part(i.target) not in (BASE | {part(i.importer), ""})
    ]
    assert offenders == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, ())))))
                elif nxt in on:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_circle_among_module_level_imports() -> None:
    """Modules that import each other when loaded depend on the order Python happens to run them in."""
    edges: dict[str, set[str]] = {}
    for i in ALL_IMPORTS:
        if i.top_level and i.target != i.importer:
            edges.setdefault(i.importer, set()).add(i.target)
    assert _cycles(edges) == []


def _third_party(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("door", ["pynvml", "ctypes"])
def test_only_the_probe_and_verify_reach_the_driver(door: str) -> None:
    """NVML and ctypes calls into the driver are this machine's door: ``probe`` (and ``verify``) alone."""
    offenders = [m for m in MODULES if part(m) not in DOORS and door in _third_party(m)]
    assert offenders == []
