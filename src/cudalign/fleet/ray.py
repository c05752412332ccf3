"""Ray: run the probe once on every alive node (node-affinity scheduling) and collect the hosts.

Ray is optional (``pip install 'cudalign[ray]'``) and imported only here. A node that does not answer
within the timeout, or dies while probing, is reported as unreachable, never waited for. An address that
does not answer is one error within the timeout.

The function each node runs is passed in (the CLI passes the real probe, returning ``Host.to_json()``;
tests pass one that reads a recorded host, so a cluster without GPUs answers as a GPU cluster would).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from cudalign.errors import InvalidInput
from cudalign.fleet import UNREACHABLE, Node

__all__ = ["PROBE", "ray_nodes"]


PROBE: Callable[[], dict[str, Any]] | None = None
"""The function each node runs when ``ray_nodes`` is given none (the CLI passes the real probe)."""


def _call(probe: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What each Ray task runs: the probe it was handed."""
    return probe()


def _reachable(address: str, timeout: float) -> None:
    """Fail fast, in one line, when a ``host:port`` address does not accept a connection."""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return  # 'auto', 'local' and other forms: Ray resolves them itself
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=min(timeout, 10.0)):
            pass
    except OSError as exc:
        raise InvalidInput(
            f"--address {address}: no Ray cluster answers there ({exc.strerror or exc})"
        ) from None


def _connect(ray: Any, address: str | None, timeout: float) -> None:
    done: dict[str, BaseException | None] = {}

    def init() -> None:
        try:
            ray.init(
                address=address or "auto",
                logging_level="ERROR",
                log_to_driver=False,
                ignore_reinit_error=True,
            )
            done["error"] = None
        except BaseException as exc:  # reported in the caller's thread
            done["error"] = exc

    t = threading.Thread(target=init, daemon=True)
    t.start()
    t.join(timeout)
    if "error" not in done:
        raise InvalidInput(f"--address {address or 'auto'}: Ray did not connect within {timeout:g} s")
    if done["error"] is not None:
        first = (str(done["error"]).strip().splitlines() or [type(done["error"]).__name__])[0]
        raise InvalidInput(f"--address {address or 'auto'}: cannot connect to Ray: {first}")


def ray_nodes(
    address: str | None,
    *,
    timeout: float = 60.0,
    probe: Callable[[], dict[str, Any]] | None = None,
    on_answer: Callable[[Node], None] | None = None,
) -> list[Node]:
    """Probe every alive node once; nodes without an answer within ``timeout`` are unreachable."""
    try:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    except ImportError:
        raise InvalidInput("Ray is not installed", hint="pip install 'cudalign[ray]'") from None
    from cudalign.errors import InvalidHost
    from cudalign.model import host_from_json

    start = time.monotonic()
    if address:
        _reachable(address, timeout)
    _connect(ray, address, timeout)
    try:
        fn = probe or PROBE
        if fn is None:
            raise InvalidInput("fleet ray: no probe function to run on the nodes")
        remote = ray.remote(num_cpus=0, max_retries=0)(_call)
        alive = [n for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
        refs = {}
        for n in alive:
            strategy = NodeAffinitySchedulingStrategy(node_id=n["NodeID"], soft=False)
            refs[remote.options(scheduling_strategy=strategy).remote(fn)] = n
        left = max(0.0, timeout - (time.monotonic() - start))
        ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=left)
        nodes: list[Node] = []
        for ref, info in refs.items():
            name = str(info.get("NodeManagerHostname") or info["NodeID"][:12])
            label = f"{name} ({info['NodeID'][:8]})"
            if ref not in ready:
                node = Node(label, None, UNREACHABLE, f"no answer within {timeout:g} s")
            else:
                try:
                    host = host_from_json(ray.get(ref, timeout=1.0), where="")
                    node = Node(
                        label,
                        host,
                        "gpu" if host.gpus else "no-gpu",
                        None if host.gpus else "the probe found no GPU",
                    )
                except InvalidHost as exc:
                    node = Node(label, None, UNREACHABLE, f"answered with an invalid host: {exc}")
                except Exception as exc:  # the node died or the task failed: report, do not raise
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    node = Node(label, None, UNREACHABLE, f"{type(exc).__name__}: {first[:200]}")
            nodes.append(node)
            if on_answer is not None:
                on_answer(node)
        for ref in refs:
            if ref not in ready:
                with contextlib.suppress(Exception):  # its node is gone: nothing left to cancel
                    ray.cancel(ref, force=True)
        return nodes
    finally:
        ray.shutdown()
