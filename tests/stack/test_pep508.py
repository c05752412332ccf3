"""cudalign._pep508 reads a requirement exactly as packaging does: validity, name, extras, specifiers, marker
text, ``str``, and every marker's value in every environment, over each requirement line of the snapshot
and over generated ones (malformed, legacy and URL forms included, which it hands to packaging)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.markers import Marker as PackagingMarker
from packaging.requirements import Requirement as PackagingRequirement
from packaging.utils import canonicalize_name as packaging_canonicalize_name

from cudalign import _pep508
from cudalign._pep508 import Marker, Requirement, canonicalize_name
from cudalign.facts import load


def _env(
    python: str, machine: str, sys_platform: str, system: str, os_name: str, extra: str
) -> dict[str, str]:
    return {
        "python_version": ".".join(python.split(".")[:2]),
        "python_full_version": python,
        "sys_platform": sys_platform,
        "platform_system": system,
        "platform_machine": machine,
        "os_name": os_name,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": extra,
    }


ENVS = [
    _env(python, *where, extra)
    for python in ("3.8", "3.10", "3.12", "3.13.1")
    for where in (
        ("x86_64", "linux", "Linux", "posix"),
        ("aarch64", "linux", "Linux", "posix"),
        ("AMD64", "win32", "Windows", "nt"),
        ("arm64", "darwin", "Darwin", "posix"),
    )
    for extra in ("", "dev", "Test_X")
]


def _outcome(f: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return ("ok", f())
    except Exception as exc:  # the type is what must agree
        return ("error", type(exc).__name__)


def _view(req: Any) -> tuple[Any, ...]:
    return (
        req.name,
        req.url,
        sorted(req.extras),
        str(req.specifier),
        req.specifier,
        str(req.marker) if req.marker is not None else None,
        str(req),
    )


def _error_text(f: Callable[[], Any]) -> str | None:
    try:
        f()
    except Exception as exc:
        return str(exc)
    return None


def _same(line: str, envs: list[dict[str, str]]) -> None:
    ours, theirs = _outcome(lambda: Requirement(line)), _outcome(lambda: PackagingRequirement(line))
    assert ours[0] == theirs[0], (line, ours, theirs)
    if ours[0] == "error":  # the same words, so the user's error points at the same column
        assert _error_text(lambda: Requirement(line)) == _error_text(lambda: PackagingRequirement(line))
        return
    assert _view(ours[1]) == _view(theirs[1]), line
    if theirs[1].marker is None:
        return
    for env in envs:
        got = _outcome(lambda env=env: ours[1].marker.evaluate(dict(env)))  # type: ignore[misc]
        want = _outcome(lambda env=env: theirs[1].marker.evaluate(dict(env)))  # type: ignore[misc]
        assert got == want, (line, env)


def _snapshot_lines() -> list[str]:
    snap = load().snapshot
    lines: set[str] = set()
    for name in snap.packages:
        for release in snap.releases(name).values():
            for record in release.metadata.values():
                lines.update(record.requires_dist)
    return sorted(lines)


def test_every_requirement_line_of_the_snapshot_reads_as_packaging_reads_it() -> None:
    lines = _snapshot_lines()
    assert len(lines) > 1000
    fast = 0
    for line in lines:
        _same(line, ENVS)
        marker = Requirement(line).marker
        fast += marker is not None and marker._items is not None
    assert fast > 500  # most markers are evaluated without packaging, so the comparison is not vacuous


NAMES = st.sampled_from(["torch", "vllm", "Foo_Bar", "a", "x.y-z", "nvidia-cudnn-cu12", "foo-", "_x", "9"])
EXTRAS = st.lists(st.sampled_from(["cuda", "Dev_Tools", "a.b", "", " x ", "bad!"]), max_size=3)
OPS = st.sampled_from(["==", "!=", ">=", "<=", "<", ">", "~=", "===", " == ", "=", "in", "not in"])
VERSIONS = st.sampled_from(["2.9.0", "2.*", "1", "0.13.0+cu129", "1.0.0rc1", "x86_64", "", "1.0.*.0", "3.10"])
VARIABLES = st.sampled_from(
    [
        "python_version",
        "python_full_version",
        "sys_platform",
        "platform_system",
        "platform_machine",
        "platform_release",
        "platform_version",
        "os_name",
        "os.name",
        "extra",
        "implementation_name",
        "python_implementation",
        "unknown_name",
    ]
)
LITERALS = st.sampled_from(
    [
        "3.8",
        "3.12",
        "linux",
        "Linux",
        "x86_64",
        "win32",
        "AMD64",
        "dev",
        "Test_X",
        "test-x",
        "1",
        "'",
        "3.*",
        "",
    ]
)


@st.composite
def _atoms(draw: st.DrawFn) -> str:
    var, op, literal = (
        draw(VARIABLES),
        draw(st.sampled_from(["==", "!=", "<", ">=", "~=", "in", "not in", "==="])),
        draw(LITERALS),
    )
    quote = "'" if '"' not in literal and draw(st.booleans()) else '"'
    value = f"{quote}{literal}{quote}"
    return f"{value} {op} {var}" if draw(st.booleans()) else f"{var} {op} {value}"


MARKERS = st.recursive(
    _atoms(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" and ", " or ", "and", " AND "]), inner).map("".join),
        inner.map(lambda m: f"({m})"),
    ),
    max_leaves=5,
)


@st.composite
def _requirements(draw: st.DrawFn) -> str:
    text = draw(NAMES)
    if draw(st.booleans()):
        text += "[" + ",".join(draw(EXTRAS)) + "]"
    specs = [f"{draw(OPS)}{draw(VERSIONS)}" for _ in range(draw(st.integers(0, 3)))]
    spec = ",".join(specs)
    if spec and draw(st.booleans()):
        spec = f"({spec})"
    text += draw(st.sampled_from(["", " ", "  "])) + spec
    if draw(st.booleans()):
        text += " @ https://example.invalid/torch-2.9.0-cp312-cp312-linux_x86_64.whl"
    if draw(st.booleans()):
        text += draw(st.sampled_from(["; ", ";", " ; "])) + draw(MARKERS)
    return text


@settings(max_examples=400, deadline=None)
@given(_requirements())
def test_generated_requirements_read_as_packaging_reads_them(line: str) -> None:
    _same(line, ENVS[::5])


@settings(max_examples=300, deadline=None)
@given(MARKERS)
def test_generated_markers_evaluate_as_packagings(text: str) -> None:
    ours, theirs = _outcome(lambda: Marker(text)), _outcome(lambda: PackagingMarker(text))
    assert ours[0] == theirs[0], (text, ours, theirs)
    if ours[0] == "ok":
        assert str(ours[1]) == str(theirs[1])
        for env in ENVS[::3]:
            got = _outcome(lambda env=env: ours[1].evaluate(dict(env)))  # type: ignore[misc]
            want = _outcome(lambda env=env: theirs[1].evaluate(dict(env)))  # type: ignore[misc]
            assert got == want, (text, env)


@pytest.mark.parametrize("name", ["Foo_Bar", "a..b__c", "X-Y.z", "torch", "A---B", "nvidia.cudnn_cu12"])
def test_canonical_names_are_packagings(name: str) -> None:
    assert canonicalize_name(name) == packaging_canonicalize_name(name)


def test_a_marker_variable_the_environment_lacks_is_read_by_packaging() -> None:
    """packaging fills it from the running interpreter; the fast path hands it over rather than guess."""
    marker = Marker('platform_release >= "1"')
    assert marker._items is not None
    env = {k: v for k, v in ENVS[0].items() if k != "platform_release"}
    theirs = PackagingMarker('platform_release >= "1"')
    # packaging reads this machine's kernel release (older packaging refuses one that is no version)
    assert _outcome(lambda: marker.evaluate(env)) == _outcome(lambda: theirs.evaluate(env))


def test_a_malformed_requirement_raises_packagings_error() -> None:
    with pytest.raises(ValueError) as ours:
        Requirement("torch==")
    with pytest.raises(ValueError) as theirs:
        PackagingRequirement("torch==")
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(
    "text",
    [
        "x" * 200_000 + "==1",
        "torch" + " " * 200_000 + "x",
        "a; " + "(" * 50 + 'os_name == "nt"',
        "a; " + " " * 200_000,
    ],
)
def test_parsing_runs_in_time_linear_in_the_input(text: str) -> None:
    """A long line takes about as long as reading it, not its square (measured against a plain scan)."""
    start = time.perf_counter()
    for _ in range(5):
        text.count("=") + text.count(";")
    plain = time.perf_counter() - start
    start = time.perf_counter()
    _outcome(lambda: Requirement(text))
    took = time.perf_counter() - start
    assert took < max(plain * 2000, 0.5)


def test_the_engine_modules_take_requirements_from_here() -> None:
    """The hot path's modules use this parser (the startup test checks what they import)."""
    import importlib

    modules = [importlib.import_module(f"cudalign.stack.{m}") for m in ("releases", "request", "resolve")]
    assert all(m.Requirement is _pep508.Requirement for m in modules)


def test_packagings_error_reads_on_one_line_with_its_column() -> None:
    """request, -r files and scan word a requirement packaging refuses alike (``error_line``)."""
    with pytest.raises(ValueError) as caught:
        PackagingRequirement("torch=2.5")
    line = _pep508.error_line(caught.value)
    assert "\n" not in line and line.startswith(str(caught.value).splitlines()[0])
    assert line.endswith("(at column 6)")
    assert _pep508.error_line(ValueError("no caret here")) == "no caret here"
