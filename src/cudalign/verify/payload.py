"""The checks ``cudalign verify`` runs inside the target interpreter: standard library plus what it tests.

Run as a script (``python payload.py CONFIG_JSON``), it prints one line per event, each starting with
:data:`MARK` and followed by a JSON object: ``start`` before a check, ``check`` after it, and ``done``
with every result at the end. The caller keeps what came before a crash, so a segfault, an OOM kill or
a hang is reported as the check that was running. Imported (by cudalign itself, or by tests), it
defines the pure helpers and nothing runs; nothing heavy is imported at module level.

The payload changes no GPU setting, frees what it allocates (``torch.cuda.empty_cache`` after each
check), and sees only the GPUs ``CUDA_VISIBLE_DEVICES`` leaves it.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

if __name__ == "__main__":  # run as a script: its own folder must not shadow what it imports
    _HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

MARK = "@@cudalign-verify "
"""Prefix of every line the payload means for the caller; anything else on stdout is a library's chatter."""

SIGNALS = {4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM"}


# --------------------------------------------------------------------------- pure helpers


def _mod(name: str) -> Any:
    """Import a module the payload tests (torch, vllm …), typed as ``Any``: none of them is ours."""
    import importlib

    return importlib.import_module(name)


def parse_arch(entry: str) -> tuple[str, int, int, str] | None:
    """``sm_90a`` -> ``("sm", 9, 0, "a")``; ``compute_120`` -> ``("compute", 12, 0, "")``."""
    kind, _, rest = entry.partition("_")
    if kind not in ("sm", "compute") or not rest:
        return None
    digits = rest.rstrip("abcdefghijklmnopqrstuvwxyz")
    suffix = rest[len(digits) :]
    if not digits.isdigit() or len(digits) < 2:
        return None
    return kind, int(digits[:-1]), int(digits[-1]), suffix


def served_by(cc: tuple[int, int], arch_list: list[str]) -> tuple[str, str | None]:
    """How a GPU of capability ``cc`` runs a build with ``arch_list`` (``torch.cuda.get_arch_list()``).

    ``("sass", "sm_90")``: machine code for it, or for an earlier minor of its major (``sm_80`` code
    runs on 8.6); ``("ptx-jit", "compute_90")``: only PTX at or below it, compiled by the driver at
    load time; ``("none", None)``: neither, so every kernel fails with "no kernel image is available".
    Arch-specific code (``sm_90a``) runs only on exactly that capability.
    """
    best_sass: tuple[int, str] | None = None
    best_ptx: tuple[tuple[int, int], str] | None = None
    for entry in arch_list:
        parsed = parse_arch(entry)
        if parsed is None:
            continue
        kind, major, minor, suffix = parsed
        if kind == "sm":
            fits = (major, minor) == cc if suffix else major == cc[0] and minor <= cc[1]
            if fits and (best_sass is None or minor > best_sass[0]):
                best_sass = (minor, entry)
        elif not suffix and (major, minor) <= cc and (best_ptx is None or (major, minor) > best_ptx[0]):
            best_ptx = ((major, minor), entry)
    if best_sass is not None:
        return "sass", best_sass[1]
    if best_ptx is not None:
        return "ptx-jit", best_ptx[1]
    return "none", None


def bus_bandwidth(nbytes: int, seconds: float, ranks: int) -> tuple[float, float]:
    """``(algbw, busbw)`` in GB/s of an all-reduce, as nccl-tests defines them (doc/PERFORMANCE.md).

    algbw = size / time; busbw = algbw * 2 (n - 1) / n, the bandwidth each link must carry in a ring,
    comparable across rank counts and with the hardware's peak.
    """
    algbw = nbytes / seconds / 1e9 if seconds > 0 else 0.0
    return algbw, algbw * 2 * (ranks - 1) / ranks


def median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    if not n:
        return 0.0
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def rel_error(out: Any, ref: Any) -> float:
    """‖out − ref‖ / ‖ref‖ of two tensors, computed in float64 on the CPU."""
    o = out.detach().double().cpu()
    r = ref.detach().double().cpu()
    denom = float(r.norm()) or 1.0
    return float((o - r).norm()) / denom


def signal_name(returncode: int) -> str | None:
    """``SIGSEGV`` for a return code of -11 (killed by that signal)."""
    if returncode >= 0:
        return None
    return SIGNALS.get(-returncode, f"signal {-returncode}")


# --------------------------------------------------------------------------- the runner


class Outcome(Exception):
    """Raised by a check to end with a status other than ``pass`` (``skip``, ``warn``, ``fail``)."""

    def __init__(self, status: str, detail: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.data = data or {}


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(MARK + json.dumps({"event": event, **fields}, default=str) + "\n")
    sys.stdout.flush()


class Checks:
    """Runs checks one by one, printing each as it starts and ends, and keeps the results."""

    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []
        self.torch: Any = None

    def run(self, cid: str, title: str, fn: Callable[[], tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        emit("start", id=cid, title=title)
        t0 = time.perf_counter()
        result: dict[str, Any] = {"id": cid, "title": title}
        try:
            detail, data = fn()
            result.update(status="pass", detail=detail, data=data)
        except Outcome as o:
            result.update(status=o.status, detail=o.detail, data=o.data)
        except BaseException as exc:  # every failure is a result, never a traceback on the user's screen
            if isinstance(exc, KeyboardInterrupt):
                raise
            last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
            where = f" ({os.path.basename(last[0].filename)}:{last[0].lineno})" if last else ""
            text = f"{type(exc).__name__}: {exc}".strip()
            result.update(
                status="fail", detail=text.splitlines()[0][:400] + where, error=text[:4000], data={}
            )
        result["seconds"] = round(time.perf_counter() - t0, 4)
        self._free()
        self.results.append(result)
        emit("check", **result)
        return result

    def _free(self) -> None:
        torch = self.torch
        if torch is not None:
            try:
                if torch.cuda.is_initialized():
                    torch.cuda.synchronize()
                    torch.cuda.empty_cache()
            except Exception:
                pass


# --------------------------------------------------------------------------- checks


def _import_torch(c: Checks) -> tuple[str, dict[str, Any]]:
    torch = _mod("torch")

    c.torch = torch
    cuda = torch.version.cuda
    data = {
        "version": torch.__version__,
        "cuda": cuda,
        "file": torch.__file__,
        "arch_list": list(torch.cuda.get_arch_list()) if cuda else [],
    }
    return f"torch {torch.__version__} (CUDA {cuda})", data


def _cuda_devices(c: Checks, want: int | None) -> tuple[str, dict[str, Any]]:
    torch = c.torch
    if torch.version.cuda is None:
        try:
            torch.zeros(1, device="cuda")  # the real error message, for the rule that matches it
        except Exception as exc:
            raise Outcome("fail", f"{type(exc).__name__}: {exc}") from None
    try:
        torch.cuda.init()
    except Exception as exc:
        raise Outcome("fail", f"{type(exc).__name__}: {exc}") from None
    count = torch.cuda.device_count()
    names = [torch.cuda.get_device_name(i) for i in range(count)]
    data = {
        "count": count,
        "names": names,
        "visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "driver_cuda": _driver_cuda(),
    }
    if count == 0:
        raise Outcome("fail", "torch sees no GPU (torch.cuda.device_count() is 0)", data)
    if want is not None and count < want:
        raise Outcome("fail", f"torch sees {count} GPU(s), {want} expected", data)
    return f"{count} GPU(s): " + ", ".join(names), data


def _driver_cuda() -> str | None:
    """The highest CUDA the driver supports, from ``cuDriverGetVersion`` (needs no ``cuInit``)."""
    import ctypes

    try:
        lib = ctypes.CDLL("libcuda.so.1")
        v = ctypes.c_int(0)
        if lib.cuDriverGetVersion(ctypes.byref(v)) != 0:
            return None
        return f"{v.value // 1000}.{v.value % 1000 // 10}"
    except (OSError, AttributeError):
        return None


def _gpu_info(c: Checks, i: int) -> tuple[str, dict[str, Any]]:
    torch = c.torch
    props = torch.cuda.get_device_properties(i)
    cc = (props.major, props.minor)
    how, which = served_by(cc, list(torch.cuda.get_arch_list()))
    data = {
        "index": i,
        "name": props.name,
        "cc": f"{cc[0]}.{cc[1]}",
        "memory_mib": props.total_memory // (1024 * 1024),
        "multiprocessors": props.multi_processor_count,
        "served_by": how,
        "code": which,
    }
    if how == "none":
        raise Outcome(
            "fail",
            f"{props.name} with CUDA capability sm_{cc[0]}{cc[1]} is not compatible with the current PyTorch "
            f"installation: no kernel image is available for execution on the device "
            f"(torch has {' '.join(torch.cuda.get_arch_list())})",
            data,
        )
    how_text = "machine code" if how == "sass" else "PTX compiled by the driver (JIT)"
    return f"{props.name} (sm_{cc[0]}{cc[1]}) runs torch's {which} {how_text}", data


def _gpu_matmul(c: Checks, i: int) -> tuple[str, dict[str, Any]]:
    torch = c.torch
    dev = torch.device("cuda", i)
    gen = torch.Generator().manual_seed(1234 + i)
    a = torch.randn(512, 384, generator=gen)
    b = torch.randn(384, 256, generator=gen)
    ref = a.double() @ b.double()
    out = torch.full((512, 256), float("nan"), device=dev)
    torch.matmul(a.to(dev), b.to(dev), out=out)
    torch.cuda.synchronize(dev)
    err = rel_error(out, ref)
    data = {"rel_error": err, "shape": [512, 384, 256], "dtype": "float32"}
    # float32 lands far under 1e-3; tf32 (if the user enabled it) near 3e-4; NaN never passes
    if not err < 5e-3:
        raise Outcome(
            "fail", f"float32 matmul on cuda:{i} differs from the CPU: relative error {err:.2e}", data
        )
    return f"float32 matmul matches the CPU (relative error {err:.1e})", data


def _gpu_reduction(c: Checks, i: int) -> tuple[str, dict[str, Any]]:
    torch = c.torch
    dev = torch.device("cuda", i)
    n = 1 << 22
    ints = torch.arange(n, dtype=torch.int64, device=dev).sum().item()
    gen = torch.Generator().manual_seed(99 + i)
    x = torch.rand(n, generator=gen)
    got = x.to(dev).sum(dtype=torch.float64).item()
    want = float(x.double().sum())
    data = {"n": n, "int_sum": ints, "float_sum": got, "reference": want}
    if ints != n * (n - 1) // 2 or not abs(got - want) <= 1e-9 * abs(want):
        raise Outcome(
            "fail",
            f"sum on cuda:{i} is wrong: {ints} / {got!r} (expected {n * (n - 1) // 2} / {want!r})",
            data,
        )
    return f"sum of {n} values exact", data


def _loaded(stem: str) -> str | None:
    """The file of the loaded library ``stem.so…`` (else the first ``stem*``), from ``/proc/self/maps``."""
    found: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                path = line.rstrip("\n").split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
                if os.path.basename(path).startswith(stem) and path not in found:
                    found.append(path)
    except OSError:
        pass
    main = [p for p in found if os.path.basename(p).startswith(stem + ".so")]
    return (main or found)[0] if found else None


def _cudnn(c: Checks) -> tuple[str, dict[str, Any]]:
    torch = c.torch
    version = torch.backends.cudnn.version()
    if version is None or not torch.backends.cudnn.is_available():
        raise Outcome("fail", "torch finds no cuDNN (torch.backends.cudnn.version() is None)")
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, 8, 32, 32, generator=gen)
    w = torch.randn(16, 8, 3, 3, generator=gen)
    ref = torch.nn.functional.conv2d(x.double(), w.double(), padding=1)
    out = torch.nn.functional.conv2d(x.cuda(), w.cuda(), padding=1)
    torch.cuda.synchronize()
    err = rel_error(out, ref)
    major, rest = divmod(int(version), 10000) if version >= 10000 else divmod(int(version), 1000)
    minor, patch = divmod(rest, 100)
    data = {
        "version": f"{major}.{minor}.{patch}",
        "raw": version,
        "file": _loaded("libcudnn"),
        "rel_error": err,
    }
    if not err < 5e-3:
        raise Outcome("fail", f"cuDNN convolution differs from the CPU: relative error {err:.2e}", data)
    return f"cuDNN {data['version']} from {data['file'] or '?'}; a convolution matches the CPU", data


def _nccl_one_rank(c: Checks) -> tuple[str, dict[str, Any]]:
    torch = c.torch
    dist = _mod("torch.distributed")

    version = ".".join(str(v) for v in torch.cuda.nccl.version()) if hasattr(torch.cuda, "nccl") else None
    store = dist.HashStore()
    dev = torch.device("cuda", 0)
    torch.cuda.set_device(dev)
    dist.init_process_group("nccl", store=store, rank=0, world_size=1)
    try:
        x = torch.full((1 << 20,), 3.0, device=dev)
        t0 = time.perf_counter()
        dist.all_reduce(x)
        torch.cuda.synchronize(dev)
        seconds = time.perf_counter() - t0
        ok = bool((x == 3.0).all().item())
    finally:
        dist.destroy_process_group()
    data = {"version": version, "ranks": 1, "first_seconds": seconds, "nccl_file": _loaded("libnccl")}
    if not ok:
        raise Outcome("fail", "one-rank NCCL all-reduce changed the tensor", data)
    return f"NCCL {version}: one-rank all-reduce ran", data


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _multi_all_reduce(c: Checks, cfg: dict[str, Any], ranks: int) -> tuple[str, dict[str, Any]]:
    import subprocess

    backend = cfg.get("nccl_backend", "nccl")
    port = _free_port()
    base = {
        "backend": backend,
        "port": port,
        "world": ranks,
        "bytes": int(cfg.get("nccl_bytes", 256 << 20)),
        "iters": int(cfg.get("nccl_iters", 20)),
    }
    procs = []
    for rank in range(ranks):
        spec = json.dumps({**base, "rank": rank})
        procs.append(
            subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--worker", spec],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    deadline = time.monotonic() + float(cfg.get("nccl_timeout", 120))
    outs: list[tuple[int | None, str, str]] = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=max(deadline - time.monotonic(), 0.1))
            outs.append((p.returncode, out, err))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            for q in procs:
                q.communicate()
            raise Outcome(
                "fail", f"{backend} all-reduce across {ranks} processes hung past its timeout"
            ) from None
    results = []
    for rank, (code, out, err) in enumerate(outs):
        lines = [ln[len(MARK) :] for ln in out.splitlines() if ln.startswith(MARK)]
        if code != 0 or not lines:
            why = signal_name(code or 0) or f"exit {code}"
            tail = (err.strip().splitlines() or ["no output"])[-1]
            raise Outcome("fail", f"rank {rank} of the {backend} all-reduce failed ({why}): {tail[:300]}")
        results.append(json.loads(lines[-1]))
    seconds = max(r["seconds"] for r in results)
    algbw, busbw = bus_bandwidth(base["bytes"], seconds, ranks)
    expected = ranks * (ranks + 1) / 2
    data = {
        "backend": backend,
        "ranks": ranks,
        "bytes": base["bytes"],
        "seconds": seconds,
        "algbw_gbs": algbw,
        "busbw_gbs": busbw,
        "expected_sum": expected,
        "sums_right": all(r["right"] for r in results),
        "version": results[0].get("version"),
    }
    if not data["sums_right"]:
        bad = [r["rank"] for r in results if not r["right"]]
        raise Outcome("fail", f"all-reduce gave a wrong sum on rank(s) {bad} (expected {expected:g})", data)
    return (
        f"{backend} all-reduce across {ranks} processes: sum right, bus bandwidth {busbw:.1f} GB/s "
        f"(algorithm {algbw:.1f} GB/s, {base['bytes'] >> 20} MiB)",
        data,
    )


def worker(spec: dict[str, Any]) -> None:
    """One rank of the multi-process all-reduce: the right sum, then the time of ``iters`` all-reduces."""
    torch = _mod("torch")
    dist = _mod("torch.distributed")

    rank, world, backend = spec["rank"], spec["world"], spec["backend"]
    if backend == "nccl":
        dev = torch.device("cuda", rank)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    store = dist.TCPStore(
        "127.0.0.1", spec["port"], world, rank == 0, timeout=__import__("datetime").timedelta(seconds=60)
    )
    dist.init_process_group(backend, store=store, rank=rank, world_size=world)
    n = spec["bytes"] // 4
    x = torch.full((n,), float(rank + 1), device=dev)
    dist.all_reduce(x)
    expected = world * (world + 1) / 2
    right = bool((x == expected).all().item())
    for _ in range(3):
        dist.all_reduce(x)
    sync = torch.cuda.synchronize if backend == "nccl" else (lambda: None)
    sync()
    dist.barrier()
    times = []
    for _ in range(spec["iters"]):
        t0 = time.perf_counter()
        dist.all_reduce(x)
        sync()
        times.append(time.perf_counter() - t0)
    version = None
    if backend == "nccl":
        version = ".".join(str(v) for v in torch.cuda.nccl.version())
    dist.destroy_process_group()
    emit("rank", rank=rank, right=right, seconds=median(times), version=version)


def _bench(c: Checks, i: int, copy_bytes: int, n: int) -> tuple[str, dict[str, Any]]:
    """Device-to-device copy (bytes read plus written) and a bf16 matmul, each the median of timed runs."""
    torch = c.torch
    dev = torch.device("cuda", i)
    src = torch.randint(0, 255, (copy_bytes,), dtype=torch.uint8, device=dev)
    dst = torch.empty_like(src)
    copy_ms = _timed(torch, dev, functools.partial(dst.copy_, src), 3, 20)
    del src, dst
    gen = torch.Generator(device=dev).manual_seed(5)
    a = torch.randn(n, n, device=dev, dtype=torch.bfloat16, generator=gen)
    b = torch.randn(n, n, device=dev, dtype=torch.bfloat16, generator=gen)
    out = torch.empty(n, n, device=dev, dtype=torch.bfloat16)
    mm_ms = _timed(torch, dev, functools.partial(torch.matmul, a, b, out=out), 3, 20)
    del a, b, out
    bw = 2 * copy_bytes / (copy_ms / 1e3) / 1e9
    tflops = 2 * n**3 / (mm_ms / 1e3) / 1e12
    data = {
        "index": i,
        "copy_bytes": copy_bytes,
        "copy_ms": copy_ms,
        "copy_gbs": bw,
        "matmul_n": n,
        "matmul_ms": mm_ms,
        "bf16_tflops": tflops,
    }
    return f"copy {bw:.0f} GB/s (read + write), bf16 matmul {tflops:.0f} TFLOP/s", data


def _timed(torch: Any, dev: Any, fn: Callable[[], Any], warmup: int, reps: int) -> float:
    """Median milliseconds of ``fn`` on ``dev``, timed with CUDA events after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize(dev)
    times = []
    for _ in range(reps):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return median(times)


# --------------------------------------------------------------------------- neighbouring packages


def _extensions(pkg: str, limit: int = 64) -> tuple[list[str], list[str]]:
    """Load every compiled file of a package: a Python extension by import, a plain library by dlopen.

    Returns ``(loaded, failures)``; a failure names the file and the loader's message (``undefined
    symbol …`` for an ABI break).
    """
    import ctypes
    import importlib
    import importlib.machinery
    import importlib.util

    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        return [], []
    root = next(iter(spec.submodule_search_locations))
    site = os.path.dirname(root)
    suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)
    loaded: list[str] = []
    failures: list[str] = []
    files = []
    for dirpath, _dirs, names in os.walk(root):
        files += [os.path.join(dirpath, n) for n in names if n.endswith(".so") or ".so." in n]
    for path in sorted(files)[:limit]:
        rel = os.path.relpath(path, site)
        suffix = next((s for s in suffixes if rel.endswith(s)), None)
        module = rel[: -len(suffix)].replace(os.sep, ".") if suffix else None
        try:
            if module and all(p.isidentifier() for p in module.split(".")):
                try:
                    importlib.import_module(module)
                except ImportError as exc:
                    if "module export function" not in str(exc):
                        raise
                    ctypes.CDLL(path)  # a plain library named like a module (libfoo_shared.so)
            else:
                ctypes.CDLL(path)
            loaded.append(rel)
        except Exception as exc:
            failures.append(f"{rel}: {type(exc).__name__}: {exc}")
    return loaded, failures


def _package(c: Checks, name: str) -> tuple[str, dict[str, Any]]:
    import importlib
    import importlib.metadata

    mod = importlib.import_module(name)
    version = getattr(mod, "__version__", None)
    loaded, failures = _extensions(name)
    data: dict[str, Any] = {"version": version, "extensions": loaded, "failures": failures}
    if failures:
        raise Outcome("fail", f"{name}: {failures[0]}", data)
    op = _OPS.get(name)
    note = op(c, data) if op is not None else "imported"
    return f"{name} {version or ''}: {len(loaded)} compiled file(s) load; {note}".replace("  ", " "), data


def _close(torch: Any, out: Any, ref: Any, what: str, tol: float, data: dict[str, Any]) -> str:
    err = rel_error(out, ref)
    data["rel_error"] = err
    if not err < tol:
        raise Outcome("fail", f"{what} differs from the reference: relative error {err:.2e}", data)
    return f"{what} matches the reference ({err:.1e})"


def _attn_inputs(torch: Any) -> tuple[Any, Any, Any, Any]:
    gen = torch.Generator(device="cuda").manual_seed(3)
    q, k, v = (torch.randn(1, 64, 4, 64, device="cuda", dtype=torch.float16, generator=gen) for _ in range(3))
    ref = torch.nn.functional.scaled_dot_product_attention(
        q.transpose(1, 2).float(), k.transpose(1, 2).float(), v.transpose(1, 2).float()
    ).transpose(1, 2)
    return q, k, v, ref


def _op_vllm(c: Checks, data: dict[str, Any]) -> str:
    import subprocess

    torch = c.torch
    exe = os.path.join(os.path.dirname(sys.executable), "vllm")
    argv = (
        [exe, "--help"]
        if os.path.exists(exe)
        else [sys.executable, "-m", "vllm.entrypoints.cli.main", "--help"]
    )
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    data["cli_help_exit"] = proc.returncode
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise Outcome("fail", f"'vllm --help' exited {proc.returncode}: {tail[:300]}", data)
    engine = None
    for module, cls in (
        ("vllm.v1.engine.async_llm", "AsyncLLM"),
        ("vllm.engine.async_llm_engine", "AsyncLLMEngine"),
    ):
        try:
            getattr(__import__(module, fromlist=[cls]), cls)
            engine = f"{module}.{cls}"
            break
        except (ImportError, AttributeError) as exc:
            data.setdefault("engine_errors", []).append(f"{module}.{cls}: {exc}")
    if engine is None:
        raise Outcome("fail", "vLLM's engine class does not import: " + data["engine_errors"][-1], data)
    data["engine"] = engine
    ops = _mod("vllm._custom_ops")

    gen = torch.Generator(device="cuda").manual_seed(11)
    x = torch.randn(4, 256, device="cuda", dtype=torch.float16, generator=gen)
    w = torch.rand(256, device="cuda", dtype=torch.float16, generator=gen)
    out = torch.empty_like(x)
    ops.rms_norm(out, x, w, 1e-6)
    xf = x.float()
    ref = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-6) * w.float()
    return f"'vllm --help' runs, {engine} imports; " + _close(torch, out, ref, "rms_norm", 1e-2, data)


def _op_flash_attn(c: Checks, data: dict[str, Any]) -> str:
    flash_attn_func = _mod("flash_attn").flash_attn_func

    q, k, v, ref = _attn_inputs(c.torch)
    return _close(c.torch, flash_attn_func(q, k, v), ref, "flash_attn_func", 1e-2, data)


def _op_xformers(c: Checks, data: dict[str, Any]) -> str:
    xops = _mod("xformers.ops")

    q, k, v, ref = _attn_inputs(c.torch)
    return _close(
        c.torch, xops.memory_efficient_attention(q, k, v), ref, "memory_efficient_attention", 1e-2, data
    )


def _op_flashinfer(c: Checks, data: dict[str, Any]) -> str:
    flashinfer = _mod("flashinfer")

    torch = c.torch
    gen = torch.Generator(device="cuda").manual_seed(13)
    x = torch.randn(4, 256, device="cuda", dtype=torch.float16, generator=gen)
    w = torch.rand(256, device="cuda", dtype=torch.float16, generator=gen)
    out = flashinfer.norm.rmsnorm(x, w, 1e-6)
    xf = x.float()
    ref = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-6) * w.float()
    return _close(torch, out, ref, "rmsnorm", 1e-2, data)


def _op_ctranslate2(c: Checks, data: dict[str, Any]) -> str:
    ctranslate2 = _mod("ctranslate2")

    torch = c.torch
    count = ctranslate2.get_cuda_device_count()
    data["cuda_devices"] = count
    if count == 0:
        raise Outcome("fail", "ctranslate2 sees no CUDA device (get_cuda_device_count() is 0)", data)
    data["compute_types"] = sorted(ctranslate2.get_supported_compute_types("cuda"))
    t = torch.arange(12, dtype=torch.float32, device="cuda").reshape(3, 4)
    back = torch.as_tensor(ctranslate2.StorageView.from_array(t), device="cuda")
    return _close(torch, back, t, "a CUDA StorageView round trip", 1e-6, data)


def _op_onnxruntime(c: Checks, data: dict[str, Any]) -> str:
    ort = _mod("onnxruntime")

    providers = ort.get_available_providers()
    data["providers"] = providers
    if "CUDAExecutionProvider" not in providers:
        raise Outcome(
            "skip", "onnxruntime has no CUDAExecutionProvider (the CPU package, not onnxruntime-gpu)", data
        )
    try:
        np = _mod("numpy")
        onnx = _mod("onnx")
        TensorProto, helper = onnx.TensorProto, onnx.helper
    except ImportError:
        return "CUDAExecutionProvider listed (onnx not installed: no model run)"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    graph = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "add", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CUDAExecutionProvider"])
    data["session_providers"] = sess.get_providers()
    if sess.get_providers()[:1] != ["CUDAExecutionProvider"]:
        raise Outcome("fail", "onnxruntime fell back to the CPU: the CUDA provider did not load", data)
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    (out,) = sess.run(None, {"x": a})
    if not (out == 2 * a).all():
        raise Outcome("fail", "onnxruntime's CUDA Add gave a wrong result", data)
    return "an Add runs on CUDAExecutionProvider"


def _op_bitsandbytes(c: Checks, data: dict[str, Any]) -> str:
    bnbf = _mod("bitsandbytes.functional")

    torch = c.torch
    gen = torch.Generator(device="cuda").manual_seed(17)
    w = torch.randn(256, 256, device="cuda", dtype=torch.float16, generator=gen)
    q, state = bnbf.quantize_4bit(w)
    back = bnbf.dequantize_4bit(q, state)
    return _close(torch, back, w, "4-bit quantize/dequantize", 0.2, data)


_OPS: dict[str, Callable[[Checks, dict[str, Any]], str]] = {
    "vllm": _op_vllm,
    "flash_attn": _op_flash_attn,
    "xformers": _op_xformers,
    "flashinfer": _op_flashinfer,
    "ctranslate2": _op_ctranslate2,
    "onnxruntime": _op_onnxruntime,
    "bitsandbytes": _op_bitsandbytes,
}
"""Import name of each neighbouring package checked when present -> its tiny op (the op is code, so the
names live with it rather than in the knowledge base)."""


# --------------------------------------------------------------------------- main


def _present(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def main(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run every check ``cfg`` asks for; return (and print) the whole result."""
    c = Checks()
    info = {"python": sys.version.split()[0], "executable": sys.executable, "pid": os.getpid()}
    emit("hello", **info)
    want = cfg.get("gpus")
    r = c.run("torch.import", "torch imports", lambda: _import_torch(c))
    gpus: list[int] = []
    if r["status"] == "pass":
        r = c.run(
            "torch.cuda",
            "torch sees the GPUs",
            lambda: _cuda_devices(c, want if isinstance(want, int) else None),
        )
        if r["status"] == "pass":
            count = r["data"]["count"]
            gpus = list(range(min(count, want))) if isinstance(want, int) else list(range(count))
    for i in gpus:
        info_r = c.run(f"gpu{i}.arch", f"GPU {i}: architecture served", functools.partial(_gpu_info, c, i))
        if info_r["status"] != "pass" and info_r["data"].get("served_by") == "none":
            continue  # no kernel can run on it: the kernel checks would only repeat that
        c.run(f"gpu{i}.matmul", f"GPU {i}: matmul against the CPU", functools.partial(_gpu_matmul, c, i))
        c.run(f"gpu{i}.reduction", f"GPU {i}: reduction", functools.partial(_gpu_reduction, c, i))
    if gpus:
        c.run("cudnn", "cuDNN: version, file, a convolution", lambda: _cudnn(c))
        c.run("nccl.one-rank", "NCCL: one-rank all-reduce", lambda: _nccl_one_rank(c))
    ranks = int(cfg.get("nccl_ranks") or len(gpus))
    if cfg.get("nccl") and c.torch is not None:
        if ranks >= 2 and (gpus or cfg.get("nccl_backend") == "gloo"):
            c.run(
                "nccl.all-reduce",
                f"all-reduce across {ranks} processes",
                lambda: _multi_all_reduce(c, cfg, ranks),
            )
        else:
            c.results.append(
                {
                    "id": "nccl.all-reduce",
                    "title": "all-reduce across processes",
                    "status": "skip",
                    "detail": f"needs two or more GPUs; {len(gpus)} visible",
                    "data": {},
                    "seconds": 0.0,
                }
            )
            emit("check", **c.results[-1])
    if cfg.get("packages", True) and gpus:
        for name in _OPS:
            if _present(name):
                c.run(
                    f"package.{name}",
                    f"{name}: imports, extensions load, a tiny op",
                    functools.partial(_package, c, name),
                )
    if cfg.get("bench") and gpus:
        copy_bytes = int(cfg.get("bench_bytes", 1 << 30))
        n = int(cfg.get("bench_n", 8192))
        for i in gpus:
            c.run(
                f"bench.gpu{i}",
                f"GPU {i}: copy bandwidth and bf16 matmul",
                functools.partial(_bench, c, i, copy_bytes, n),
            )
    result = {"info": info, "checks": c.results}
    emit("done", **result)
    return result


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(json.loads(sys.argv[2]))
    else:
        main(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
