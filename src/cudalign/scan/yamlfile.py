"""Safe YAML with line numbers: ``yaml.SafeLoader`` semantics, mappings that remember their keys' lines."""

from __future__ import annotations

from typing import Any

from cudalign.model import Location
from cudalign.scan.model import Problem

__all__ = ["LineDict", "LineList", "line_of", "load_all"]


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
            except TypeError:
                key = str(key)
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


def load_all(path: str, text: str) -> tuple[list[Any], Problem | None]:
    """Every document of a YAML text; a syntax error is a :class:`Problem` at its line."""
    import yaml

    global _LOADER
    if _LOADER is None:
        _LOADER = _loader()
    docs: list[Any] = []
    try:
        for doc in yaml.load_all(text, Loader=_LOADER):  # a SafeLoader subclass
            docs.append(doc)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return docs, Problem(Location(path, line), f"not valid YAML: {problem}")
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        return docs, Problem(Location(path, 1), f"not valid YAML: {type(exc).__name__}")
    return docs, None
