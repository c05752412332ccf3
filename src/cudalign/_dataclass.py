"""``@dataclass`` for the value types, without compiling their methods at every start-up.

:func:`dataclasses.dataclass` writes each class's ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` and
frozen ``__setattr__``/``__delattr__`` as source text and compiles it when the module is imported:
about a millisecond per class, a fifth of a command's start-up over the value types on its path. The
same functions, written out once by ``scripts/gen_dataclasses.py``, live in
:mod:`cudalign._dataclass_gen`, which Python caches as bytecode like any module; :func:`dataclass` takes
them from there when the class is exactly the one they were generated for (same fields, kinds,
options), and otherwise hands the class to :func:`dataclasses.dataclass`, so a class edited since the
last generation stays correct, only slower. What comes out is a dataclass in every respect
(:func:`dataclasses.fields`, :func:`dataclasses.replace`, ``repr``, equality, hashing, frozenness,
``__match_args__``, pickling); ``tests/test_dataclass.py`` holds every class to the one
:func:`dataclasses.dataclass` makes of it, and holds the generated module up to date.

Supported by the fast path: ``slots=True`` classes, frozen or not, with ``order``; fields with a default
or a ``default_factory`` and ``repr``/``compare``/``hash`` flags. Anything else (``init=False``,
``kw_only``, ``ClassVar``/``InitVar``, a class defining the methods itself, dataclass bases) goes to
:func:`dataclasses.dataclass` as written.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type checkers see the standard decorator, which this one behaves as
    from dataclasses import dataclass as dataclass
    from dataclasses import field as field
else:
    field = dataclasses.field

__all__ = ["ORIGINALS", "SLOW", "dataclass", "field", "fingerprint"]

ORIGINALS: dict[str, tuple[type, dict[str, Any], dict[str, Any]]] = {}
"""Every class the decorator saw (``module.qualname`` -> the class, its namespace as written, its
options), for the generator and the tests: :func:`dataclasses.dataclass` adds methods to the class it
is given, the namespace stays as the class body left it."""
SLOW: list[str] = []
"""The classes that went to :func:`dataclasses.dataclass`: not (or no longer) in the generated module."""

_OPTIONS = frozenset({"frozen", "slots", "order"})
_OWN = (
    "__init__",
    "__repr__",
    "__eq__",
    "__hash__",
    "__setattr__",
    "__delattr__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__getstate__",
    "__setstate__",
    "__match_args__",
    "__slots__",
    "__post_init__",
)


class _FactorySentinel:
    """The default of a ``default_factory`` parameter, as :mod:`dataclasses` shows it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


_HAS_DEFAULT_FACTORY = getattr(dataclasses, "_HAS_DEFAULT_FACTORY", _FactorySentinel())
_FIELD = dataclasses._FIELD  # type: ignore[attr-defined]  # the kind every plain field has
_generated: dict[str, Any] | None = None


def _table() -> dict[str, Any]:
    global _generated
    if _generated is None:
        try:
            from cudalign._dataclass_gen import CLASSES
        except ImportError:  # pragma: no cover - the generated module is missing
            CLASSES = {}
        _generated = CLASSES
    return _generated


def fingerprint(
    cls: type, options: dict[str, Any], own: dict[str, Any] | None = None
) -> tuple[Any, ...] | None:
    """What the generated methods of ``cls`` depend on, or ``None`` when the fast path cannot make it.

    Per field: name, annotation, kind (required, default, factory), its ``repr``/``hash``/``compare``
    flags and, for a default, its ``repr`` (the generated docstring of a class without one shows it).
    """
    if set(options) - _OPTIONS or not options.get("slots"):
        return None
    own = dict(cls.__dict__) if own is None else own
    if any(name in own for name in _OWN) or any(hasattr(b, "__dataclass_fields__") for b in cls.__mro__[1:]):
        return None
    annotations = own.get("__annotations__", {})
    out: list[tuple[Any, ...]] = []
    for name, annotation in annotations.items():
        if not isinstance(annotation, str) or any(
            word in annotation for word in ("ClassVar", "InitVar", "KW_ONLY")
        ):
            return None
        default = own.get(name, dataclasses.MISSING)
        if isinstance(default, dataclasses.Field):
            f = default
            if not f.init or f.kw_only not in (dataclasses.MISSING, False) or f.metadata:
                return None
            if f.default_factory is not dataclasses.MISSING:
                kind, shown = "factory", None
            elif f.default is not dataclasses.MISSING:
                kind, shown = "default", f.default
            else:
                kind, shown = "required", None
            flags = (f.repr, f.hash, f.compare)
        elif default is dataclasses.MISSING:
            kind, shown, flags = "required", None, (True, None, True)
        else:
            kind, shown, flags = "default", default, (True, None, True)
        if kind == "default" and shown.__class__.__hash__ is None:
            return None  # a mutable default: dataclasses refuses it, let it say so
        out.append((name, annotation, kind, None if shown is None else repr(shown), *flags))
    return (bool(options.get("frozen")), bool(options.get("order")), tuple(out))


def _fields(cls: type, spec: tuple[Any, ...]) -> dict[str, dataclasses.Field[Any]]:
    own = cls.__dict__
    out: dict[str, dataclasses.Field[Any]] = {}
    for name, annotation, *_ in spec:
        default = own.get(name, dataclasses.MISSING)
        f: Any = default if isinstance(default, dataclasses.Field) else dataclasses.field(default=default)
        f.name = name
        f.type = annotation
        f._field_type = _FIELD
        if f.kw_only is dataclasses.MISSING:
            f.kw_only = False
        out[name] = f
    return out


def _params(frozen: bool, order: bool) -> Any:
    make = dataclasses._DataclassParams  # type: ignore[attr-defined]
    try:  # Python 3.12 and later
        return make(True, True, True, order, False, frozen, True, False, True, False)
    except TypeError:
        return make(True, True, True, order, False, frozen)


def _recursive_repr(fn: Any) -> Any:
    """``fn``, returning ``...`` for an object whose repr is already being made on this thread."""
    import _thread

    running: set[tuple[int, int]] = set()

    def __repr__(self: Any) -> str:
        key = id(self), _thread.get_ident()
        if key in running:
            return "..."
        running.add(key)
        try:
            return fn(self)  # type: ignore[no-any-return]
        finally:
            running.discard(key)

    __repr__.__wrapped__ = fn  # type: ignore[attr-defined]
    __repr__.__module__ = fn.__module__
    return __repr__


def _process(cls: type, options: dict[str, Any]) -> type:
    key = f"{cls.__module__}.{cls.__qualname__}"
    ORIGINALS[key] = (cls, dict(cls.__dict__), options)
    spec = fingerprint(cls, options)
    entry = _table().get(key) if spec is not None else None
    if spec is None or entry is None or entry[0] != spec:
        SLOW.append(key)
        return dataclasses.dataclass(cls, **options)
    _, build, doc = entry
    frozen, order, specs = spec
    fields = _fields(cls, specs)
    defaults = {
        n: f.default_factory if f.default is dataclasses.MISSING else f.default for n, f in fields.items()
    }
    methods = build(cls, defaults, _HAS_DEFAULT_FACTORY, dataclasses.FrozenInstanceError)
    methods["__repr__"] = _recursive_repr(methods["__repr__"])
    qualname = cls.__qualname__
    for fn in methods.values():
        fn.__qualname__ = f"{qualname}.{fn.__name__}"
        fn.__module__ = cls.__module__
    methods["__init__"].__annotations__ = {**{n: f.type for n, f in fields.items()}, "return": None}
    names = tuple(fields)
    namespace = dict(cls.__dict__)
    for name in names:
        namespace.pop(name, None)
    namespace.pop("__dict__", None)
    namespace.pop("__weakref__", None)
    namespace.update(methods)
    if not frozen:
        namespace["__hash__"] = None
    namespace["__dataclass_params__"] = _params(frozen, order)
    namespace["__dataclass_fields__"] = fields
    namespace["__match_args__"] = names
    if doc is not None and namespace.get("__doc__") is None:
        namespace["__doc__"] = doc
    inherited: set[str] = set()
    for base in cls.__mro__[1:-1]:
        slots = base.__dict__.get("__slots__", ())
        inherited.update((slots,) if isinstance(slots, str) else slots)
    namespace["__slots__"] = tuple(n for n in names if n not in inherited)
    new = type(cls)(cls.__name__, cls.__bases__, namespace)
    new.__qualname__ = qualname
    return new


if not TYPE_CHECKING:

    def dataclass(cls=None, /, **options):
        """:func:`dataclasses.dataclass`, with the methods of known classes taken ready-made."""

        def wrap(c):
            return _process(c, options)

        return wrap if cls is None else wrap(cls)
