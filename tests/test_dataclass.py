"""The value types' ready-made methods (cudalign._dataclass): as dataclasses.dataclass's, and current.

Every class the decorator saw is compared with what :func:`dataclasses.dataclass` makes of the same
class body: its fields, signature, docstring, ``repr``, equality, hash, order, frozenness, slots,
``__match_args__``, pickling, copying, :func:`dataclasses.replace` and :func:`dataclasses.asdict`.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import inspect
import pickle
import sys
from pathlib import Path
from typing import Any

import pytest

from cudalign import _dataclass

ROOT = Path(__file__).resolve().parents[1]


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_dataclasses", ROOT / "scripts" / "gen_dataclasses.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_dataclasses"] = module
    spec.loader.exec_module(module)
    return module


GEN = _generator()
GEN.import_all()
KEYS = sorted(_dataclass.ORIGINALS)


def test_the_generated_module_is_current() -> None:
    assert GEN.TARGET.read_text(encoding="utf-8") == GEN.render(), "run scripts/gen_dataclasses.py"


def test_every_class_takes_the_fast_path() -> None:
    assert len(KEYS) >= 18
    slow = [k for k in _dataclass.SLOW if _dataclass.fingerprint(*_dataclass.ORIGINALS[k]) is not None]
    assert slow == [], "run scripts/gen_dataclasses.py"


def _final(key: str) -> type:
    module, _, qualname = key.rpartition(".")
    while module not in sys.modules:  # a nested class: module.Outer.Inner
        module, _, outer = module.rpartition(".")
        qualname = f"{outer}.{qualname}"
    obj: Any = sys.modules[module]
    for part in qualname.split("."):
        obj = getattr(obj, part)
    assert isinstance(obj, type)
    return obj


def _values(cls: type, salt: str) -> dict[str, Any]:
    """A distinct, hashable value for every field (a dataclass does not check types)."""
    return {f.name: f"{salt}-{f.name}" for f in dataclasses.fields(cls)}


def _required(cls: type) -> dict[str, Any]:
    return {
        f.name: f"r-{f.name}"
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }


def _field_view(f: dataclasses.Field[Any]) -> tuple[Any, ...]:
    return (
        f.name,
        f.type,
        f.default,
        f.default_factory,
        f.init,
        f.repr,
        f.hash,
        f.compare,
        dict(f.metadata),
        f.kw_only,
        f._field_type,  # type: ignore[attr-defined]
    )


@pytest.mark.parametrize("key", KEYS)
def test_a_class_behaves_as_the_standard_dataclass(key: str) -> None:
    cls, own, options = _dataclass.ORIGINALS[key]
    fast: Any = _final(key)
    ref: Any = GEN.reference(cls, own, options)
    made_by_dataclasses = dataclasses.is_dataclass(fast)
    assert made_by_dataclasses
    assert [_field_view(f) for f in dataclasses.fields(fast)] == [
        _field_view(f) for f in dataclasses.fields(ref)
    ]
    assert repr(fast.__dataclass_params__) == repr(ref.__dataclass_params__)
    assert str(inspect.signature(fast)) == str(inspect.signature(ref))
    assert fast.__init__.__annotations__ == ref.__init__.__annotations__
    assert fast.__doc__ == ref.__doc__
    assert fast.__match_args__ == ref.__match_args__
    assert fast.__slots__ == ref.__slots__
    assert fast.__qualname__ == ref.__qualname__ and fast.__module__ == ref.__module__
    for name in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__", "__lt__"):
        f: Any = getattr(fast, name, None)
        r: Any = getattr(ref, name, None)
        assert (f is None) == (r is None), name
        if f is not None and f is not object.__dict__.get(name):
            assert f.__qualname__ == r.__qualname__, name
            assert f.__module__ == r.__module__, name
    assert (fast.__hash__ is None) == (ref.__hash__ is None)

    for kwargs in (_values(fast, "a"), _required(fast)):
        a: Any = fast(**kwargs)
        b: Any = ref(**kwargs)
        assert repr(a) == repr(b)
        assert a == fast(**kwargs) and a != b  # equal by value; another class is another thing
        assert dataclasses.asdict(a) == dataclasses.asdict(b)
        assert dataclasses.astuple(a) == dataclasses.astuple(b)
        assert dataclasses.replace(a) == a and type(dataclasses.replace(a)) is fast
        assert not hasattr(a, "__dict__")
        if ref.__hash__ is not None:
            try:
                expected: Any = hash(b)
            except TypeError as exc:
                expected = str(exc)
            try:
                got: Any = hash(a)
            except TypeError as exc:
                got = str(exc)
            assert got == expected
        if options.get("frozen"):
            name = dataclasses.fields(fast)[0].name if dataclasses.fields(fast) else "x"
            for obj in (a, b):
                with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field"):
                    setattr(obj, name, 1)
                with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field"):
                    delattr(obj, name)
            errors = []
            for obj in (a, b):
                try:
                    obj.not_a_field = 1
                except Exception as exc:  # whatever the standard one raises, the same
                    errors.append(type(exc))
            assert errors[0] is errors[1]
            assert a.__getstate__() == b.__getstate__()
            assert pickle.loads(pickle.dumps(a)) == a
        else:
            first = dataclasses.fields(fast)[0].name
            setattr(a, first, "changed")
            setattr(b, first, "changed")
            assert repr(a) == repr(b)
        assert copy.copy(a) == a and copy.deepcopy(a) == a
    if fast.__dataclass_fields__:
        first = dataclasses.fields(fast)[0].name
        lo: Any
        hi: Any
        lo, hi = fast(**{**_values(fast, "a"), first: "a"}), fast(**{**_values(fast, "a"), first: "b"})
        assert lo != hi
        if options.get("order"):
            assert lo < hi and lo <= hi and hi > lo and hi >= lo and not hi < lo
    with pytest.raises(TypeError) as got_error:
        fast(**{**_values(fast, "a"), "not_a_field": 1})
    with pytest.raises(TypeError) as ref_error:
        ref(**{**_values(ref, "a"), "not_a_field": 1})
    assert str(got_error.value) == str(ref_error.value)
    if _required(fast):
        with pytest.raises(TypeError) as got_error:
            fast()
        with pytest.raises(TypeError) as ref_error:
            ref()
        assert str(got_error.value) == str(ref_error.value)


def test_a_changed_class_still_works_through_the_standard_decorator() -> None:
    """A class edited since the generation (here: one not generated at all) is an ordinary dataclass."""

    @_dataclass.dataclass(frozen=True, slots=True)
    class Edited:
        """A class the generated module does not know."""

        a: int
        b: str = "x"

    key = f"{Edited.__module__}.{Edited.__qualname__}"
    assert key in _dataclass.SLOW
    assert Edited(1) == Edited(1, "x") and repr(Edited(1)) == f"{Edited.__qualname__}(a=1, b='x')"
    with pytest.raises(dataclasses.FrozenInstanceError):
        Edited(1).a = 2  # type: ignore[misc]
    del _dataclass.ORIGINALS[key]
    _dataclass.SLOW.remove(key)


def test_the_value_types_do_not_compile_code_at_import() -> None:
    """Importing the model compiles none of its methods (``dataclasses`` would exec ~100 of them)."""
    import subprocess

    code = (
        "import builtins, dataclasses, sys\n"
        "calls = []\n"
        "real = builtins.exec\n"
        "def spy(*a, **k):\n"
        "    calls.append(a[0] if isinstance(a[0], str) else '')\n"
        "    return real(*a, **k)\n"
        "builtins.exec = spy\n"
        "import cudalign.model\n"
        "builtins.exec = real\n"
        "print(sum(1 for c in calls if c.lstrip().startswith('def ')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
