"""Repositories a scan must survive: link loops, requirements that include themselves, UTF-16 and
garbage files, FIFOs, YAML bombs and megabyte lines. Each is scanned by the real command in a
subprocess with a timeout (a hang fails the test instead of stalling the run), and must end with exit
0 or 1, a finding or note naming the file, no traceback, and every input file unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
Build = Callable[[Path], None]


def _digest(root: Path) -> dict[str, str]:
    """Every regular file under ``root`` by path, with its hash (links and FIFOs are not opened)."""
    out: dict[str, str] = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink():
                out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _scan(root: Path, timeout: float = 120) -> dict[str, Any]:
    """``cudalign scan ROOT --format json`` in a subprocess; asserts exit 0/1, no traceback, nothing
    changed, and returns the report."""
    before = _digest(root)
    proc = subprocess.run(
        [sys.executable, "-m", "cudalign", "scan", str(root), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    assert _digest(root) == before
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def _problems(report: dict[str, Any]) -> list[str]:
    """``file:line message`` of each CA609 finding."""
    return [
        f"{f['location']['file']}:{f['location']['line']} {f['message']}"
        for f in report["findings"]
        if f["code"] == "CA609"
    ]


def _pins(report: dict[str, Any]) -> dict[str, list[str]]:
    return {s["name"]: s["requirements"] for s in report["services"]}


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


# link loops ----------------------------------------------------------------------------------------


def test_link_loops_end_and_are_named(tmp_path: Path) -> None:
    _write(tmp_path, {"app/requirements.txt": "torch==2.9.0\n"})
    (tmp_path / "app" / "up").symlink_to("..")  # a folder link to an enclosing folder
    (tmp_path / "app" / "deeper").mkdir()
    (tmp_path / "app" / "deeper" / "root").symlink_to(tmp_path)
    (tmp_path / "requirements-self.txt").symlink_to("requirements-self.txt")  # a link to itself
    (tmp_path / "a").symlink_to("b")  # a chain
    (tmp_path / "b").symlink_to("a")
    report = _scan(tmp_path)
    assert _pins(report) == {"app": ["torch==2.9.0"]}
    notes = set(report["notes"])
    assert {
        "app/up: skipped, link loop (to the repository root, a folder that holds it)",
        "app/deeper/root: skipped, link loop (to the repository root, a folder that holds it)",
        "requirements-self.txt: skipped, link loop",
        "a: skipped, link loop",
        "b: skipped, link loop",
    } <= notes


def test_a_link_to_a_sibling_folder_is_walked_once_without_a_note(tmp_path: Path) -> None:
    _write(tmp_path, {"real/requirements.txt": "torch==2.9.0\n"})
    (tmp_path / "alias").symlink_to("real")
    report = _scan(tmp_path)
    assert report["files"] == ["real/requirements.txt"] and report["notes"] == []


# includes ------------------------------------------------------------------------------------------


def test_a_file_that_includes_itself(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "torch==2.9.0\n-r requirements.txt\n"})
    report = _scan(tmp_path)
    assert _pins(report) == {tmp_path.name: ["torch==2.9.0"]}
    assert _problems(report) == [
        "requirements.txt:2 -r requirements.txt includes the file it is in: pip stops with "
        "'recursively references itself'"
    ]
    assert [f["fix"] for f in report["findings"] if f["code"] == "CA609"] == [
        "remove this include to break the loop"
    ]


def test_files_that_include_each_other(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "svc/requirements.txt": "-r base.txt\ntorch==2.9.0\n",
            "svc/base.txt": "numpy\n-c requirements.txt\n",
        },
    )
    report = _scan(tmp_path)
    assert sorted(_pins(report)["svc"]) == ["numpy", "torch==2.9.0"]
    assert _problems(report) == [
        "svc/base.txt:2 -c requirements.txt leads back to a file that includes it "
        "(svc/requirements.txt -> svc/base.txt -> svc/requirements.txt): pip stops with "
        "'recursively references itself'"
    ]


def test_both_files_of_a_loop_found_by_name(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "requirements.txt": "-r requirements-gpu.txt\n",
            "requirements-gpu.txt": "torch\n-r requirements.txt\n",
        },
    )
    report = _scan(tmp_path)
    assert _pins(report) == {tmp_path.name: ["torch"]}  # the loop drops no service
    assert len(_problems(report)) == 1 and "recursively references itself" in _problems(report)[0]


def test_a_long_chain_of_includes(tmp_path: Path) -> None:
    n = 3000
    files: dict[str, str | bytes] = {f"reqs/r{i}.txt": f"-r r{i + 1}.txt\n" for i in range(n)}
    files["requirements.txt"] = "-r reqs/r0.txt\n"
    files[f"reqs/r{n}.txt"] = "torch==2.9.0\n-r ../requirements.txt\n"
    _write(tmp_path, files)
    report = _scan(tmp_path)
    assert _pins(report) == {tmp_path.name: ["torch==2.9.0"]}
    (problem,) = _problems(report)
    assert problem.startswith(f"reqs/r{n}.txt:2 -r ../requirements.txt leads back")


def test_an_include_of_a_missing_file(tmp_path: Path) -> None:
    _write(
        tmp_path, {"requirements.txt": "torch==2.9.0\n-c constraints/gpu.txt\n-r https://example.com/r.txt\n"}
    )
    report = _scan(tmp_path)
    assert _problems(report) == [
        "requirements.txt:2 -c constraints/gpu.txt: no such file (constraints/gpu.txt)"
    ]
    assert [f["fix"] for f in report["findings"] if f["code"] == "CA609"] == [
        "point the include at a file in the repository, or remove it"
    ]
    assert not any("named by an include" in n for n in report["notes"])


# encodings -----------------------------------------------------------------------------------------

_TEXT = "torch==2.9.0\r\nvllm==0.13.0\r\n"


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe" + _TEXT.encode("utf-16-le"),  # PowerShell 5: pip freeze > requirements.txt
        b"\xfe\xff" + _TEXT.encode("utf-16-be"),
        _TEXT.encode("utf-16-le"),  # no byte-order mark
        b"\xef\xbb\xbf" + _TEXT.encode("utf-8"),
        b"\xff\xfe\x00\x00" + _TEXT.encode("utf-32-le"),
    ],
    ids=["utf-16-le-bom", "utf-16-be-bom", "utf-16-le", "utf-8-bom", "utf-32-le-bom"],
)
def test_unicode_requirements_are_read(tmp_path: Path, data: bytes) -> None:
    _write(tmp_path, {"requirements.txt": data})
    report = _scan(tmp_path)
    assert _pins(report) == {tmp_path.name: ["torch==2.9.0", "vllm==0.13.0"]}
    assert report["notes"] == []


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (bytes(range(256)) * 8, "binary file"),
        (bytes(range(1, 256)) * 8, "binary file (not UTF-8 or UTF-16 text)"),
        (b"\xff\xfe" + b"\x00\xd8" * 10, "not valid UTF-16-LE after its byte-order mark"),
    ],
    ids=["nul", "control-bytes", "lone-surrogates"],
)
def test_garbage_is_skipped_with_a_note(tmp_path: Path, data: bytes, why: str) -> None:
    _write(tmp_path, {"requirements.txt": data, "app/requirements.txt": "torch==2.9.0\n"})
    report = _scan(tmp_path)
    assert f"requirements.txt: skipped, {why}" in report["notes"]
    assert _pins(report) == {"app": ["torch==2.9.0"]}


def test_a_fifo_is_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "requirements.txt")  # reading it would wait for a writer forever
    _write(tmp_path, {"app/requirements.txt": "torch==2.9.0\n"})
    report = _scan(tmp_path)
    assert "requirements.txt: skipped, not a regular file" in report["notes"]


# YAML ----------------------------------------------------------------------------------------------


def _laughs(leaf: str, use: str) -> str:
    """A "billion laughs" document: nine aliases of nine aliases, nine levels deep."""
    lines = [
        f'a0: &a0 ["{leaf}", "{leaf}", "{leaf}", "{leaf}", "{leaf}", "{leaf}", "{leaf}", "{leaf}", "{leaf}"]'
    ]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return "\n".join(lines) + "\n" + use


_BOMBS = {
    "compose-laughs": (
        "compose.yaml",
        _laughs("lol", "services:\n  web:\n    image: *a8\n    environment: *a8\n  ? *a8\n  : {image: x}\n"),
    ),
    "k8s-laughs": (
        "k8s/pod.yaml",
        _laughs("lol", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: c\n    image: *a8\n"),
    ),
    "compose-merge-laughs": (
        "compose.yaml",
        "a0: &a0 {k0: 1, k1: 2, k2: 3, k3: 4, k4: 5, k5: 6, k6: 7, k7: 8, k8: 9}\n"
        + "".join(f"a{i}: &a{i}\n  <<: [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9))
        + "services:\n  web:\n    <<: *a8\n    image: x\n",
    ),
}


@pytest.mark.parametrize("name", list(_BOMBS))
def test_yaml_bombs_are_refused(tmp_path: Path, name: str) -> None:
    path, text = _BOMBS[name]
    _write(tmp_path, {path: text})
    report = _scan(tmp_path)
    assert _problems(report) == [
        f"{path}:1 not read: its aliases expand to more than 1,000,000 nodes (a 'billion laughs' document)"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("services:\n  a: &x\n    image: [*x]\n", "compose.yaml:2 not valid YAML: an alias refers to a node"),
        (
            "services:\n  a:\n    image: " + "[" * 100_000 + "]" * 100_000 + "\n",
            "compose.yaml:3 not read: collections nested more than 1000 levels deep",
        ),
        (
            "services:\n  a:\n    image: " + "{a: " * 50_000 + "1" + "}" * 50_000 + "\n",
            "compose.yaml:3 not read: collections nested more than 1000 levels deep",
        ),
        ("- " * 100_000 + "x\n", "compose.yaml:1 not read: collections nested more than 1000 levels deep"),
    ],
    ids=["recursive-alias", "deep-lists", "deep-maps", "deep-block-sequences"],
)
def test_endless_or_deep_yaml_is_a_problem(tmp_path: Path, text: str, expected: str) -> None:
    """Refused before libyaml sees it: its C composer recurses, and some PyYAML builds (6.0.1 among
    them) crash the interpreter on such input instead of raising."""
    _write(tmp_path, {"compose.yaml": text})
    (problem,) = _problems(_scan(tmp_path))
    assert problem.startswith(expected)


def test_nesting_below_the_bound_is_parsed(tmp_path: Path) -> None:
    text = "services:\n  a:\n    image: vllm/vllm-openai:v0.13.0\n    x-deep: " + "[" * 900 + "]" * 900 + "\n"
    _write(tmp_path, {"compose.yaml": text})
    report = _scan(tmp_path)
    assert not any("nested" in p for p in _problems(report))


# huge lines and numbers ----------------------------------------------------------------------------


def test_a_version_too_long_to_convert(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "requirements.txt": "torch==" + "1" * 5000 + "\nvllm==0.13.0\n",
            "uv.lock": '[[package]]\nname = "torch"\nversion = "2.' + "9" * 5000 + '"\n',
        },
    )
    report = _scan(tmp_path)
    problems = _problems(report)
    assert len(problems) == 2
    assert problems[0].startswith("requirements.txt:1 not a valid requirement 'torch==111")
    assert problems[0].endswith("has a number too long to be one") and len(problems[0]) < 300
    assert problems[1].startswith("uv.lock:2 torch: version '2.999")


_SIZE = 1_500_000  # under the 2 MB bound on a file, so each is read


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("requirements.txt", "torch" + " " * _SIZE + "x\n"),
        ("requirements.txt", "-r" + " " * _SIZE + "x\n"),
        ("requirements.txt", "-r " + "${" * (_SIZE // 2) + "\n"),
        ("requirements.txt", "torch --hash=" + "#" * _SIZE + "\n"),
        ("requirements.txt", "torch \\\n" * (_SIZE // 8)),
        (
            "Dockerfile",
            "FROM python:3.12\nRUN pip install " + " ".join(f"x{i}" for i in range(50_000)) + "\n",
        ),
        (
            "Dockerfile",
            "FROM python:3.12\nRUN pip install " + " ".join(f"a>{i}" for i in range(50_000)) + "\n",
        ),
        ("Dockerfile", "FROM python:3.12\nENV PATH=$" + "=" * _SIZE + "\n"),
        ("Dockerfile", "FROM python:3.12\nCOPY " + "[" * _SIZE + "\n"),
        ("Dockerfile", "FROM " + "a" * _SIZE + "\n"),
        ("compose.yaml", "services:\n  a:\n    image: " + "x" * _SIZE + "\n"),
    ],
    ids=[
        "req-spaces",
        "req-option-spaces",
        "req-variables",
        "req-hash-comment",
        "req-continuations",
        "docker-many-packages",
        "docker-many-redirects",
        "docker-env",
        "docker-copy-json",
        "docker-from",
        "compose-image",
    ],
)
def test_megabyte_lines_are_read_in_linear_time(tmp_path: Path, name: str, text: str) -> None:
    _write(tmp_path, {name: text})
    report = _scan(tmp_path, timeout=60)  # the bound: a quadratic step takes hours at this size
    assert name in report["files"]
