"""Safe YAML with line numbers: ``yaml.SafeLoader`` semantics, mappings that remember their keys' lines."""

from __future__ import annotations

from typing import Any

from cudalign.model import Location
from cudalign.scan.model import Problem

__all__ = ["MAX_NODES", "LineDict", "LineList", "RecursiveAlias", "expanded_size", "line_of", "load_all"]


class LineDict(dict[Any, Any]):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 1
    key_lines: dict[Any, int]


class LineList(list[Any]):
    """A sequence that knows its own line and each item's line (1-based)."""

    line: int = 1
    item_lines: list[int]


def line_of(value: Any, key: Any = None, default: int = 1) -> int:
    """The line of ``value[key]`` (or of ``value`` when no key), falling back to ``default``."""
    if isinstance(value, LineDict):
        if key is not None:
            return value.key_lines.get(key, value.line)
        return value.line
    if isinstance(value, LineList):
        if isinstance(key, int) and 0 <= key < len(value.item_lines):
            return value.item_lines[key]
        return value.line
    return default


def _loader() -> type[Any]:
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        pass

    def construct_map(loader: Any, node: Any) -> LineDict:
        loader.flatten_mapping(node)
        out = LineDict()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:  # a list or mapping as key; never str() it, an alias bomb expands there
                key = f"<{type(key).__name__} at line {key_node.start_mark.line + 1}>"
            out[key] = loader.construct_object(value_node, deep=True)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out

    def construct_seq(loader: Any, node: Any) -> LineList:
        out = LineList(loader.construct_object(child, deep=True) for child in node.value)
        out.line = node.start_mark.line + 1
        out.item_lines = [child.start_mark.line + 1 for child in node.value]
        return out

    def construct_local(loader: Any, suffix: str, node: Any) -> Any:
        # Compose's !override / !reset and other local tags: read the node as if untagged
        if isinstance(node, yaml.MappingNode):
            return construct_map(loader, node)
        if isinstance(node, yaml.SequenceNode):
            return construct_seq(loader, node)
        return loader.construct_scalar(node)

    Loader.add_constructor("tag:yaml.org,2002:map", construct_map)
    Loader.add_constructor("tag:yaml.org,2002:seq", construct_seq)
    Loader.add_multi_constructor("!", construct_local)
    return Loader


_LOADER: type[Any] | None = None
MAX_NODES = 1_000_000
"""Nodes a document may hold with its aliases expanded: a real compose or k8s file holds thousands;
a "billion laughs" document, a few lines long, holds billions and would hang whatever walks it."""


class RecursiveAlias(ValueError):
    """An alias refers to a node that holds it: the document is endless."""

    def __init__(self, line: int) -> None:
        super().__init__(f"line {line}: an alias refers to a node that holds it")
        self.line = line


def expanded_size(node: Any, limit: int = MAX_NODES) -> int:
    """The number of nodes of ``node`` with every alias expanded, counted without expanding any (each
    node's size is computed once), and without recursion; stops counting past ``limit``. Raises
    :class:`RecursiveAlias`, with the line of the anchored node, when the document is endless."""
    import yaml

    sizes: dict[int, int] = {}
    open_: set[int] = set()  # nodes whose children are being counted: the path from the root
    todo: list[tuple[Any, bool]] = [(node, False)]
    while todo:
        current, ready = todo.pop()
        key = id(current)
        if ready:
            children = _children(current)
            sizes[key] = min(limit + 1, 1 + sum(sizes[id(c)] for c in children))
            open_.discard(key)
            continue
        if key in sizes:
            continue
        if key in open_:
            raise RecursiveAlias(current.start_mark.line + 1)  # popped again before it was counted
        if not isinstance(current, (yaml.MappingNode, yaml.SequenceNode)):
            sizes[key] = 1
            continue
        open_.add(key)
        todo.append((current, True))
        todo.extend((c, False) for c in _children(current) if id(c) not in sizes)
    return sizes[id(node)]


def _children(node: Any) -> list[Any]:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


MAX_DEPTH = 1000
"""Deeper nesting than any real configuration: refused before a parser sees it."""


def _too_deep(text: str) -> int | None:
    """The line where flow collections (``[``/``{``) or a one-line chain of block sequences
    (``- - -``) nest past :data:`MAX_DEPTH`, or ``None``. One pass; brackets inside quoted strings
    count too, which can only err towards refusing a document nested almost that deep."""
    brackets = text.count("[") + text.count("{") > MAX_DEPTH
    if not brackets and text.count("- ") <= MAX_DEPTH:
        return None
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        pos, dashes = len(line) - len(line.lstrip()), 0
        while line.startswith("- ", pos):  # an index, not slices: linear in the line's length
            dashes += 1
            if dashes > MAX_DEPTH:
                return number
            pos += 2
            while pos < len(line) and line[pos] in " \t":
                pos += 1
        for ch in line if brackets else ():
            if ch in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    return number
            elif ch in "]}" and depth:
                depth -= 1
    return None


def load_all(path: str, text: str) -> tuple[list[Any], Problem | None]:
    """Every document of a YAML text; a syntax error, or a document whose aliases expand past
    :data:`MAX_NODES`, is a :class:`Problem` at its line."""
    import yaml

    global _LOADER
    if _LOADER is None:
        _LOADER = _loader()
    docs: list[Any] = []
    deep = _too_deep(text)
    if deep is not None:  # libyaml's composer recurses in C: some builds crash on such input
        why = f"not read: collections nested more than {MAX_DEPTH} levels deep"
        return docs, Problem(Location(path, deep), why, "flatten the document")
    loader = _LOADER(text)  # a SafeLoader subclass
    anchors = "&" in text
    try:
        while loader.check_node():
            node = loader.get_node()
            try:  # without an anchor there is no alias, and nothing to expand
                size = expanded_size(node) if node is not None and anchors else 0
            except RecursiveAlias as exc:
                why = "not valid YAML: an alias refers to a node that holds it (an endless document)"
                return docs, Problem(Location(path, exc.line), why)
            if size > MAX_NODES:
                why = f"its aliases expand to more than {MAX_NODES:,} nodes (a 'billion laughs' document)"
                fix = "write the repeated parts out, or nest fewer aliases"
                return docs, Problem(Location(path, node.start_mark.line + 1), f"not read: {why}", fix)
            docs.append(loader.construct_document(node))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return docs, Problem(Location(path, line), f"not valid YAML: {problem}")
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        return docs, Problem(Location(path, 1), f"not valid YAML: {type(exc).__name__}")
    finally:
        loader.dispose()
    return docs, None
