"""Lock files: every locked package with version, registry and line."""

from __future__ import annotations

from cudalign.scan.lock import parse_pylock, parse_uv_lock

UV_LOCK = """\
version = 1

[[package]]
name = "torch"
version = "2.9.0+cu128"
source = { registry = "https://download.pytorch.org/whl/cu128" }

[[package]]
name = "vllm"
version = "0.13.0"
source = { registry = "https://pypi.org/simple" }
"""

PYLOCK = """\
lock-version = "1.0"
created-by = "uv"

[[packages]]
name = "torch"
version = "2.9.0"
index = "https://pypi.org/simple"
"""


def test_uv_lock_packages() -> None:
    sf = parse_uv_lock("uv.lock", UV_LOCK)
    got = [(d.name, d.pinned_version, d.index_url, d.location.line, d.locked) for d in sf.requirements]
    assert got == [
        ("torch", "2.9.0+cu128", "https://download.pytorch.org/whl/cu128", 4, True),
        ("vllm", "0.13.0", "https://pypi.org/simple", 9, True),
    ]


def test_pylock_packages() -> None:
    sf = parse_pylock("pylock.toml", PYLOCK)
    assert [(d.name, d.pinned_version, d.location.line) for d in sf.requirements] == [("torch", "2.9.0", 5)]


def test_broken_lock_is_a_problem() -> None:
    sf = parse_uv_lock("uv.lock", "[[package]\nname = 1\n")
    assert sf.requirements == () and sf.problems[0].location.line == 1


POETRY_LOCK = """\
[[package]]
name = "torch"
version = "2.7.1+cu126"
optional = false

[package.source]
type = "legacy"
url = "https://download.pytorch.org/whl/cu126"
reference = "pytorch-cuda"
"""


def test_poetry_lock_packages() -> None:
    from cudalign.scan.lock import parse_poetry_lock

    sf = parse_poetry_lock("poetry.lock", POETRY_LOCK)
    assert [(d.name, d.pinned_version, d.index_url, d.location.line) for d in sf.requirements] == [
        ("torch", "2.7.1+cu126", "https://download.pytorch.org/whl/cu126", 2)
    ]
