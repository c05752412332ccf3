"""Run the payload in the target interpreter through a process door, and read its checks back.

One subprocess, one JSON object back (pipdeptree's pattern). The payload also prints each check as it
starts and ends, so when it dies (a segfault in a CUDA library, the kernel's OOM killer, a hang past the
timeout) the checks that finished are kept and the one that was running is reported as what crashed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "PAYLOAD",
    "Check",
    "Classify",
    "PayloadRun",
    "ProcessResult",
    "Runner",
    "crash_check",
    "parse_output",
    "payload_argv",
    "run_payload",
]

PAYLOAD = Path(__file__).with_name("payload.py")
"""The script run inside the target interpreter."""


class ProcessResult(Protocol):
    """What the process door returns (``cudalign.probe.run.Result`` has this shape)."""

    @property
    def returncode(self) -> int | None: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...
    @property
    def timed_out(self) -> bool: ...
    @property
    def error(self) -> str | None: ...


Runner = Callable[[Sequence[str], float], ProcessResult]
"""The process door: ``run(argv, timeout)``; the CLI passes :func:`cudalign.probe.run.run`."""

Classify = Callable[[str], "tuple[str, str] | None"]
"""Error text -> ``(rule, fix)`` (``("CA201 gpu-arch-not-in-build", "Install a build …")``), or ``None``."""


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the checklist: what was checked, how it went, how long it took."""

    id: str
    """Stable id: ``torch.import``, ``gpu0.matmul``, ``nccl.one-rank``, ``package.vllm``, ``static`` …"""
    title: str
    status: str
    """``pass``, ``warn``, ``fail`` or ``skip``."""
    detail: str
    """One line: what was found, or what went wrong."""
    seconds: float | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    """Figures the check measured (versions, files, errors, bandwidths)."""
    error: str | None = None
    """The full error text of a failed check."""
    rule: str | None = None
    """The rule a failure confirms: ``CA201 gpu-arch-not-in-build``."""
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class PayloadRun:
    """What the payload reported: interpreter facts and checks, complete or cut short by a crash."""

    info: Mapping[str, Any]
    checks: tuple[Check, ...]
    complete: bool
    """Whether the payload printed its final result (it did not crash, hang or get killed)."""


def payload_argv(python: str, config: Mapping[str, Any]) -> list[str]:
    """The command that runs the payload in ``python`` with ``config``."""
    return [python, str(PAYLOAD), json.dumps(dict(config), sort_keys=True)]


def _check(raw: Mapping[str, Any]) -> Check:
    data = raw.get("data")
    seconds = raw.get("seconds")
    return Check(
        id=str(raw.get("id", "?")),
        title=str(raw.get("title", "")),
        status=str(raw.get("status", "fail")),
        detail=str(raw.get("detail", "")),
        seconds=float(seconds) if isinstance(seconds, (int, float)) else None,
        data=dict(data) if isinstance(data, Mapping) else {},
        error=str(raw["error"]) if raw.get("error") else None,
    )


def parse_output(stdout: str) -> tuple[dict[str, Any], list[Check], dict[str, Any] | None, bool]:
    """``(info, checks, running, done)`` from the payload's marked lines; other lines are ignored.

    ``running`` is the check that started and never ended (the one that crashed), if any.
    """
    from cudalign.verify.payload import MARK

    info: dict[str, Any] = {}
    checks: list[Check] = []
    running: dict[str, Any] | None = None
    done = False
    for line in stdout.splitlines():
        if not line.startswith(MARK):
            continue
        try:
            event = json.loads(line[len(MARK) :])
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        kind = event.pop("event", None)
        if kind == "hello":
            info.update(event)
        elif kind == "start":
            running = event
        elif kind == "check":
            checks.append(_check(event))
            running = None
        elif kind == "done":
            done = True
            info.update(event.get("info") or {})
            checks = [_check(c) for c in event.get("checks", []) if isinstance(c, Mapping)]
            running = None
    return info, checks, running, done


def crash_check(result: ProcessResult, running: Mapping[str, Any] | None, timeout: float) -> Check:
    """The check that was running when the payload died, saying how it died."""
    from cudalign.verify.payload import signal_name

    cid = str(running.get("id")) if running else "payload"
    title = str(running.get("title")) if running else "the verify payload runs"
    tail = (result.stderr or "").strip().splitlines()
    last = tail[-1][:300] if tail else ""
    code = result.returncode
    if result.timed_out:
        detail = f"hung: no answer within the {timeout:g} s timeout (--timeout); the process was killed"
    elif result.error and code is None:
        detail = result.error
    elif code is not None and code < 0:
        sig = signal_name(code)
        why = " (the kernel's OOM killer sends it when memory runs out)" if sig == "SIGKILL" else ""
        detail = f"the process died of {sig}{why}" + (f"; last words: {last}" if last else "")
    elif "MemoryError" in last or "out of memory" in last.lower():
        detail = f"out of memory: {last}"
    else:
        detail = f"the process exited {code}" + (f": {last}" if last else " without a result")
    return Check(
        cid, title, "fail", detail, None, {"returncode": code}, error=(result.stderr or "")[-4000:] or None
    )


def run_payload(
    python: str,
    config: Mapping[str, Any],
    run: Runner,
    timeout: float,
    classify: Classify | None = None,
) -> PayloadRun:
    """Run the payload in ``python`` and return its checks, each failure given its rule by ``classify``."""
    result = run(payload_argv(python, config), timeout)
    info, checks, running, done = parse_output(result.stdout)
    if not done:
        checks.append(crash_check(result, running, timeout))
    if classify is not None:
        checks = [classified(c, classify) for c in checks]
    return PayloadRun(info, tuple(checks), done)


def classified(check: Check, classify: Classify) -> Check:
    """``check`` with the rule its failure confirms, when its error text matches one."""
    if check.status != "fail" or check.rule:
        return check
    found = classify(check.error or check.detail)
    if found is None and check.error:
        found = classify(check.detail)
    return replace(check, rule=found[0], fix=found[1]) if found else check
