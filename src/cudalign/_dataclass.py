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

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type checkers see the standard functions, which these behave as
    from dataclasses import dataclass as dataclass
    from dataclasses import field as field
    from dataclasses import replace as replace

__all__ = ["ORIGINALS", "SLOW", "LazyField", "dataclass", "field", "field_names", "fingerprint", "replace"]

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


class _Missing:
    """No default given (:data:`dataclasses.MISSING` without importing :mod:`dataclasses`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


class _FactorySentinel:
    """The default of a ``default_factory`` parameter, as :mod:`dataclasses` shows it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


_HAS_DEFAULT_FACTORY = _FactorySentinel()
_generated: dict[str, Any] | None = None


class LazyField:
    """What :func:`field` returns in a class body: its arguments, made a :class:`dataclasses.Field` only
    when something asks for the class's fields (importing :mod:`dataclasses` costs about as much as the
    rest of a short command's own modules, and the value types' fast path never needs it)."""

    __slots__ = ("compare", "default", "default_factory", "hash", "init", "kw_only", "metadata", "repr")

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.default = kwargs.get("default", _MISSING)
        self.default_factory = kwargs.get("default_factory", _MISSING)
        self.init = kwargs.get("init", True)
        self.repr = kwargs.get("repr", True)
        self.hash = kwargs.get("hash")
        self.compare = kwargs.get("compare", True)
        self.metadata = kwargs.get("metadata")
        self.kw_only = kwargs.get("kw_only", _MISSING)

    def real(self) -> Any:
        """The :class:`dataclasses.Field` :func:`dataclasses.field` makes of the same arguments."""
        import dataclasses

        kwargs = {
            "init": self.init,
            "repr": self.repr,
            "hash": self.hash,
            "compare": self.compare,
            "metadata": self.metadata,
        }
        if self.default is not _MISSING:
            kwargs["default"] = self.default
        if self.default_factory is not _MISSING:
            kwargs["default_factory"] = self.default_factory
        if self.kw_only is not _MISSING:
            kwargs["kw_only"] = self.kw_only
        return dataclasses.field(**kwargs)


if not TYPE_CHECKING:

    def field(**kwargs):
        """:func:`dataclasses.field`, its :class:`~dataclasses.Field` made when the fields are asked for."""
        if kwargs.get("default", _MISSING) is not _MISSING and "default_factory" in kwargs:
            raise ValueError("cannot specify both default and default_factory")
        return LazyField(kwargs)


def _is_real_field(value: Any) -> bool:
    """``value`` is a :class:`dataclasses.Field` (then :mod:`dataclasses` is already imported)."""
    dc = sys.modules.get("dataclasses")
    return dc is not None and isinstance(value, dc.Field)


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
        default = own.get(name, _MISSING)
        if _is_real_field(default):
            return None  # made by dataclasses.field itself: let dataclasses handle it
        if isinstance(default, LazyField):
            f = default
            if not f.init or f.kw_only not in (_MISSING, False) or f.metadata:
                return None
            if f.default_factory is not _MISSING:
                kind, shown = "factory", None
            elif f.default is not _MISSING:
                kind, shown = "default", f.default
            else:
                kind, shown = "required", None
            flags = (f.repr, f.hash, f.compare)
        elif default is _MISSING:
            kind, shown, flags = "required", None, (True, None, True)
        else:
            kind, shown, flags = "default", default, (True, None, True)
        if kind == "default" and shown.__class__.__hash__ is None:
            return None  # a mutable default: dataclasses refuses it, let it say so
        out.append((name, annotation, kind, None if shown is None else repr(shown), *flags))
    return (bool(options.get("frozen")), bool(options.get("order")), tuple(out))


def _real_fields(own: dict[str, Any], spec: tuple[Any, ...]) -> dict[str, Any]:
    """The :class:`dataclasses.Field` objects :func:`dataclasses.dataclass` would have made."""
    import dataclasses

    out: dict[str, Any] = {}
    for name, annotation, *_ in spec:
        default = own.get(name, _MISSING)
        if isinstance(default, LazyField):
            f = default.real()
        elif default is _MISSING:
            f = dataclasses.field()
        else:
            f = dataclasses.field(default=default)
        f.name = name
        f.type = annotation
        f._field_type = dataclasses._FIELD  # type: ignore[attr-defined]  # the kind every plain field has
        if f.kw_only is dataclasses.MISSING:
            f.kw_only = False
        out[name] = f
    return out


def _params(frozen: bool, order: bool) -> Any:
    import dataclasses

    make = dataclasses._DataclassParams  # type: ignore[attr-defined]
    try:  # Python 3.12 and later
        return make(True, True, True, order, False, frozen, True, False, True, False)
    except TypeError:
        return make(True, True, True, order, False, frozen)


class _Lazy:
    """A class attribute (``__dataclass_fields__``, ``__dataclass_params__``) made on first access and
    then stored on the class in its place."""

    __slots__ = ("make", "name", "owner")

    def __init__(self, name: str, make: Any) -> None:
        self.name = name
        self.make = make
        self.owner: type | None = None

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        value = self.make()
        assert self.owner is not None
        type.__setattr__(self.owner, self.name, value)
        return value


def _frozen_error(message: str) -> BaseException:
    """:class:`dataclasses.FrozenInstanceError`, imported when one is raised."""
    from dataclasses import FrozenInstanceError

    return FrozenInstanceError(message)


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


_FAST_NAMES = "__cudalign_fields__"
"""The field names of a class the fast path made (what :func:`replace` and :func:`field_names` read)."""


def _slow(cls: type, options: dict[str, Any]) -> type:
    import dataclasses

    for name, value in list(cls.__dict__.items()):
        if isinstance(value, LazyField):
            setattr(cls, name, value.real())
    return dataclasses.dataclass(cls, **options)


def _process(cls: type, options: dict[str, Any]) -> type:
    key = f"{cls.__module__}.{cls.__qualname__}"
    own = dict(cls.__dict__)
    ORIGINALS[key] = (cls, own, options)
    spec = fingerprint(cls, options)
    entry = _table().get(key) if spec is not None else None
    if spec is None or entry is None or entry[0] != spec:
        SLOW.append(key)
        return _slow(cls, options)
    _, build, doc = entry
    frozen, order, specs = spec
    defaults: dict[str, Any] = {}
    for name, _annotation, kind, *_ in specs:
        value = own.get(name, _MISSING)
        if isinstance(value, LazyField):
            value = value.default_factory if kind == "factory" else value.default
        defaults[name] = value
    methods = build(cls, defaults, _HAS_DEFAULT_FACTORY, _frozen_error)
    methods["__repr__"] = _recursive_repr(methods["__repr__"])
    qualname = cls.__qualname__
    for fn in methods.values():
        fn.__qualname__ = f"{qualname}.{fn.__name__}"
        fn.__module__ = cls.__module__
    methods["__init__"].__annotations__ = {**{s[0]: s[1] for s in specs}, "return": None}
    names = tuple(s[0] for s in specs)
    namespace = dict(cls.__dict__)
    for name in names:
        namespace.pop(name, None)
    namespace.pop("__dict__", None)
    namespace.pop("__weakref__", None)
    namespace.update(methods)
    if not frozen:
        namespace["__hash__"] = None
    lazy_params = _Lazy("__dataclass_params__", lambda: _params(frozen, order))
    lazy_fields = _Lazy("__dataclass_fields__", lambda: _real_fields(own, specs))
    namespace["__dataclass_params__"] = lazy_params
    namespace["__dataclass_fields__"] = lazy_fields
    namespace[_FAST_NAMES] = names
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
    lazy_params.owner = lazy_fields.owner = new
    return new


def field_names(obj: Any) -> tuple[str, ...] | None:
    """The field names of a dataclass or an instance of one, in order (``None`` for anything else);
    for a value type the fast path made, without importing :mod:`dataclasses`."""
    cls = obj if isinstance(obj, type) else type(obj)
    names = cls.__dict__.get(_FAST_NAMES)
    if names is not None:
        return names  # type: ignore[no-any-return]
    if not hasattr(cls, "__dataclass_fields__"):
        return None
    import dataclasses

    return tuple(f.name for f in dataclasses.fields(cls))


if not TYPE_CHECKING:

    def dataclass(cls=None, /, **options):
        """:func:`dataclasses.dataclass`, with the methods of known classes taken ready-made."""

        def wrap(c):
            return _process(c, options)

        return wrap if cls is None else wrap(cls)

    def replace(obj, /, **changes):
        """:func:`dataclasses.replace`; for a value type the fast path made, without :mod:`dataclasses`
        (all its fields are ``init`` fields, so it is the class called with the old values and the new)."""
        names = type(obj).__dict__.get(_FAST_NAMES)
        if names is None:
            import dataclasses

            return dataclasses.replace(obj, **changes)
        for name in names:
            if name not in changes:
                changes[name] = getattr(obj, name)
        return obj.__class__(**changes)
