"""Benchmark harness: time what DESIGN.md budgets, print a table, write JSON.

Usage::

    python benchmarks/run.py                 # every benchmarks/bench_*.py
    python benchmarks/run.py facts           # only modules whose name contains "facts"
    python benchmarks/run.py --repeat 3      # override each benchmark's run count

Each ``benchmarks/bench_<name>.py`` defines ``BENCHMARKS``: a list of tuples ``(label, fn, budget_ms)``,
``(label, fn, budget_ms, repeat)`` or ``(label, fn, budget_ms, repeat, warmup)``.
``fn()`` is timed ``repeat`` times (default 10) after one untimed call when ``warmup`` is true (default);
``budget_ms`` is the DESIGN.md budget or ``None``. Command-line latency is measured as a subprocess
(:func:`cli` builds such a ``fn``), so interpreter start-up and imports count, as a user sees them.
Results go to ``benchmarks/results/<name>.json`` with the machine they ran on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["HERE", "cli", "main", "measure", "user_env"]

HERE = Path(__file__).resolve().parent


def user_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a user's command runs in: bytecode caching on, as an installed package has it.

    ``PYTHONDONTWRITEBYTECODE`` (set in some sandboxes) makes every run recompile every module, which
    would time the compiler rather than cudalign; the warm-up run writes the caches.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra or {})
    return env


def cli(*argv: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> Callable[[], None]:
    """A benchmark function that runs ``cudalign ARGV...`` as a user would, failing on a non-zero exit."""
    exe = Path(sys.executable).with_name("cudalign")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "cudalign"]

    def run() -> None:
        proc = subprocess.run(
            [*cmd, *argv],
            env=user_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"cudalign {' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()[:300]}"
            )

    return run


def measure(fn: Callable[[], object], repeat: int, warmup: bool) -> list[float]:
    """Wall times of ``repeat`` calls, in milliseconds."""
    if warmup:
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def _p90(times: Sequence[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("only", nargs="*", help="run modules whose name contains one of these")
    parser.add_argument("--repeat", type=int, help="override each benchmark's run count")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where the JSON goes")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    failed = False
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if args.only and not any(o in name for o in args.only):
            continue
        module = _load(path)
        rows: list[dict[str, Any]] = []
        print(f"\n{name}")
        header = f"  {'benchmark':<46} {'runs':>4} {'median ms':>10} {'p90 ms':>10} {'budget':>8}  result"
        print(header)
        for entry in module.BENCHMARKS:
            label, fn, budget = entry[0], entry[1], entry[2]
            repeat = args.repeat or (entry[3] if len(entry) > 3 else 10)
            warmup = entry[4] if len(entry) > 4 else True
            try:
                times = measure(fn, repeat, warmup)
            except Exception as exc:  # a benchmark that breaks is reported, the others still run
                failed = True
                print(f"  {label:<46} error: {exc}")
                rows.append({"name": label, "error": str(exc), "budget_ms": budget})
                continue
            median, p90 = statistics.median(times), _p90(times)
            ok = budget is None or median <= budget
            failed |= not ok
            verdict = "-" if budget is None else ("ok" if ok else "OVER")
            budget_s = f"{budget:g}" if budget is not None else "-"
            print(f"  {label:<46} {len(times):>4} {median:>10.1f} {p90:>10.1f} {budget_s:>8}  {verdict}")
            rows.append(
                {
                    "name": label,
                    "runs": len(times),
                    "median_ms": round(median, 1),
                    "p90_ms": round(p90, 1),
                    "min_ms": round(min(times), 1),
                    "budget_ms": budget,
                    "ok": ok,
                    "times_ms": [round(t, 1) for t in times],
                }
            )
        args.out.mkdir(parents=True, exist_ok=True)
        result = {
            "suite": name,
            "date": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
            "results": rows,
        }
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"  -> {args.out / f'{name}.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
