"""Time ``cudalign doctor`` against its peers on the same host, in one run.

DESIGN.md's budget: doctor under 150 ms on a GPU host and at least 20x faster than both
``python -m torch.utils.collect_env`` and ``env-doctor check`` (when it is installed), without importing
torch. Floors measured in the same run: ``python -c pass``, ``nvidia-smi`` and one
``cuDriverGetVersion`` through ctypes. Each command runs as a fresh process (what a user waits for);
we report the median of ``--runs`` runs (peers: ``--peer-runs``), plus the in-process ``probe()`` time,
and check that doctor never imported torch. Standalone (``python benchmarks/bench_doctor.py``): prints a
table with the speed-ups and writes ``benchmarks/results/doctor_vs_collect_env.json``. Under the harness
(``python benchmarks/run.py doctor``): ``BENCHMARKS`` below, results in ``benchmarks/results/doctor.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["BENCHMARKS", "main", "run", "time_command"]


def _user_env() -> dict[str, str]:
    """As a user runs it: bytecode caching on (some sandboxes set PYTHONDONTWRITEBYTECODE)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


ROOT = Path(__file__).resolve().parents[1]
BUDGET_MS = 150.0
MIN_SPEEDUP = 20.0
_CUDA_DRIVER_VERSION = (
    "import ctypes; v = ctypes.c_int(); ctypes.CDLL('libcuda.so.1').cuDriverGetVersion(ctypes.byref(v))"
)


def _has_module(python: str, name: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({name!r}) is None)"
    return subprocess.run([python, "-c", code], capture_output=True, timeout=60, check=False).returncode == 0


def time_command(argv: list[str], runs: int, timeout: float = 300.0) -> dict[str, Any]:
    """Median, min and max wall time of ``argv`` as a fresh process, and its last exit status."""
    env = {**_user_env(), "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    times, code, err = [], None, ""
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
        times.append((time.perf_counter() - start) * 1000)
        code, err = proc.returncode, proc.stderr[-400:]
    return {
        "argv": argv,
        "runs": runs,
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "max_ms": max(times),
        "returncode": code,
        "stderr_tail": err,
    }


def _probe_in_process(runs: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "src"))
    from cudalign.probe import probe

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        probe()
        times.append((time.perf_counter() - start) * 1000)
    return {"runs": runs, "median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}


_PHASES = """
import json, time
t = [time.perf_counter()]
import cudalign.cli as cli
cli.build_parser(); t.append(time.perf_counter())
from cudalign.facts import load
facts = load(); t.append(time.perf_counter())
from cudalign.probe import probe
host = probe(); t.append(time.perf_counter())
from cudalign.doctor import diagnose
report = diagnose(host, facts); t.append(time.perf_counter())
from cudalign.render import render
render(report, "text"); t.append(time.perf_counter())
names = ["cli_and_parser", "facts_load", "probe", "engine", "render"]
print(json.dumps({n: (b - a) * 1000 for n, a, b in zip(names, t, t[1:])}))
"""


def _phases(python: str, runs: int) -> dict[str, float]:
    """Median milliseconds of each phase of one doctor run, each run a fresh interpreter, in sequence
    (no overlap of probe and knowledge-base loading, unlike the real command)."""
    env = {**_user_env(), "PYTHONPATH": str(ROOT / "src")}
    samples: list[dict[str, float]] = []
    for _ in range(runs):
        proc = subprocess.run(
            [python, "-c", _PHASES], capture_output=True, text=True, timeout=120, env=env, check=False
        )
        if proc.returncode == 0:
            samples.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    if not samples:
        return {}
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}


_COLD = {
    "import pynvml": "import pynvml",
    "pynvml + nvmlInit": "import pynvml as n; n.nvmlInit(); n.nvmlShutdown()",
    "pynvml + nvmlInit(NO_ATTACH)": "import pynvml as n; n.nvmlInitWithFlags(2); n.nvmlShutdown()",
    "read_nvml (everything)": "import pynvml; from cudalign.probe.nvml import read_nvml; read_nvml(pynvml)",
    "probe()": "from cudalign.probe import probe; probe()",
    "probe() without NVML": (
        "from cudalign.probe import probe\n"
        "class N:\n    def nvmlInit(self): raise OSError('skip')\n"
        "probe(nvml=N())"
    ),
}


def _cold(python: str, runs: int) -> dict[str, float]:
    """Median milliseconds of each snippet in a fresh interpreter, minus an empty interpreter's start."""
    env = {**_user_env(), "PYTHONPATH": str(ROOT / "src")}

    def once(code: str) -> float:
        wrapped = f"import time; t = time.perf_counter()\n{code}\nprint((time.perf_counter() - t) * 1000)"
        proc = subprocess.run(
            [python, "-c", wrapped], capture_output=True, text=True, timeout=60, env=env, check=False
        )
        return float(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else float("nan")

    return {label: statistics.median(once(code) for _ in range(runs)) for label, code in _COLD.items()}


def _imports_torch(python: str) -> bool | None:
    code = (
        "import sys; sys.argv=['cudalign','doctor','--json','-o','/dev/null'];"
        "from cudalign.cli import main; main(sys.argv[1:]);"
        "print('torch' in sys.modules)"
    )
    env = {**_user_env(), "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    last = proc.stdout.strip().splitlines()[-1:] or [""]
    return {"True": True, "False": False}.get(last[0])


def run(runs: int = 10, peer_runs: int = 3, python: str = sys.executable) -> dict[str, Any]:
    """Measure everything; the returned dict is what the JSON file holds."""
    doctor = time_command([python, "-m", "cudalign", "doctor"], runs)
    doctor_json = time_command([python, "-m", "cudalign", "doctor", "--json"], runs)
    version = time_command([python, "-m", "cudalign", "--version"], runs)
    peer = time_command([python, "-m", "torch.utils.collect_env"], peer_runs)
    env_doctor = (
        time_command([python, "-m", "env_doctor.cli", "check"], peer_runs)
        if _has_module(python, "env_doctor")
        else None
    )
    floors = {
        "python -c pass": time_command([python, "-c", "pass"], runs),
        "nvidia-smi": time_command(["nvidia-smi"], runs),
        "cuDriverGetVersion (ctypes)": time_command([python, "-c", _CUDA_DRIVER_VERSION], runs),
    }
    result: dict[str, Any] = {
        "benchmark": "doctor",
        "host": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()},
        "doctor": doctor,
        "doctor_json": doctor_json,
        "version": version,
        "probe_in_process": _probe_in_process(runs),
        "phases_ms": _phases(python, runs),
        "cold_ms": _cold(python, runs),
        "collect_env": peer,
        "env_doctor": env_doctor,
        "floors": floors,
        "doctor_imports_torch": _imports_torch(python),
    }
    peer_ok = peer["returncode"] == 0
    result["speedup"] = peer["median_ms"] / doctor["median_ms"] if peer_ok and doctor["median_ms"] else None
    result["speedup_env_doctor"] = (
        env_doctor["median_ms"] / doctor["median_ms"]
        if env_doctor and env_doctor["returncode"] == 0 and doctor["median_ms"]
        else None
    )
    result["ratio_to_python"] = doctor["median_ms"] / floors["python -c pass"]["median_ms"]
    result["within_budget"] = doctor["median_ms"] < BUDGET_MS
    speedups = [x for x in (result["speedup"], result["speedup_env_doctor"]) if x is not None]
    result["meets_speedup"] = bool(speedups) and min(speedups) >= MIN_SPEEDUP
    return result


def table(result: dict[str, Any]) -> str:
    rows = [
        ("cudalign doctor", result["doctor"]),
        ("cudalign doctor --json", result["doctor_json"]),
        ("cudalign --version", result["version"]),
        ("probe() in process", result["probe_in_process"]),
        ("python -m torch.utils.collect_env", result["collect_env"]),
    ]
    if result.get("env_doctor"):
        rows.append(("env-doctor check", result["env_doctor"]))
    rows += list((result.get("floors") or {}).items())
    lines = [f"{'command':<36} {'median ms':>10} {'min':>8} {'max':>8} {'runs':>5}  rc"]
    for label, r in rows:
        rc = r.get("returncode", "")
        lines.append(
            f"{label:<36} {r['median_ms']:>10.1f} {r['min_ms']:>8.1f} {r['max_ms']:>8.1f}"
            f" {r['runs']:>5}  {rc}"
        )
    cold = result.get("cold_ms") or {}
    if cold:
        lines.append(
            "cold, in a fresh interpreter (median ms): " + ", ".join(f"{k} {v:.0f}" for k, v in cold.items())
        )
    phases = result.get("phases_ms") or {}
    if phases:
        lines.append("doctor phases (median ms): " + ", ".join(f"{k} {v:.0f}" for k, v in phases.items()))
    speed, speed_ed = result["speedup"], result.get("speedup_env_doctor")
    lines.append(
        f"speedup vs collect_env {speed:.1f}x (need >= {MIN_SPEEDUP:g}x)"
        if speed
        else "speedup: collect_env did not run"
    )
    lines.append(
        f"speedup vs env-doctor {speed_ed:.1f}x (need >= {MIN_SPEEDUP:g}x)"
        if speed_ed
        else "speedup: env-doctor not installed or failed"
    )
    if result.get("ratio_to_python"):
        lines.append(f"doctor / python -c pass: {result['ratio_to_python']:.1f}x")
    lines.append(
        f"doctor under {BUDGET_MS:g} ms: {result['within_budget']};"
        f" imports torch: {result['doctor_imports_torch']}"
    )
    return "\n".join(lines)


def _subprocess(*argv: str) -> Callable[[], None]:
    """A harness benchmark: one fresh process, failing loudly if it does not exit 0."""

    def go() -> None:
        env = {**_user_env(), "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        subprocess.run([sys.executable, *argv], capture_output=True, timeout=300, env=env, check=True)

    return go


def _probe() -> None:
    from cudalign.probe import probe

    probe()


BENCHMARKS: list[tuple[Any, ...]] = [
    ("cudalign doctor", _subprocess("-m", "cudalign", "doctor", "--fail-on", "never"), BUDGET_MS),
    (
        "cudalign doctor --json",
        _subprocess("-m", "cudalign", "doctor", "--json", "--fail-on", "never"),
        BUDGET_MS,
    ),
    ("probe() in process", _probe, None),
    ("python -m torch.utils.collect_env (peer)", _subprocess("-m", "torch.utils.collect_env"), None, 3),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="time cudalign doctor against torch's collect_env")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--peer-runs", type=int, default=3)
    parser.add_argument("--python", default=sys.executable, help="interpreter to run both with")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/doctor_vs_collect_env.json")
    parser.add_argument("--cold-only", action="store_true", help="only the fresh-interpreter breakdown")
    args = parser.parse_args(argv)
    if args.cold_only:
        cold = _cold(args.python, args.runs)
        phases = _phases(args.python, args.runs)
        print(json.dumps({"cold_ms": cold, "phases_ms": phases}, indent=1))
        return 0
    result = run(args.runs, args.peer_runs, args.python)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
