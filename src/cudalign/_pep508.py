"""PEP 508 requirements and markers for the engine's hot path, without importing ``packaging.requirements``.

``packaging.requirements`` pulls in ``packaging.utils`` -> ``packaging.tags`` (``logging``, ``subprocess``,
``platform``) and ``packaging._tokenizer`` -> ``dataclasses`` -> ``inspect``: about a third of what a
``check`` or ``plan`` imports, for strings that are nearly always ``name[extras] specifiers ; marker``.
:class:`Requirement` parses that common form itself, in one linear pass, and hands everything else (a
URL, a legacy marker variable, anything malformed) to :class:`packaging.requirements.Requirement`, whose
result or error it then carries: a string it accepts reads exactly as packaging reads it (name, extras,
:class:`~packaging.specifiers.SpecifierSet`, marker text, ``str``), which ``tests/stack/test_pep508.py``
checks over every requirement line of the snapshot and generated ones.

:class:`Marker` evaluates where packaging's releases from the lowest we allow to the newest agree (a
version comparison on a version variable, ``==``/``!=``/``in``/``not in`` on a string variable whose
literal is no version, ``extra``); any other comparison, and a variable the caller's environment does not
give (packaging fills it from the running interpreter), is evaluated by :class:`packaging.markers.Marker`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Union

from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from packaging.markers import Marker as PackagingMarker

__all__ = ["Marker", "Requirement", "canonicalize_name", "error_line"]


def canonicalize_name(name: str) -> str:
    """PEP 503 normalisation, as :func:`packaging.utils.canonicalize_name` does it."""
    value = name.lower().replace("_", "-").replace(".", "-")
    while "--" in value:
        value = value.replace("--", "-")
    return value


def error_line(exc: Exception) -> str:
    """packaging's parse error on one line: its first line, and the column its caret line points at
    (packaging writes the text indented by four spaces, with ``^``/``~`` under the place it stopped)."""
    lines = str(exc).splitlines() or ["invalid requirement"]
    caret = next((line for line in lines[1:] if line.strip() and set(line.strip()) <= {"^", "~"}), None)
    if caret is None:
        return lines[0]
    return f"{lines[0]} (at column {len(caret) - len(caret.lstrip()) - 3})"


_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"  # patterns are compiled on first use (re caches them)
_SPEC_ITEM = r"(~=|==|!=|<=|>=|<|>)\s*([A-Za-z0-9_.*+!-]+)"
_VARIABLES = frozenset(
    {
        "python_version",
        "python_full_version",
        "os_name",
        "sys_platform",
        "platform_release",
        "platform_system",
        "platform_version",
        "platform_machine",
        "platform_python_implementation",
        "implementation_name",
        "implementation_version",
        "extra",
    }
)
_VERSION_VARIABLES = frozenset(
    {"implementation_version", "platform_release", "python_full_version", "python_version"}
)
_TOKEN = (
    r"""\s*(?:(?P<paren>[()])|(?P<string>'[^']*'|"[^"]*")|(?P<op>~=|===|==|!=|<=|>=|<|>)"""
    r"""|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"""
)

_NOT_IN = r"\s+in\b"


class _Fallback(Exception):
    """The text is outside the common form: packaging reads it."""


# a parsed marker, in packaging's own shape: atoms (lhs, op, rhs) with each side ("var"|"str", text),
# "and"/"or" between them, lists for parenthesised groups
_Side = tuple[str, str]
_Atom = tuple[_Side, str, _Side]
_Items = list[Union[_Atom, str, "_Items"]]


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            return out
        m = re.compile(_TOKEN).match(text, pos)
        if m is None or m.end() == pos:
            raise _Fallback
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "word" and value == "not":  # ``not in``
            m2 = re.compile(_NOT_IN).match(text, m.end())
            if m2 is None:
                raise _Fallback
            out.append(("op", "not in"))
            pos = m2.end()
            continue
        if kind == "word" and value in ("and", "or", "in"):
            kind = "op" if value == "in" else "logic"
        out.append((kind, value))
        pos = m.end()


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise _Fallback
        self.i += 1
        return tok

    def expression(self, depth: int) -> _Items:
        if depth > 20:
            raise _Fallback
        items: _Items = [self.operand(depth)]
        while (tok := self.peek()) is not None and tok[0] == "logic":
            self.i += 1
            items.append(tok[1])
            items.append(self.operand(depth))
        return items

    def operand(self, depth: int) -> _Atom | _Items:
        tok = self.take()
        if tok == ("paren", "("):
            inner = self.expression(depth + 1)
            if self.take() != ("paren", ")"):
                raise _Fallback
            return inner
        lhs = self.side(tok)
        kind, op = self.take()
        if kind != "op":
            raise _Fallback
        rhs = self.side(self.take())
        if (lhs[0] == "var") == (rhs[0] == "var"):  # exactly one variable and one literal
            raise _Fallback
        return (lhs, op, rhs)

    @staticmethod
    def side(tok: tuple[str, str]) -> _Side:
        kind, value = tok
        if kind == "string":
            literal = value[1:-1]
            if '"' in literal:  # packaging writes it back in double quotes
                raise _Fallback
            return ("str", literal)
        if kind == "word" and value in _VARIABLES:
            return ("var", value)
        raise _Fallback  # a legacy name (os.name, python_implementation) or a stray token


def _check_atoms(items: _Items) -> None:
    """Refuse what packaging normalises or reads differently across its releases."""
    for item in items:
        if isinstance(item, list):
            _check_atoms(item)
        elif isinstance(item, tuple):
            lhs, op, rhs = item
            var = lhs[1] if lhs[0] == "var" else rhs[1]
            literal = rhs[1] if lhs[0] == "var" else lhs[1]
            if op == "===":
                raise _Fallback
            if var == "extra":
                if op not in ("==", "!=") or literal != canonicalize_name(literal):
                    raise _Fallback
                try:
                    Specifier(f"{op}{literal}")
                except InvalidSpecifier:
                    continue
                raise _Fallback  # older packaging compares a version-like extra as a version
            elif var in _VERSION_VARIABLES:
                if op in ("in", "not in"):
                    continue
                try:
                    Specifier(f"{op}{literal}") if lhs[0] == "var" else Version(literal)
                except (InvalidSpecifier, InvalidVersion):
                    raise _Fallback from None
            else:
                if op not in ("==", "!=", "in", "not in"):
                    raise _Fallback
                if op in ("==", "!="):
                    try:
                        Specifier(f"{op}{literal}")
                    except InvalidSpecifier:
                        continue
                    raise _Fallback  # a version-like literal: older packaging compares it as a version


def _format(items: Any, first: bool = True) -> str:
    if isinstance(items, tuple):
        lhs, op, rhs = items
        return f"{_side_text(lhs)} {op} {_side_text(rhs)}"
    if isinstance(items, str):
        return items
    if len(items) == 1 and isinstance(items[0], (list, tuple)):
        return _format(items[0], first=first)
    inner = [_format(m, first=False) for m in items]
    return " ".join(inner) if first else "(" + " ".join(inner) + ")"


def _side_text(side: _Side) -> str:
    return side[1] if side[0] == "var" else f'"{side[1]}"'


class _NeedsPackaging(Exception):
    pass


def _compare(lhs: str, op: str, rhs: str, var: str) -> bool:
    if op == "in":
        return lhs in rhs
    if op == "not in":
        return lhs not in rhs
    if var in _VERSION_VARIABLES:
        try:
            Version(lhs)
            spec = Specifier(f"{op}{rhs}")
        except (InvalidVersion, InvalidSpecifier):
            raise _NeedsPackaging from None
        return spec.contains(lhs, prereleases=True)
    if op == "==":
        return lhs == rhs
    if op == "!=":
        return lhs != rhs
    raise _NeedsPackaging


def _evaluate(items: _Items, env: Mapping[str, str]) -> bool:
    groups: list[list[bool]] = [[]]
    for item in items:
        if isinstance(item, list):
            groups[-1].append(_evaluate(item, env))
        elif isinstance(item, tuple):
            lhs, op, rhs = item
            var = lhs[1] if lhs[0] == "var" else rhs[1]
            value = env.get(var)
            if not isinstance(value, str):
                raise _NeedsPackaging
            if var == "extra":
                value = canonicalize_name(value) if value else ""
            if var == "python_full_version" and value.endswith("+"):
                raise _NeedsPackaging
            left, right = (value, rhs[1]) if lhs[0] == "var" else (lhs[1], value)
            groups[-1].append(_compare(left, op, right, var))
        elif item == "or":
            groups.append([])
    return any(all(g) for g in groups)


def _parse_marker(text: str) -> _Items:
    """The marker in packaging's shape; ``_Fallback`` when it is outside the common form."""
    parser = _Parser(_tokens(text))
    items = parser.expression(0)
    if parser.i != len(parser.tokens):
        raise _Fallback
    _check_atoms(items)
    return items


class Marker:
    """An environment marker: :class:`packaging.markers.Marker`'s ``evaluate`` and ``str``."""

    __slots__ = ("_items", "_packaging", "_text")

    def __init__(self, text: str) -> None:
        self._packaging: PackagingMarker | None = None
        try:
            items = _parse_marker(text)
        except _Fallback:
            from packaging.markers import Marker as PackagingMarker

            self._packaging = PackagingMarker(text)
            self._items: _Items | None = None
            self._text = str(self._packaging)
            return
        self._items = items
        self._text = _format(items)

    @classmethod
    def _wrap(cls, marker: PackagingMarker) -> Marker:
        self = cls.__new__(cls)
        self._packaging, self._items, self._text = marker, None, str(marker)
        return self

    def evaluate(self, environment: Mapping[str, str] | None = None) -> bool:
        if self._items is not None and environment is not None:
            try:
                return _evaluate(self._items, environment)
            except _NeedsPackaging:
                pass
        if self._packaging is None:
            from packaging.markers import Marker as PackagingMarker

            self._packaging = PackagingMarker(self._text)
        return self._packaging.evaluate(dict(environment) if environment is not None else None)

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"<Marker('{self}')>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Marker):
            return self._text == other._text
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Marker, self._text))


class Requirement:
    """A PEP 508 requirement: :class:`packaging.requirements.Requirement`'s attributes and ``str``.

    Raises what packaging raises (``InvalidRequirement``, a ``ValueError``) for a string packaging refuses.
    """

    __slots__ = ("extras", "marker", "name", "specifier", "url")

    def __init__(self, text: str) -> None:
        self.url: str | None = None
        self.marker: Marker | None = None
        try:
            self._read(text)
        except (_Fallback, InvalidSpecifier):
            from packaging.requirements import Requirement as PackagingRequirement

            req = PackagingRequirement(text)
            self.name: str = req.name
            self.url = req.url
            self.extras: set[str] = set(req.extras)
            self.specifier: SpecifierSet = req.specifier
            self.marker = Marker._wrap(req.marker) if req.marker is not None else None

    def _read(self, text: str) -> None:
        left, semi, marker = text.partition(";")
        left = left.strip()
        if "@" in left or "\\" in left:
            raise _Fallback  # a direct reference
        m = re.match(_NAME, left)
        if m is None:
            raise _Fallback
        self.name = m.group(0)
        rest = left[m.end() :].lstrip()
        extras: set[str] = set()
        if rest.startswith("["):
            close = rest.find("]")
            if close < 0:
                raise _Fallback
            for item in rest[1:close].split(","):
                item = item.strip()
                if not item:
                    if rest[1:close].strip():
                        raise _Fallback
                    continue
                if re.fullmatch(_NAME, item) is None:
                    raise _Fallback
                extras.add(item)
            rest = rest[close + 1 :].lstrip()
        self.extras = extras
        if rest.startswith("(") and rest.endswith(")"):
            rest = rest[1:-1].strip()
        specs = []
        if rest:
            for item in rest.split(","):
                sm = re.fullmatch(_SPEC_ITEM, item.strip())
                if sm is None:
                    raise _Fallback
                specs.append(f"{sm.group(1)}{sm.group(2)}")
        self.specifier = SpecifierSet(",".join(specs))
        if semi:
            if not marker.strip():
                raise _Fallback
            # parsed here, not by Marker(): a marker packaging must read sends the whole requirement to it,
            # so its error names the requirement's column
            self.marker = Marker.__new__(Marker)
            self.marker._packaging, self.marker._items = None, _parse_marker(marker)
            self.marker._text = _format(self.marker._items)

    def __str__(self) -> str:
        if self.url:  # only packaging reads a URL, and its releases write one differently
            from packaging.markers import Marker as PackagingMarker
            from packaging.requirements import Requirement as PackagingRequirement

            req = PackagingRequirement.__new__(PackagingRequirement)
            req.name, req.url, req.extras, req.specifier = (
                self.name,
                self.url,
                set(self.extras),
                self.specifier,
            )
            req.marker = PackagingMarker(str(self.marker)) if self.marker is not None else None
            return str(req)
        parts = [self.name]
        if self.extras:
            parts.append(f"[{','.join(sorted(self.extras))}]")
        if self.specifier:
            parts.append(str(self.specifier))
        if self.marker:
            parts.append(f"; {self.marker}")
        return "".join(parts)

    def __repr__(self) -> str:
        return f"<Requirement('{self}')>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Requirement):
            return NotImplemented
        return (
            canonicalize_name(self.name) == canonicalize_name(other.name)
            and self.extras == other.extras
            and self.specifier == other.specifier
            and self.url == other.url
            and self.marker == other.marker
        )

    def __hash__(self) -> int:
        return hash(
            (canonicalize_name(self.name), frozenset(self.extras), self.specifier, self.url, self.marker)
        )
