"""The facts' pickle stores equal immutable values once, and loads the same facts as the TOML files."""

from __future__ import annotations

from packaging.version import Version

from cudalign.facts import DATA_DIR, _cache_file, _read_cache, _shared, _write_cache, load_file
from cudalign.model import ComputeCapability


def test_equal_values_are_one_object_but_different_spellings_stay_apart() -> None:
    seen: dict[tuple[type, str], object] = {}
    a = _shared({"cc": [ComputeCapability(8, 0)], "v": Version("12.8")}, seen)
    b = _shared({"cc": (ComputeCapability(8, 0),), "v": Version("12.8.0"), "w": Version("12.8")}, seen)
    assert a["cc"][0] is b["cc"][0]
    assert b["w"] is a["v"] and b["v"] is not a["v"] and str(b["v"]) == "12.8.0"
    assert isinstance(b["cc"], tuple) and isinstance(a["cc"], list)


def test_the_cache_loads_what_the_files_say() -> None:
    paths = sorted(DATA_DIR.glob("*.toml"))
    fresh = [f for p in paths for f in load_file(p)]
    cache = _cache_file(paths)
    assert cache is not None
    _write_cache(cache, fresh)
    cached = _read_cache(cache)
    assert cached == fresh
    ccs = [v for f in cached for v in f.values.get("archs", ()) if isinstance(v, ComputeCapability)]
    assert len(ccs) > len({id(c) for c in ccs})  # shared, not one object per mention


def test_the_cache_digest_is_sha256() -> None:
    import hashlib

    from cudalign.facts.digest import sha256

    for data in (b"", b"cudalign", bytes(range(256)) * 1000):
        assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    h = sha256(b"a")
    h.update(b"b")
    assert h.digest() == hashlib.sha256(b"ab").digest()
