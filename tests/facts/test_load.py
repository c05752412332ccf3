"""Loading the knowledge base: the shipped files load, and every kind of bad fact is one clear error line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cudalign.facts as facts_pkg
from cudalign.errors import InvalidFact
from cudalign.facts.schema import KINDS, parse_value
from cudalign.model import ComputeCapability

__all__: list[str] = []

GOOD_FEATURE = """
[[feature]]
id = "feature.x"
name = "x"
cc = ">=8.0"
source = "https://example.org/doc"
checked = 2026-11-22
"""


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(directory: Path) -> str:
    with pytest.raises(InvalidFact) as info:
        facts_pkg.load(directory)
    message = str(info.value)
    assert "\n" not in message, f"error spans several lines: {message!r}"
    return message


# ---- the shipped data ------------------------------------------------------------------------------


def test_shipped_knowledge_base_loads_every_kind() -> None:
    facts = facts_pkg.load()
    kinds = {f.kind for f in facts}
    assert kinds >= set(KINDS) - {"signature"}, f"kinds without facts: {set(KINDS) - kinds}"
    assert len(facts.of_kind("toolkit")) >= 55
    assert len(facts.of_kind("gpu")) >= 100


def test_shipped_facts_have_typed_values() -> None:
    facts = facts_pkg.load()
    h100 = facts.get("gpu.h100-sxm")
    assert h100["cc"] == ComputeCapability(9, 0)
    assert isinstance(h100.checked, dt.date)
    tk = facts.get("cuda.toolkit.12.4.1")
    assert str(tk["driver_linux"]) == "550.54.15"
    assert str(tk["driver_windows"]) == "551.78"


def test_a_good_file_loads(tmp_path: Path) -> None:
    _write(tmp_path, "a.toml", GOOD_FEATURE)
    facts = facts_pkg.load(tmp_path)
    fact = facts.get("feature.x")
    assert fact.file == "a.toml"
    assert fact["cc"].contains("8.6")
    assert not fact["cc"].contains("7.5")


# ---- one line per kind of error ---------------------------------------------------------------------


def test_unknown_key_names_file_fact_and_key(tmp_path: Path) -> None:
    _write(tmp_path, "a.toml", GOOD_FEATURE.replace('name = "x"', 'name = "x"\ncolour = "red"'))
    message = _error(tmp_path)
    assert "a.toml" in message and "feature.x" in message and "colour" in message


def test_unknown_kind_names_file_and_kind(tmp_path: Path) -> None:
    _write(tmp_path, "b.toml", GOOD_FEATURE.replace("[[feature]]", "[[widget]]"))
    message = _error(tmp_path)
    assert "b.toml" in message and "widget" in message


def test_missing_required_key_names_the_key(tmp_path: Path) -> None:
    _write(tmp_path, "c.toml", GOOD_FEATURE.replace('cc = ">=8.0"\n', ""))
    message = _error(tmp_path)
    assert "c.toml" in message and "feature.x" in message and "'cc'" in message


def test_missing_id_names_the_entry_by_position(tmp_path: Path) -> None:
    _write(tmp_path, "c.toml", GOOD_FEATURE.replace('id = "feature.x"\n', ""))
    message = _error(tmp_path)
    assert "c.toml" in message and "feature #1" in message and "'id'" in message


def test_missing_source_is_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "c.toml", GOOD_FEATURE.replace('source = "https://example.org/doc"\n', ""))
    assert "'source'" in _error(tmp_path)


def test_duplicate_id_across_files_names_both_files(tmp_path: Path) -> None:
    _write(tmp_path, "one.toml", GOOD_FEATURE)
    _write(tmp_path, "two.toml", GOOD_FEATURE)
    message = _error(tmp_path)
    assert "duplicate id" in message and "feature.x" in message
    assert "one.toml" in message and "two.toml" in message


def test_duplicate_id_in_one_file(tmp_path: Path) -> None:
    _write(tmp_path, "one.toml", GOOD_FEATURE + GOOD_FEATURE)
    message = _error(tmp_path)
    assert "duplicate id" in message and "one.toml" in message


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('cc = ">=8.0"', 'cc = ">=eight"', "cc"),  # specifier
        ("checked = 2026-11-22", 'checked = "22/11/2026"', "checked"),  # date
    ],
)
def test_unparseable_feature_values(tmp_path: Path, old: str, new: str, key: str) -> None:
    _write(tmp_path, "d.toml", GOOD_FEATURE.replace(old, new))
    message = _error(tmp_path)
    assert "d.toml" in message and "feature.x" in message and key in message and "cannot parse" in message


TOOLKIT = """
[[toolkit]]
id = "cuda.toolkit.x"
version = "{version}"
driver_linux = "{driver}"
source = "https://example.org/doc"
checked = 2026-11-22
"""


def test_unparseable_version(tmp_path: Path) -> None:
    _write(tmp_path, "e.toml", TOOLKIT.format(version="twelve", driver="550.54.15"))
    message = _error(tmp_path)
    assert "e.toml" in message and "cuda.toolkit.x" in message and "version" in message


def test_unparseable_driver_version(tmp_path: Path) -> None:
    _write(tmp_path, "e.toml", TOOLKIT.format(version="12.4.1", driver="550.x"))
    message = _error(tmp_path)
    assert "driver_linux" in message and "550.x" in message


def test_unparseable_compute_capability(tmp_path: Path) -> None:
    text = """
[[arch_support]]
id = "arch.bad"
cc = "sm_nine"
first_cuda = "11.8"
source = "https://example.org/doc"
checked = 2026-11-22
"""
    _write(tmp_path, "f.toml", text)
    message = _error(tmp_path)
    assert "f.toml" in message and "arch.bad" in message and "cc" in message


def test_unparseable_regex(tmp_path: Path) -> None:
    text = """
[[image_family]]
id = "image.bad"
repository = "x/y"
tag_pattern = "(?P<cuda>[0-9"
compat_libs = false
source = "https://example.org/doc"
checked = 2026-11-22
"""
    _write(tmp_path, "g.toml", text)
    message = _error(tmp_path)
    assert "g.toml" in message and "image.bad" in message and "tag_pattern" in message


def test_wrong_value_type(tmp_path: Path) -> None:
    text = """
[[driver_branch]]
id = "driver.bad"
branch = "five hundred"
designation = "PB"
source = "https://example.org/doc"
checked = 2026-11-22
"""
    _write(tmp_path, "h.toml", text)
    message = _error(tmp_path)
    assert "driver.bad" in message and "branch" in message and "int" in message


def test_list_of_cc_with_one_bad_member(tmp_path: Path) -> None:
    text = """
[[torch_build]]
id = "torch.build.bad"
versions = ">=2.9,<2.10"
variant = "cu128"
platform = "linux_x86_64"
archs = ["8.0", "nine"]
source = "https://example.org/doc"
checked = 2026-11-22
"""
    _write(tmp_path, "i.toml", text)
    message = _error(tmp_path)
    assert "torch.build.bad" in message and "archs" in message


def test_bad_toml_names_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path, "broken.toml", GOOD_FEATURE + "\nname = = 3\n")
    message = _error(tmp_path)
    assert "broken.toml" in message and "not valid TOML" in message and "line" in message


def test_kind_that_is_not_an_array_of_tables(tmp_path: Path) -> None:
    _write(tmp_path, "j.toml", '[feature]\nid = "feature.x"\n')
    message = _error(tmp_path)
    assert "j.toml" in message and "array of tables" in message


# ---- properties --------------------------------------------------------------------------------------

_TYPED = ["version", "specifier", "cc", "regex", "date", "int", "bool", "list[cc]", "table[str]"]


@settings(max_examples=150, deadline=None)
@given(
    type_=st.sampled_from(_TYPED),
    value=st.one_of(
        st.text(max_size=12), st.integers(), st.booleans(), st.lists(st.text(max_size=5), max_size=3)
    ),
)
def test_parse_value_fails_only_with_invalid_fact(type_: str, value: object) -> None:
    """Whatever a fact file holds, parsing either succeeds or raises the one error type the CLI reports."""
    try:
        parse_value(type_, value, where="x.toml: feature 'feature.x': key")
    except InvalidFact as exc:
        assert str(exc).startswith("x.toml: feature 'feature.x': key")
        assert "\n" not in str(exc)


@settings(max_examples=60, deadline=None)
@given(major=st.integers(0, 15), minor=st.integers(0, 9))
def test_cc_values_round_trip(major: int, minor: int) -> None:
    assert parse_value("cc", f"{major}.{minor}", where="w") == ComputeCapability(major, minor)


# ---- the pickled cache of the TOML facts ----------------------------------------------------------


def _cache_path() -> Path:
    from cudalign.facts import DATA_DIR, _cache_file

    path = _cache_file(sorted(DATA_DIR.glob("*.toml")))
    assert path is not None
    return path


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # truncated
        lambda b: b[:-40] + bytes(40),  # corrupt payload
        lambda b: b.replace(b"|", b"|0.0.0-other|", 1),  # written by another version
        lambda b: b"",  # empty
        lambda b: __import__("pickle").dumps(["not a fact"]),  # a bare pickle of something else
    ],
    ids=["truncated", "corrupt", "other-version", "empty", "foreign"],
)
def test_a_bad_facts_cache_is_ignored_and_rebuilt(damage: Any) -> None:
    from cudalign.facts import _read_cache, load

    first = load()
    cache = _cache_path()
    assert _read_cache(cache) is not None  # the first load wrote a cache that checks out
    cache.write_bytes(damage(cache.read_bytes()))
    assert _read_cache(cache) is None
    again = load()  # no traceback: the TOML files are read again
    assert [f.id for f in again] == [f.id for f in first]
    assert _read_cache(cache) is not None  # and the cache was rewritten
