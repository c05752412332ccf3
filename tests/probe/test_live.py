"""On a real GPU host (``pytest -m gpu``): the probe agrees with nvidia-smi and with torch, live.

Skipped, and reported as skipped, where there is no nvidia-smi; the device machine runs them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from cudalign.probe import probe
from cudalign.probe.smi import parse_query_csv, query_argv

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(shutil.which("nvidia-smi") is None, reason="no nvidia-smi: not a GPU host"),
]


def test_probe_agrees_with_nvidia_smi() -> None:
    out = subprocess.run(query_argv(), capture_output=True, text=True, timeout=60, check=True).stdout
    smi = parse_query_csv(out)
    host = probe(show_uuids=True)
    assert host.driver is not None and host.driver.source == "nvml"
    assert host.driver.version == smi[0].driver
    got = [(g.index, g.name, g.pci_device_id, g.cc, g.memory_mib, g.mig_mode, g.uuid) for g in host.gpus]
    want = [(s.index, s.name, s.pci_device_id, s.cc, s.memory_mib, s.mig_mode, s.uuid) for s in smi]
    assert [(i, n, p, (c.major, c.minor) if c else None, m, mig, u) for i, n, p, c, m, mig, u in got] == want


def test_probe_agrees_with_torch() -> None:
    code = (
        "import json, torch; c = torch.cuda; print(json.dumps({'version': torch.__version__, "
        "'cuda': torch.version.cuda, 'cudnn': torch.backends.cudnn.version(), 'count': c.device_count(), "
        "'nccl': list(c.nccl.version()) if c.is_available() else None}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    if proc.returncode != 0:
        pytest.skip("torch is not importable in this interpreter")
    view = json.loads(proc.stdout.strip().splitlines()[-1])
    host = probe()
    torch = host.package("torch")
    assert torch is not None and torch.version == view["version"] and torch.cuda == view["cuda"]
    assert len(host.gpus) == view["count"]
    if view["cudnn"]:
        n = view["cudnn"]
        assert host.cudnn["torch"].startswith(f"{n // 10000}.{n // 100 % 100}.{n % 100}")
    if view["nccl"]:
        assert host.nccl["torch"] == ".".join(str(x) for x in view["nccl"])
