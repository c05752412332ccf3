"""An OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp): health, models, a completion, a chat, a load.

The load sends ``requests`` streaming completions, ``concurrency`` at a time, and measures them as
``vllm bench serve`` does (``vllm/benchmarks/serve.py``): TTFT is the time from sending a request to its
first streamed token; ITL the gaps between successive streamed chunks, pooled over all requests; TPOT
a request's (latency − TTFT) / (output tokens − 1); output throughput the output tokens of all
successful requests over the duration of the whole load. Output tokens are the server's
``usage.completion_tokens`` (asked for with ``stream_options.include_usage``), else the chunks counted.
Per-request output tokens/s (tokens / latency) is given as p50/p90/p99 beside it. Failures are counted
by kind: ``http 503``, ``timeout``, ``connection``, ``bad stream``, ``empty``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cudalign.errors import InvalidInput
from cudalign.verify.checks import Check

__all__ = [
    "SAVED_SCHEMA",
    "EndpointRun",
    "LoadSpec",
    "Sample",
    "compare",
    "dumps_saved",
    "load_saved",
    "percentile",
    "summarize",
    "to_data",
    "verify_endpoint",
]

SAVED_SCHEMA = "cudalign.verify-endpoint/1"
_PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."


@dataclass(frozen=True, slots=True)
class LoadSpec:
    concurrency: int
    requests: int
    max_tokens: int
    timeout: float = 120.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One request of the load."""

    ok: bool
    ttft: float | None = None
    latency: float | None = None
    itl: tuple[float, ...] = ()
    output_tokens: int = 0
    error: str | None = None
    """The kind of failure (``http 500``, ``timeout`` …)."""


@dataclass(frozen=True, slots=True)
class EndpointRun:
    url: str
    model: str | None
    checks: tuple[Check, ...]
    samples: tuple[Sample, ...] = ()
    duration: float = 0.0
    spec: LoadSpec | None = None
    figures: Mapping[str, Any] = field(default_factory=dict)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile with linear interpolation between closest ranks (numpy's default, which
    ``vllm bench serve`` uses)."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _stats(values: list[float], scale: float = 1.0) -> dict[str, float | None]:
    vals = [v * scale for v in values]
    return {
        "p50": percentile(vals, 50),
        "p90": percentile(vals, 90),
        "p99": percentile(vals, 99),
        "mean": sum(vals) / len(vals) if vals else None,
    }


def summarize(samples: tuple[Sample, ...] | list[Sample], duration: float) -> dict[str, Any]:
    """The load's figures from its samples, with ``vllm bench serve``'s definitions (times in ms)."""
    good = [s for s in samples if s.ok]
    ttft = [s.ttft for s in good if s.ttft is not None]
    itl = [gap for s in good for gap in s.itl]
    tpot = [
        (s.latency - s.ttft) / (s.output_tokens - 1)
        for s in good
        if s.latency is not None and s.ttft is not None and s.output_tokens > 1
    ]
    per_request = [s.output_tokens / s.latency for s in good if s.latency]
    out_tokens = sum(s.output_tokens for s in good)
    errors: dict[str, int] = {}
    for s in samples:
        if not s.ok:
            errors[s.error or "error"] = errors.get(s.error or "error", 0) + 1
    return {
        "metrics": {
            "ttft_ms": _stats(ttft, 1000),
            "itl_ms": _stats(itl, 1000),
            "tpot_ms": _stats(tpot, 1000),
            "output_tok_s_per_request": _stats(per_request),
        },
        "summary": {
            "requests": len(samples),
            "successful": len(good),
            "failed": len(samples) - len(good),
            "duration_s": round(duration, 3),
            "output_tokens": out_tokens,
            "output_throughput_tok_s": round(out_tokens / duration, 2) if duration > 0 else None,
            "request_throughput_req_s": round(len(good) / duration, 3) if duration > 0 else None,
        },
        "errors": dict(sorted(errors.items())),
    }


# --------------------------------------------------------------------------- HTTP


class _Failure(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def _request(url: str, body: Mapping[str, Any] | None, timeout: float) -> Any:
    """An open response for GET (``body`` None) or POST JSON; failures become :class:`_Failure`."""
    import socket
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        return urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        text = exc.read(300).decode("utf-8", "replace").strip()
        raise _Failure(f"http {exc.code}", f"HTTP {exc.code}: {text[:200]}") from None
    except TimeoutError:
        raise _Failure("timeout", f"no answer within {timeout:g} s") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        kind = "timeout" if isinstance(reason, (TimeoutError, socket.timeout)) else "connection"
        raise _Failure(kind, f"{kind}: {reason}") from None
    except OSError as exc:
        raise _Failure("connection", f"connection: {exc}") from None


def _json(url: str, body: Mapping[str, Any] | None, timeout: float) -> Any:

    with _request(url, body, timeout) as resp:
        try:
            raw = resp.read(8 * 1024 * 1024)
        except TimeoutError:
            raise _Failure("timeout", f"no answer within {timeout:g} s") from None
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        raise _Failure("bad json", "the answer is not JSON") from None


def _events(resp: Any) -> Iterator[Any]:
    """The ``data:`` payloads of a server-sent event stream, parsed, until ``[DONE]``."""
    for raw in resp:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        try:
            yield json.loads(payload)
        except ValueError:
            raise _Failure("bad stream", f"not JSON in the stream: {payload[:80]!r}") from None


def _stream_one(base: str, model: str, max_tokens: int, timeout: float) -> Sample:
    """One streaming completion, timed as ``vllm bench serve`` times it."""

    body = {
        "model": model,
        "prompt": _PROMPT,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    start = time.perf_counter()
    ttft: float | None = None
    last = start
    itl: list[float] = []
    chunks = 0
    usage: int | None = None
    try:
        with _request(base + "/v1/completions", body, timeout) as resp:
            for event in _events(resp):
                if (
                    isinstance(event.get("usage"), dict)
                    and event["usage"].get("completion_tokens") is not None
                ):
                    usage = int(event["usage"]["completion_tokens"])
                choices = event.get("choices") or []
                text = choices[0].get("text") if choices and isinstance(choices[0], dict) else None
                if not text:
                    continue
                now = time.perf_counter()
                if ttft is None:
                    ttft = now - start
                else:
                    itl.append(now - last)
                last = now
                chunks += 1
    except _Failure as f:
        return Sample(False, error=f.kind)
    except TimeoutError:
        return Sample(False, error="timeout")
    except OSError:
        return Sample(False, error="connection")
    if ttft is None:
        return Sample(False, error="empty")
    return Sample(True, ttft, last - start, tuple(itl), usage if usage is not None else chunks)


def _load(
    base: str, model: str, spec: LoadSpec, on_done: Callable[[], None] | None
) -> tuple[list[Sample], float]:
    samples: list[Sample] = []
    lock = threading.Lock()
    todo = iter(range(spec.requests))

    def worker() -> None:
        while True:
            with lock:
                if next(todo, None) is None:
                    return
            s = _stream_one(base, model, spec.max_tokens, spec.timeout)
            with lock:
                samples.append(s)
            if on_done is not None:
                on_done()

    start = time.perf_counter()
    threads = [
        threading.Thread(target=worker, daemon=True) for _ in range(min(spec.concurrency, spec.requests))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples, time.perf_counter() - start


def _check(cid: str, title: str, fn: Callable[[], tuple[str, dict[str, Any]]]) -> Check:
    t0 = time.perf_counter()
    try:
        detail, data = fn()
        return Check(cid, title, "pass", detail, time.perf_counter() - t0, data)
    except _Failure as f:
        return Check(cid, title, "fail", f.detail, time.perf_counter() - t0, {"kind": f.kind})


def verify_endpoint(
    url: str, spec: LoadSpec, *, model: str | None = None, on_done: Callable[[], None] | None = None
) -> EndpointRun:
    """Health, models, one completion, one chat completion, then the bounded streaming load."""
    base = url.rstrip("/")
    if base.endswith("/v1"):
        base = base[:-3]
    if not base.startswith(("http://", "https://")):
        raise InvalidInput(f"--endpoint: {url!r} is not an http:// or https:// URL")
    t = min(spec.timeout, 30.0)
    checks = [_check("endpoint.health", "GET /health", lambda: ("healthy", _health(base, t)))]
    found: dict[str, str] = {}

    def models() -> tuple[str, dict[str, Any]]:
        answer = _json(base + "/v1/models", None, t)
        ids = [m.get("id") for m in (answer or {}).get("data", []) if isinstance(m, dict)]
        if not ids:
            raise _Failure("no models", "/v1/models lists no model")
        found["model"] = model or str(ids[0])
        return f"{len(ids)} model(s): {', '.join(map(str, ids[:4]))}", {"models": ids}

    checks.append(_check("endpoint.models", "GET /v1/models", models))
    chosen = found.get("model") or model
    if chosen is None:
        return EndpointRun(base, None, tuple(checks))
    checks.append(_check("endpoint.completion", "one completion", lambda: _one(base, chosen, False, spec)))
    checks.append(_check("endpoint.chat", "one chat completion", lambda: _one(base, chosen, True, spec)))
    samples, duration = _load(base, chosen, spec, on_done)
    figures = summarize(samples, duration)
    s = figures["summary"]
    status = "pass" if s["failed"] == 0 else "fail"
    detail = (
        f"{s['successful']}/{s['requests']} streamed at concurrency {spec.concurrency}: "
        f"{s['output_throughput_tok_s']} output tok/s, TTFT p50 {_ms(figures['metrics']['ttft_ms']['p50'])}"
    )
    if figures["errors"]:
        detail += "; errors: " + ", ".join(f"{k} {n}" for k, n in figures["errors"].items())
    checks.append(
        Check("endpoint.load", "streaming load", status, detail, duration, {"errors": figures["errors"]})
    )
    return EndpointRun(base, chosen, tuple(checks), tuple(samples), duration, spec, figures)


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f} ms"


def _health(base: str, timeout: float) -> dict[str, Any]:
    with _request(base + "/health", None, timeout) as resp:
        return {"status": resp.status}


def _one(base: str, model: str, chat: bool, spec: LoadSpec) -> tuple[str, dict[str, Any]]:
    if chat:
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "Say hello."}]}
        path = "/v1/chat/completions"
    else:
        body = {"model": model, "prompt": "Hello, my name is"}
        path = "/v1/completions"
    body["max_tokens"] = min(spec.max_tokens, 16)
    answer = _json(base + path, body, spec.timeout)
    choices = (answer or {}).get("choices") or []
    first = choices[0] if choices and isinstance(choices[0], dict) else {}
    text = (first.get("message") or {}).get("content") if chat else first.get("text")
    if not text:
        raise _Failure("empty", f"{path} answered with no text")
    return f"{len(str(text))} characters back", {"text": str(text)[:200]}


# --------------------------------------------------------------------------- keep and compare


def dumps_saved(run: EndpointRun) -> str:
    """The run as the JSON ``--save`` writes."""
    spec = run.spec
    return json.dumps(
        {
            "schema": SAVED_SCHEMA,
            "url": run.url,
            "model": run.model,
            "load": None
            if spec is None
            else {"concurrency": spec.concurrency, "requests": spec.requests, "max_tokens": spec.max_tokens},
            **dict(run.figures),
        },
        indent=2,
    )


def load_saved(data: Any, where: str) -> dict[str, Any]:
    """A run kept with ``--save``; one line naming the file when it is not one."""
    if not isinstance(data, dict) or data.get("schema") != SAVED_SCHEMA:
        raise InvalidInput(
            f"{where}: not a run saved with 'verify --endpoint … --save' (schema {SAVED_SCHEMA})"
        )
    if not isinstance(data.get("metrics"), dict) or not isinstance(data.get("summary"), dict):
        raise InvalidInput(f"{where}: the saved run has no metrics")
    return data


_COMPARED = (
    ("output throughput (tok/s)", ("summary", "output_throughput_tok_s"), True),
    ("TTFT p50 (ms)", ("metrics", "ttft_ms", "p50"), False),
    ("TTFT p99 (ms)", ("metrics", "ttft_ms", "p99"), False),
    ("ITL p50 (ms)", ("metrics", "itl_ms", "p50"), False),
    ("ITL p99 (ms)", ("metrics", "itl_ms", "p99"), False),
    ("TPOT p50 (ms)", ("metrics", "tpot_ms", "p50"), False),
    ("tok/s per request p50", ("metrics", "output_tok_s_per_request", "p50"), True),
    ("failed requests", ("summary", "failed"), False),
)


def _dig(data: Mapping[str, Any], path: tuple[str, ...]) -> float | None:
    cur: Any = data
    for key in path:
        cur = cur.get(key) if isinstance(cur, Mapping) else None
    return float(cur) if isinstance(cur, (int, float)) and not isinstance(cur, bool) else None


def compare(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The before/after table: each figure, both values and the change (``+12.5%``, better or worse)."""
    rows = []
    for label, path, higher_better in _COMPARED:
        b, a = _dig(before, path), _dig(after, path)
        if b is None and a is None:
            continue
        if b is None or a is None:
            change = "-"
        elif b == 0:
            change = "same" if a == 0 else "new"
        else:
            pct = (a - b) / b * 100
            better = pct > 0 if higher_better else pct < 0
            change = f"{pct:+.1f}%" + ("" if abs(pct) < 0.05 else (" better" if better else " worse"))
        rows.append({"metric": label, "before": b, "after": a, "change": change})
    return rows


def to_data(run: EndpointRun, before: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The endpoint part of the verify report's JSON."""
    spec = run.spec
    data: dict[str, Any] = {
        "url": run.url,
        "model": run.model,
        "load": {
            "concurrency": spec.concurrency if spec else None,
            "requests": spec.requests if spec else None,
            "max_tokens": spec.max_tokens if spec else None,
            **dict(run.figures),
        },
    }
    if before is not None and run.figures:
        data["compare"] = compare(before, run.figures)
    return data
