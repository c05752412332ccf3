"""The pre-commit hook definition runs ``cudalign scan`` on the files scan reads."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from cudalign.scan.walk import classify

HOOKS = Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml"


def test_hook_definition() -> None:
    (hook,) = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert hook["id"] == "cudalign-scan"
    assert hook["entry"] == "cudalign scan"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    for path in ("requirements.txt", "svc/requirements-gpu.in", "requirements/base.txt", "pyproject.toml",
                 "uv.lock", "pylock.toml", "Dockerfile", "docker/Dockerfile.cuda", "llm.Dockerfile",
                 "compose.yaml", "deploy/docker-compose.prod.yml", "k8s/llm.yaml"):  # fmt: skip
        assert files.search(path), path
        assert classify(path) is not None, path
    for path in ("README.md", "src/app.py", ".github/workflows/ci.yml"):
        assert not files.search(path), path
