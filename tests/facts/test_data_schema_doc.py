"""docs/facts-schema.md documents every kind of fact and every key that facts/schema.py defines."""

from __future__ import annotations

import re
from pathlib import Path

from cudalign.facts.schema import COMMON, KINDS, Field

__all__: list[str] = []

DOC = Path(__file__).resolve().parents[2] / "docs" / "facts-schema.md"


def _sections() -> dict[str, set[str]]:
    sections: dict[str, set[str]] = {}
    current = "common"
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^## `\[\[(\w+)\]\]`", line)
        if heading:
            current = heading.group(1)
            continue
        row = re.match(r"^\| `(\w+)` \| ([^|]+) \| (yes|no) \|", line)
        if row:
            sections.setdefault(current, set()).add(f"{row.group(1)}:{row.group(2).strip()}:{row.group(3)}")
    return sections


def _expected(fields: dict[str, Field]) -> set[str]:
    return {f"{k}:{f.type}:{'yes' if f.required else 'no'}" for k, f in fields.items()}


def test_every_kind_has_a_section_with_every_key_type_and_requiredness() -> None:
    sections = _sections()
    assert sections.get("common") == _expected(dict(COMMON))
    for kind, fields in KINDS.items():
        assert sections.get(kind) == _expected(dict(fields)), f"facts-schema.md is out of date: [[{kind}]]"


def test_the_doc_names_no_kind_the_schema_lacks() -> None:
    assert set(_sections()) - {"common"} <= set(KINDS)
