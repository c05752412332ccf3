"""``align`` of a generated repository with 50 GPU services (budget: 1 s), beside ``python3 -c pass``.

Each service has its own requirements (torch pins that drift) and Dockerfile on an ``nvidia/cuda`` base of
another CUDA; ``align`` chooses one matrix, edits every file in memory and scans the result again."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_MS = 1000.0
TORCH = ("2.3.1", "2.4.0", "2.5.1")
IMAGES = ("11.8.0", "12.1.1", "12.4.1")


def make_repo(root: Path, services: int = 50) -> None:
    for i in range(services):
        d = root / f"svc{i:02d}"
        d.mkdir(parents=True)
        (d / "requirements.txt").write_text(f"# service {i}\ntorch=={TORCH[i % 3]}\nnumpy==1.26.4\n")
        (d / "Dockerfile").write_text(
            f"FROM nvidia/cuda:{IMAGES[i % 3]}-cudnn8-runtime-ubuntu22.04\nCOPY requirements.txt .\n"
            "RUN pip install --no-cache-dir -r requirements.txt\n"
        )


def timed(argv: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> int:
    runs = 7
    with tempfile.TemporaryDirectory() as tmp:
        make_repo(Path(tmp))
        cmd = [sys.executable, "-m", "cudalign", "align", tmp, "--gpu", "A10G", "--driver", "550.127.05"]
        align_ms = timed(cmd, runs)
        floor_ms = timed([sys.executable, "-c", "pass"], runs)
    median = statistics.median(align_ms)
    floor = statistics.median(floor_ms)
    result = {
        "benchmark": "align",
        "services": 50,
        "align_median_ms": round(median, 1),
        "python_pass_median_ms": round(floor, 1),
        "ratio_to_python": round(median / floor, 1),
        "budget_ms": BUDGET_MS,
        "within_budget": median <= BUDGET_MS,
    }
    out = Path(__file__).parent / "results" / "align.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
