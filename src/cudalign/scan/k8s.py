"""Kubernetes manifests: workload containers, their images, ``nvidia.com/gpu`` limits and the GPU
products that node selectors and node affinity pin them to (``nvidia.com/gpu.product``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cudalign.model import Location
from cudalign.scan.model import EnvVar, ImageRef, K8sContainer, SourceFile
from cudalign.scan.yamlfile import line_of, load_all

__all__ = ["GPU_PRODUCT_LABEL", "looks_like_k8s", "parse_k8s"]

GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
_WORKLOADS = {
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Pod",
    "ReplicationController",
}


def looks_like_k8s(text: str) -> bool:
    """Cheap test before parsing: the text has top-level ``apiVersion:`` and ``kind:`` keys."""
    return "\napiVersion:" in "\n" + text and "\nkind:" in "\n" + text


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _pod_spec(doc: Mapping[str, Any]) -> Any:
    kind = doc.get("kind")
    if kind == "Pod":
        return doc.get("spec")
    if kind == "CronJob":
        return _get(doc, "spec", "jobTemplate", "spec", "template", "spec")
    return _get(doc, "spec", "template", "spec")


def _documents(docs: list[Any]) -> Iterator[Mapping[str, Any]]:
    for doc in docs:
        if isinstance(doc, Mapping) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            yield from (d for d in doc["items"] if isinstance(d, Mapping))
        elif isinstance(doc, Mapping):
            yield doc


def _gpu_products(spec: Mapping[str, Any]) -> tuple[str, ...]:
    products: list[str] = []
    selector = spec.get("nodeSelector")
    if isinstance(selector, Mapping) and isinstance(selector.get(GPU_PRODUCT_LABEL), str):
        products.append(selector[GPU_PRODUCT_LABEL])
    terms = _get(
        spec,
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
    )
    for term in terms if isinstance(terms, list) else ():
        exprs = term.get("matchExpressions") if isinstance(term, Mapping) else None
        for expr in exprs if isinstance(exprs, list) else ():
            if (
                isinstance(expr, Mapping)
                and expr.get("key") == GPU_PRODUCT_LABEL
                and expr.get("operator") == "In"
                and isinstance(expr.get("values"), list)
            ):
                products.extend(str(v) for v in expr["values"])
    return tuple(dict.fromkeys(products))


def _gpu_count(container: Mapping[str, Any]) -> int | None:
    for part in ("limits", "requests"):
        value = _get(container, "resources", part, "nvidia.com/gpu")
        if value is not None:
            try:
                return int(str(value))
            except ValueError:
                return None
    return None


def parse_k8s(path: str, text: str) -> SourceFile:
    """Parse a (multi-document) Kubernetes manifest; never raises on malformed content."""
    docs, problem = load_all(path, text)
    containers: list[K8sContainer] = []
    for doc in _documents(docs):
        kind = doc.get("kind")
        if kind not in _WORKLOADS:
            continue
        name = _get(doc, "metadata", "name")
        workload = f"{kind}/{name if isinstance(name, str) else '?'}"
        spec = _pod_spec(doc)
        if not isinstance(spec, Mapping):
            continue
        products = _gpu_products(spec)
        for group in ("initContainers", "containers"):
            items = spec.get(group)
            for i, c in enumerate(items if isinstance(items, list) else ()):
                if not isinstance(c, Mapping):
                    continue
                loc = Location(path, line_of(items, i))
                image = None
                if isinstance(c.get("image"), str):
                    image = ImageRef(c["image"], Location(path, line_of(c, "image")))
                raw_env = c.get("env")
                env_items: list[Any] = raw_env if isinstance(raw_env, list) else []
                env = tuple(
                    EnvVar(str(e["name"]), str(e.get("value", "")), Location(path, line_of(raw_env, j)))
                    for j, e in enumerate(env_items)
                    if isinstance(e, Mapping) and "name" in e
                )
                containers.append(
                    K8sContainer(
                        workload=workload,
                        name=str(c.get("name", "?")),
                        image=image,
                        location=loc,
                        gpus=_gpu_count(c),
                        gpu_products=products,
                        env=env,
                    )
                )
    return SourceFile(path, "k8s", containers=tuple(containers), problems=(problem,) if problem else ())
