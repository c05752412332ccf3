"""Kubernetes nodes -> :class:`~cudalign.fleet.Node`: ``kubectl get nodes -o json`` output, read or run.

The reader accepts what kubectl prints across versions: a ``List`` or ``NodeList`` of items, or one
``Node``; labels under ``metadata.labels`` (``beta.kubernetes.io/arch`` on old clusters); the GPU count
from the GFD label or the device plugin's ``nvidia.com/gpu`` capacity. A node whose labels are alike
reuses one host, so 5,000 nodes of a few kinds cost a few label parses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cudalign.errors import InvalidInput
from cudalign.fleet import NO_GPU, NO_LABELS, Node
from cudalign.fleet.labels import GPU_RESOURCE, PRODUCT, host_from_labels

if TYPE_CHECKING:
    from cudalign.facts import Facts

__all__ = ["KUBECTL_TIMEOUT", "kubectl_nodes", "nodes_from_json"]

KUBECTL_TIMEOUT = 30.0
_SCHEDULING = ("kubernetes.io/arch", "beta.kubernetes.io/arch", "kubernetes.io/hostname")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _items(data: Any, where: str) -> Sequence[Any]:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{where}: expected the JSON of 'kubectl get nodes -o json' (an object)")
    kind = data.get("kind")
    if kind == "Node":
        return [data]
    items = data.get("items")
    if not isinstance(items, list):
        raise InvalidInput(
            f"{where}: no 'items' list (kind {kind!r}); expected the JSON of 'kubectl get nodes -o json'"
        )
    return items


def nodes_from_json(facts: Facts, data: Any, *, where: str = "nodes") -> list[Node]:
    """Every node of a ``kubectl get nodes -o json`` document; errors name ``where`` and the item."""
    nodes: list[Node] = []
    seen: dict[tuple[tuple[str, str], ...], tuple[Any, tuple[str, ...]]] = {}
    for i, item in enumerate(_items(data, where)):
        at = f"{where}: items[{i}]"
        item = _mapping(item, at)
        meta = _mapping(item.get("metadata"), f"{at}.metadata")
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"{at}: no metadata.name")
        raw = _mapping(meta.get("labels"), f"{at}.metadata.labels")
        labels = {str(k): v if isinstance(v, str) else str(v) for k, v in raw.items()}
        status = _mapping(item.get("status"), f"{at}.status")
        info = _mapping(status.get("nodeInfo"), f"{at}.status.nodeInfo")
        capacity = _mapping(status.get("capacity"), f"{at}.status.capacity")
        gpu_labels = {k: v for k, v in labels.items() if k.startswith("nvidia.com/")}
        keep = {k: labels[k] for k in _SCHEDULING if k in labels}
        if PRODUCT not in labels:
            count = str(capacity.get(GPU_RESOURCE, "0"))
            if count.isdigit() and int(count) > 0:
                nodes.append(
                    Node(
                        name,
                        None,
                        NO_LABELS,
                        f"{count} GPU(s) ({GPU_RESOURCE}) but no GPU Feature Discovery labels",
                        {**keep, **gpu_labels},
                    )
                )
            else:
                nodes.append(Node(name, None, NO_GPU, "no GPU labels and no nvidia.com/gpu capacity", keep))
            continue
        arch = info.get("architecture") if isinstance(info.get("architecture"), str) else None
        key = (*sorted(gpu_labels.items()), ("arch", str(labels.get("kubernetes.io/arch") or arch)))
        key = tuple((k, v) for k, v in key if k != "nvidia.com/gfd.timestamp")
        if key not in seen:
            seen[key] = host_from_labels(facts, name, labels, arch)
        host, notes = seen[key]
        nodes.append(Node(name, host, "gpu", None, {**keep, **gpu_labels}, notes))
    return nodes


def kubectl_nodes(context: str | None, *, timeout: float = KUBECTL_TIMEOUT) -> Any:
    """``kubectl get nodes -o json`` (in ``context``), parsed; one-line errors when it cannot run."""
    import json
    import shutil
    import subprocess

    exe = shutil.which("kubectl")
    if exe is None:
        raise InvalidInput("kubectl not found on PATH", hint="install kubectl, or pass --nodes FILE")
    argv = [exe, "get", "nodes", "-o", "json"] + (["--context", context] if context else [])
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise InvalidInput(f"kubectl get nodes did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise InvalidInput(f"kubectl: cannot run: {exc.strerror or exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise InvalidInput(f"kubectl get nodes failed (exit {done.returncode}): {last}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"kubectl get nodes: not JSON: {exc.msg}") from None
