"""The built hosts in tests/hosts/ are exactly what builders.py makes by probing fake sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cudalign.model import HOST_SCHEMA, host_from_json

from .builders import BUILDERS, HOSTS, build


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_saved_host_is_what_the_builder_makes(name: str) -> None:
    saved = json.loads((HOSTS / f"{name}.json").read_text(encoding="utf-8"))
    assert saved == build(name).to_json(), f"regenerate with: python tests/doctor/builders.py ({name})"


@pytest.mark.parametrize("path", sorted(HOSTS.glob("*.json")), ids=lambda p: Path(p).stem)
def test_every_host_file_reads_back(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["schema"] == HOST_SCHEMA
    host = host_from_json(data)
    assert host.hostname in (None, "<hidden>")
    assert all(g.uuid in (None, "GPU-<hidden>") for g in host.gpus)
