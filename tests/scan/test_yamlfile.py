"""Safe YAML with lines: what the loader accepts, refuses and remembers."""

from __future__ import annotations

from cudalign.scan.yamlfile import LineDict, LineList, line_of, load_all


def test_lines_of_keys_and_items() -> None:
    docs, problem = load_all("f.yaml", "a: 1\nb:\n  - x\n  - y: 2\n---\nc: 3\n")
    assert problem is None and len(docs) == 2
    first = docs[0]
    assert isinstance(first, LineDict) and line_of(first, "b") == 2
    items = first["b"]
    assert isinstance(items, LineList) and items.item_lines == [3, 4]
    assert line_of(items[1], "y") == 4


def test_merge_keys_and_local_tags() -> None:
    docs, problem = load_all(
        "f.yaml", "base: &b {x: 1}\nuse:\n  <<: *b\n  y: !reset null\n  z: !override [1]\n"
    )
    assert problem is None
    assert dict(docs[0]["use"]) == {"x": 1, "y": "null", "z": [1]}


def test_python_tags_and_recursion_are_problems_not_crashes() -> None:
    for text in ("a: !!python/name:os.system\n", "a: &x [*x]\n"):
        _, problem = load_all("f.yaml", text)
        assert problem is not None and problem.message.startswith("not valid YAML")
    _, problem = load_all("f.yaml", "[" * 5000)
    assert problem is not None and problem.message.startswith("not read: collections nested more than")
