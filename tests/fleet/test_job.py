"""The rendered DaemonSet and Job validate against the Kubernetes schemas (kubernetes-validate)."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from cudalign.cli import main
from cudalign.fleet.job import manifest_objects


@pytest.mark.parametrize("kind", ["daemonset", "job"])
@pytest.mark.parametrize("image", [None, "registry.example.com/cudalign:0.1.0"])
def test_manifest_validates(kind: str, image: str | None) -> None:
    for obj in manifest_objects(kind, image=image, count=3):
        kubernetes_validate.validate(obj, "1.30.0", strict=True)


def test_cli_output_is_the_same_objects(tmp_path: Path) -> None:
    out = tmp_path / "job.yaml"
    assert main(["fleet", "k8s", "job", "--kind", "job", "--namespace", "gpu-audit", "-o", str(out)]) == 0
    docs = [d for d in yaml.safe_load_all(out.read_text(encoding="utf-8")) if d]
    assert [d["kind"] for d in docs] == ["Namespace", "Job"]
    pod = docs[1]["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": 1}
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert "cudalign doctor --json" in pod["containers"][0]["command"][-1]
    for d in docs:
        kubernetes_validate.validate(d, "1.30.0", strict=True)
