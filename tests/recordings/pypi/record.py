"""Re-record the PyPI answers the offline tests replay: ``python tests/recordings/pypi/record.py``.

Talks to the real index. What it saves, one JSON file per request (URL, Range/Accept, status, body):
the faster-whisper JSON and simple pages, the 404 its index answers for the advertised ``.metadata`` of
its 2025 wheels and the byte ranges the client then reads from them, and the PEP 658 metadata files of
torch 2.9.0 (Linux x86_64) and vLLM 0.13.0 (Linux x86_64).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from cudalign.facts.pypi import HttpDoor, PyPIClient, RecordingDoor
from cudalign.facts.update import update

__all__ = ["HERE", "SINCE", "TAIL_BYTES", "main"]

HERE = Path(__file__).parent
SINCE = dt.date(2025, 8, 1)
"""faster-whisper releases read with metadata: 1.2.0 and 1.2.1."""
TAIL_BYTES = 1024
"""A small first range read keeps the recordings small and makes the reader take all three steps."""
TORCH_WHEEL = (
    "https://files.pythonhosted.org/packages/a5/4b/f4bb2e6c25d0272f798cd6d7a04ed315da76cec68c602d87040c7847287f/"
    "torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64.whl"
)
VLLM_WHEEL = (
    "https://files.pythonhosted.org/packages/46/ae/36f87f514811c1389ff1a16e4e5b0b55f25ce782eb0eff2d7eaa92ff7deb/"
    "vllm-0.13.0-cp38-abi3-manylinux_2_31_x86_64.whl"
)


def main() -> None:
    for old in HERE.glob("*.json"):
        old.unlink()
    client = PyPIClient(RecordingDoor(HttpDoor(), HERE), tail_bytes=TAIL_BYTES)
    tmp = Path(tempfile.mkdtemp())
    try:
        result = update(
            ["faster-whisper"], base=None, out=tmp / "snap.json", client=client, since=SINCE, jobs=1
        )
        print(result.packages)
    finally:
        shutil.rmtree(tmp)
    for wheel in (TORCH_WHEEL, VLLM_WHEEL):
        resp = client.get(wheel + ".metadata")
        print(wheel.rsplit("/", 1)[1], resp.status, len(resp.body))


if __name__ == "__main__":
    main()
