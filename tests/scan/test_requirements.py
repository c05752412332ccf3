"""Requirements files: pip's grammar, each declaration with its line."""

from __future__ import annotations

from cudalign.scan.requirements import logical_lines, parse_requirements

TEXT = """\
# inference image
--index-url https://pypi.org/simple
--extra-index-url=https://download.pytorch.org/whl/cu128
-f https://data.example.com/wheels/
-r base.txt
--constraint constraints.txt
torch==2.9.0+cu128 \\
    --hash=sha256:0123abcd \\
    --hash=sha256:4567ef01
vllm>=0.12 ; python_version < "3.13"  # newest that supports 3.12
flash-attn @ https://example.com/flash_attn-2.7.4-cp312-linux_x86_64.whl#egg=flash-attn
-e ./libs/common
./vendored/pkg
numpy=1.26.4
"""


def test_declarations_carry_their_first_line() -> None:
    sf = parse_requirements("r.txt", TEXT)
    got = {d.name: (d.specifier, d.location.line) for d in sf.requirements}
    assert got == {"torch": ("==2.9.0+cu128", 7), "vllm": (">=0.12", 10), "flash-attn": ("", 11)}


def test_markers_urls_and_pins() -> None:
    sf = parse_requirements("r.txt", TEXT)
    by = {d.name: d for d in sf.requirements}
    assert by["vllm"].marker == 'python_version < "3.13"'
    assert by["flash-attn"].url is not None and by["flash-attn"].url.endswith("#egg=flash-attn")
    assert by["torch"].pinned_version == "2.9.0+cu128"
    assert by["vllm"].pinned_version is None


def test_indexes_and_includes() -> None:
    sf = parse_requirements("r.txt", TEXT)
    assert [(i.kind, i.url, i.location.line) for i in sf.indexes] == [
        ("index-url", "https://pypi.org/simple", 2),
        ("extra-index-url", "https://download.pytorch.org/whl/cu128", 3),
        ("find-links", "https://data.example.com/wheels/", 4),
    ]
    assert [(i.kind, i.path, i.location.line) for i in sf.includes] == [
        ("requirement", "base.txt", 5),
        ("constraint", "constraints.txt", 6),
    ]


def test_bad_line_is_a_problem_at_its_line() -> None:
    sf = parse_requirements("r.txt", TEXT)
    assert [(p.location.line, "numpy=1.26.4" in p.message) for p in sf.problems] == [(14, True)]


def test_no_index_and_option_without_value() -> None:
    sf = parse_requirements("r.txt", "--no-index\n--find-links\n")
    assert sf.no_index
    assert [p.location.line for p in sf.problems] == [2]


def test_hash_in_url_fragment_is_not_a_comment() -> None:
    lines = list(logical_lines("pkg @ https://x/y.whl#sha256=ab  # real comment\n"))
    assert lines == [(1, "pkg @ https://x/y.whl#sha256=ab")]


def test_pinned_version_rejects_wildcards_and_ranges() -> None:
    sf = parse_requirements("r.txt", "torch==2.9.*\nvllm==0.13.0,<1\nxformers===0.0.28\n")
    assert [d.pinned_version for d in sf.requirements] == [None, None, "0.0.28"]
