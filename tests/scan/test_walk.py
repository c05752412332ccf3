"""File discovery: what scan reads and what it skips, with a note saying why."""

from __future__ import annotations

import os
from pathlib import Path

from cudalign.scan.walk import classify, walk


def test_classify() -> None:
    assert classify("requirements.txt") == "requirements"
    assert classify("svc/requirements-gpu.in") == "requirements"
    assert classify("requirements/base.txt") == "requirements"
    assert classify("constraints.txt") == "requirements"
    assert classify("Dockerfile") == "dockerfile"
    assert classify("docker/Dockerfile.cuda") == "dockerfile"
    assert classify("llm.Dockerfile") == "dockerfile"
    assert classify("docker-compose.override.yml") == "compose"
    assert classify("compose.yaml") == "compose"
    assert classify("k8s/deploy.yaml") == "yaml"
    assert classify(".github/workflows/ci.yml") is None
    assert classify("uv.lock") == "uv-lock"
    assert classify("pylock.toml") == "pylock"
    assert classify("README.md") is None


def test_skips_big_binary_vcs_venv_and_excluded(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "requirements.txt").write_text("torch==2.9.0\n")
    (tmp_path / "big-requirements.txt").write_text("x" * 200)
    (tmp_path / "bin-requirements.txt").write_bytes(b"torch\x00\x01")
    for skipped in (".git", ".venv", "node_modules", "vendor"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "requirements.txt").write_text("torch\n")
    found = walk(tmp_path, exclude=["vendor/**"], max_bytes=100)
    assert [f.path for f in found.files] == ["a/requirements.txt"]
    assert any("big-requirements.txt: skipped, 200 bytes" in n for n in found.notes)
    assert any("bin-requirements.txt: skipped, binary file" in n for n in found.notes)


def test_links_leaving_the_repo_are_skipped_with_a_note(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "requirements.txt").write_text("torch\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(outside / "requirements.txt", repo / "requirements.txt")
    os.symlink(outside, repo / "linked")
    (repo / "inside").mkdir()
    (repo / "inside" / "requirements.txt").write_text("vllm\n")
    os.symlink(repo / "inside", repo / "alias")
    found = walk(repo)
    assert [f.path for f in found.files] == ["inside/requirements.txt"]
    assert sorted(n.split(":")[0] for n in found.notes) == ["linked", "requirements.txt"]
    assert all("leaves the repository" in n for n in found.notes)


def test_latin1_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes("# caf\xe9\ntorch\n".encode("latin-1"))
    assert walk(tmp_path).files[0].text.endswith("torch\n")
