"""Benchmarks of ``cudalign explain``: one message under 100 ms, a 50 MB log under 3 s (DESIGN.md).

The log is generated once in a temporary folder: a vLLM server's start-up repeated (engine and worker
lines, NCCL and tokenizer chatter, a Python traceback, colour codes), a node's journal (kubelet,
containerd, dcgm-exporter), a 2 KB base64 payload line per start-up and, spread through it, lines that
look like the known errors without being them, and a handful that are. Each command is also
reported as a ratio to ``python3 -c pass`` timed in the same run, so figures from a slower machine
compare. Run as ``python benchmarks/run.py explain``; ``python benchmarks/bench_explain.py`` also
prints the ratios and writes them to ``benchmarks/results/explain-ratios.json``.
"""

from __future__ import annotations

import atexit
import base64
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import cast

from run import HERE, cli, measure, user_env

__all__ = ["BENCHMARKS", "LOG_BYTES", "make_log"]

LOG_BYTES = 50 * 1024 * 1024

_NODE = "Nov 22 03:31:00 gpu-node-7"
_ERRORS = [
    "(Worker_TP0 pid=301) ERROR 11-22 09:14:40 [multiproc_executor.py:585] ImportError: libcudart.so.13: "
    "cannot open shared object file: No such file or directory",
    f"{_NODE} dcgm-exporter[2210]: Failed to initialize NVML: Driver/library version mismatch",
    "ImportError: /opt/venv/lib/python3.12/site-packages/vllm/_C.abi3.so: undefined symbol: "
    "_ZN3c104cuda29c10_cuda_check_implementationEiPKcS2_ib",
    "RuntimeError: CUDA error: no kernel image is available for execution on the device",
    "(Worker_PP0_TP1_EP1 pid=34510) ERROR 04-12 01:50:23 [multiproc_executor.py:971] "
    'ValueError("type fp8e4nv not supported in this architecture. The supported fp8 dtypes are '
    "('fp8e4b15', 'fp8e5')\")",
    "FAIL : Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.11: "
    "cannot open shared object file: No such file or directory",
]
_NEAR_MISSES = [
    "INFO 11-22 09:15:02 [cuda.py:244] Using Flash Attention backend on V1 engine.",
    "(EngineCore_DP0 pid=212) NCCL version 2.27.3+cuda12.9",
    "NCCL INFO ncclCommInitRank comm 0x55d5 rank 0 nranks 2 cudaDev 0 busId 1000 - Init COMPLETE",
    "if not torch.cuda.is_available():",
    "E0000 00:00:1730948968.005845   14809 cuda_blas.cc:1418] Unable to register cuBLAS factory: "
    "Attempting to register factory for plugin cuBLAS when one has already been registered",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 22.78 GiB. GPU 0 has a total capacity of "
    "31.47 GiB of which 12.73 GiB is free.",
    "INFO 03-19 11:53:56 [cuda.py:282] Using XFormers backend.  ",
    f"{_NODE} containerd[988]: NVIDIA_REQUIRE_CUDA=cuda>=12.8 brand=tesla,driver>=470,driver<471",
    "libcudart.so.12 (libc6,x86-64) => /usr/local/cuda/lib64/libcudart.so.12",
    "./app: symbol lookup error: /lib/x86_64-linux-gnu/libfoo.so.1: undefined symbol: bar_init",
    "Loaded cuDNN version 90100",
    "torch.cuda.is_available() returns True",
]


def _server_block(rng: random.Random, n: int) -> list[str]:
    """One start-up of a server and a few minutes of its node's journal, as log lines."""
    pid = 200 + n % 97
    core = f"(EngineCore_DP0 pid={pid})"
    worker = f"(Worker_TP0 pid={pid + 89}) ERROR 11-22 09:14:40 [multiproc_executor.py:585]"
    out = [
        "\x1b[32mINFO\x1b[0m 11-22 09:14:02 [__init__.py:235] Automatically detected platform cuda.",
        "INFO 11-22 09:14:04 [api_server.py:1896] vLLM API server version 0.11.0",
        "INFO 11-22 09:14:04 [utils.py:328] non-default args: {'model': 'Qwen/Qwen3-8B', "
        "'tensor_parallel_size': 2, 'gpu_memory_utilization': 0.9}",
    ]
    out += [
        f"INFO 11-22 09:14:{i:02d} [tokenizer.py:{200 + i}] Loading tokenizer file {i:03d}/059 for Qwen/Qwen3"
        for i in range(20)
    ]
    out += [
        f"{core} DEBUG 11-22 09:14:36 [shm_broadcast.py:{300 + i}] Connecting to ipc:///tmp/{rng.randrange(10**6)}"
        for i in range(20)
    ]
    out += [
        f"{core} INFO 11-22 09:14:37 [pynccl.py:103] vLLM is using nccl==2.27.3",
        f"(Worker_TP0 pid={pid + 89}) INFO 11-22 09:14:39 [gpu_model_runner.py:2602] Loading model...",
        f"{worker} Traceback (most recent call last):",
        f'{worker}   File "/usr/local/lib/python3.12/dist-packages/vllm/model_executor/layers/fused_moe/'
        'all2all_utils.py", line 46, in <module>',
        f"{worker}     import nixl_ep",
    ]
    out += [
        f'{_NODE} dcgm-exporter[2210]: time="2026-11-22T03:{i:02d}:00Z" level=info msg="collecting metrics"'
        for i in range(15)
    ]
    out.append(
        f'{_NODE} kubelet[1432]: E1122 03:34:01.402 pod_workers.go:1301] "Error syncing pod, skipping" '
        'err="failed to \\"StartContainer\\" for \\"vllm\\" with RunContainerError" pod="default/vllm-0"'
    )
    out.append(f"DEBUG payload {base64.b64encode(rng.randbytes(1500)).decode()}")  # a 2 KB line
    out += rng.sample(_NEAR_MISSES, 3)
    if n % 50 == 0:
        out.append(_ERRORS[(n // 50) % len(_ERRORS)])
    return out


def make_log(path: Path, size: int = LOG_BYTES) -> Path:
    """Write a log of about ``size`` bytes to ``path`` and return it."""
    rng = random.Random(20261122)
    written, n = 0, 0
    with path.open("w", encoding="utf-8", newline="\n") as f:
        while written < size:
            block = "\n".join(_server_block(rng, n)) + "\n"
            f.write(block)
            written += len(block.encode())
            n += 1
    return path


_DIR = Path(tempfile.mkdtemp(prefix="cudalign-bench-explain-"))
atexit.register(shutil.rmtree, _DIR, True)
_LOG = make_log(_DIR / "server.log")
_ENV = {"CUDALIGN_CACHE_DIR": str(_DIR / "cache")}
_HOST = ("--gpu", "H100", "--driver", "550.107.02")
_ONE_LINE = "RuntimeError: CUDA error: no kernel image is available for execution on the device"
_SYMBOL_2K = "ImportError: undefined symbol: " + "a" * 2048


def _python_pass() -> None:
    subprocess.run([sys.executable, "-c", "pass"], env=user_env(), check=True)


def _explain(*argv: str) -> Callable[[], None]:
    """``cudalign explain``, which exits 1 when it recognises an error: 0 and 1 are both success here."""
    return cli("explain", "--fail-on", "never", *argv, *_HOST, env=_ENV, timeout=600)


BENCHMARKS: list[tuple[object, ...]] = [
    ("python3 -c pass (the ratios' unit)", _python_pass, None, 10),
    ("cudalign explain one line", _explain(_ONE_LINE), 100, 10),
    ("cudalign explain 2 KB 'undefined symbol:' line", _explain(_SYMBOL_2K), 100, 10),
    ("cudalign explain --log 50 MB", _explain("--log", str(_LOG)), 3000, 3),
]


def main() -> int:
    """Time every benchmark, print medians with their ratio to ``python3 -c pass``, write them as JSON."""
    rows: list[dict[str, object]] = []
    for label, fn, budget, repeat in BENCHMARKS:
        times = measure(cast("Callable[[], None]", fn), cast(int, repeat), True)
        rows.append({"name": label, "median_ms": round(statistics.median(times), 1), "budget_ms": budget})
    unit = cast(float, rows[0]["median_ms"])
    for row in rows:
        row["ratio_to_python_pass"] = round(cast(float, row["median_ms"]) / unit, 1)
        budget = row["budget_ms"]
        verdict = (
            "-"
            if budget is None
            else ("ok" if cast(float, row["median_ms"]) <= cast(float, budget) else "OVER")
        )
        print(f"  {row['name']:<50} {row['median_ms']:>9} ms {row['ratio_to_python_pass']:>6}x  {verdict}")
    out = HERE / "results" / "explain-ratios.json"
    result = {
        "date": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "log_bytes": _LOG.stat().st_size,
        "results": rows,
    }
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"  -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
