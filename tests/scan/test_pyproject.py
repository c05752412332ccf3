"""pyproject.toml: dependencies, extras, groups, uv sources and indexes, with lines found in the text."""

from __future__ import annotations

from cudalign.scan.pyproject import parse_pyproject

TEXT = """\
[project]
name = "svc"
dependencies = [
    "torch==2.9.0+cu128",
    'vllm>=0.12',
]

[project.optional-dependencies]
audio = ["torchaudio==2.9.0"]

[dependency-groups]
dev = ["pytest==8.3.4", {include-group = "lint"}]
lint = ["ruff==0.9.0"]

[tool.uv.sources]
torch = [{ index = "pytorch-cu128", marker = "sys_platform == 'linux'" }]

[[tool.uv.index]]
name = "pytorch-cu128"
url = "https://download.pytorch.org/whl/cu128"
explicit = true

[[tool.uv.index]]
name = "internal"
url = "https://pypi.internal.example.com/simple"

[tool.uv.workspace]
members = ["packages/*"]
"""


def test_every_dependency_with_its_line() -> None:
    sf = parse_pyproject("pyproject.toml", TEXT)
    got = [(d.name, d.location.line) for d in sf.requirements]
    assert got == [("torch", 4), ("vllm", 5), ("torchaudio", 9), ("pytest", 12), ("ruff", 13)]


def test_uv_sources_map_packages_to_index_urls() -> None:
    sf = parse_pyproject("pyproject.toml", TEXT)
    got = [(i.kind, i.url, i.packages, i.location.line) for i in sf.indexes]
    assert ("uv-source", "https://download.pytorch.org/whl/cu128", ("torch",), 16) in got
    assert ("uv-index", "https://pypi.internal.example.com/simple", (), 25) in got
    # an explicit index serves only the packages sent to it
    assert not any(k == "uv-index" and "cu128" in u for k, u, _, _ in got)


def test_workspace_members() -> None:
    assert parse_pyproject("pyproject.toml", TEXT).workspace_members == ("packages/*",)


def test_bad_toml_is_a_problem_at_the_line_tomllib_names() -> None:
    sf = parse_pyproject("pyproject.toml", '[project]\nname = "x"\ndependencies = ["a",\n[tool]\n')
    assert len(sf.problems) == 1
    assert sf.problems[0].location.line == 4
    assert sf.problems[0].message.startswith("not valid TOML")


POETRY = """\
[project]
name = "asr"
dependencies = ["faster-whisper (>=1.1.1)"]

[project.optional-dependencies]
cpu = ["torch (==2.7.1)"]
cuda = ["torch (==2.7.1+cu126)"]

[[tool.poetry.source]]
name = "pytorch-cuda"
url = "https://download.pytorch.org/whl/cu126"
priority = "explicit"

[tool.poetry.dependencies]
torch = [
    { markers = "extra == 'cuda' and extra != 'cpu'", source = "pytorch-cuda" },
]
"""


def test_extras_and_poetry_sources() -> None:
    sf = parse_pyproject("pyproject.toml", POETRY)
    assert [(d.name, d.specifier, d.extra) for d in sf.requirements] == [
        ("faster-whisper", ">=1.1.1", None),
        ("torch", "==2.7.1", "cpu"),
        ("torch", "==2.7.1+cu126", "cuda"),
    ]
    assert [(i.kind, i.url, i.packages, i.extra) for i in sf.indexes] == [
        ("uv-source", "https://download.pytorch.org/whl/cu126", ("torch",), "cuda")
    ]


def test_the_same_requirement_in_two_extras_gets_both_lines() -> None:
    text = (
        '[project]\nname = "x"\n[project.optional-dependencies]\na = ["vllm==0.13.0"]\nb = ["vllm==0.13.0"]\n'
    )
    assert [d.location.line for d in parse_pyproject("pyproject.toml", text).requirements] == [4, 5]
