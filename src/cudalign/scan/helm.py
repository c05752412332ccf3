"""Helm charts without Helm: the images and GPU requests a chart's ``values.yaml`` sets.

Templates are Go templates, which scan does not run; most charts put what scan needs (image
repository and tag, ``nvidia.com/gpu`` limits, a GPU count) in ``values.yaml``, which is plain YAML. Each
mapping of the values that names an image (``repository`` with ``tag``, or an ``image: repo:tag``
string) becomes a container at the line of that value, with the GPUs its own subtree (or its parent's)
requests and the GPU product its ``nodeSelector`` pins (``nvidia.com/gpu.product``; in its own subtree, its
parent's, or at the top of the values). A tag left empty takes the chart's ``appVersion``, as charts'
templates conventionally do.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from typing import Any

from cudalign.model import Location
from cudalign.scan.k8s import GPU_PRODUCT_LABEL
from cudalign.scan.model import ImageRef, K8sContainer, SourceFile
from cudalign.scan.yamlfile import line_of, load_all

__all__ = ["parse_values"]

_MAX_DEPTH = 16


def _chart_info(chart_text: str | None) -> tuple[str | None, str | None]:
    if not chart_text:
        return None, None
    docs, _ = load_all("Chart.yaml", chart_text)
    doc = docs[0] if docs and isinstance(docs[0], Mapping) else {}
    name, app = doc.get("name"), doc.get("appVersion")
    return (str(name) if name is not None else None, str(app) if app is not None else None)


def _gpus(node: Any, depth: int = 0) -> int | None:
    """The GPU count a subtree asks for: ``nvidia.com/gpu`` or a key that names a GPU count."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(node, Mapping):
        for key, value in node.items():
            k = str(key).lower()
            if k in ("gpu", "gpus") and isinstance(value, Mapping):  # gpu: {count: 2}
                value = next((value[c] for c in ("count", "number", "num", "limit") if c in value), None)
                if value is None:
                    continue
            if k == "nvidia.com/gpu" or (k in ("gpu", "gpus", "requestgpu", "gpucount", "numgpus")):
                try:
                    n = int(str(value))
                except ValueError:
                    continue
                if n > 0:
                    return n
            if isinstance(value, (Mapping, list)):
                found = _gpus(value, depth + 1)
                if found:
                    return found
    elif isinstance(node, list):
        for value in node:
            found = _gpus(value, depth + 1)
            if found:
                return found
    return None


def _products(node: Any) -> tuple[str, ...]:
    """``nodeSelector: {nvidia.com/gpu.product: …}`` directly under a values mapping."""
    selector = node.get("nodeSelector") if isinstance(node, Mapping) else None
    value = selector.get(GPU_PRODUCT_LABEL) if isinstance(selector, Mapping) else None
    return (value,) if isinstance(value, str) and value and "{{" not in value else ()


def _images(
    node: Any, where: str, parent: Any, app_version: str | None, depth: int = 0
) -> Iterator[tuple[str, str, int, Any, Any]]:
    """(path, image, line, its mapping, the parent mapping) for each image the values name."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, Mapping):
        repo = node.get("repository")
        if isinstance(repo, str) and repo and ("tag" in node or "image" not in node):
            tag = node.get("tag")
            tag_text = str(tag) if tag not in (None, "") else app_version
            registry = node.get("registry")
            full = f"{registry}/{repo}" if isinstance(registry, str) and registry else repo
            ref = f"{full}:{tag_text}" if tag_text and ":" not in full.rsplit("/", 1)[-1] else full
            yield where, ref, line_of(node, "repository"), node, parent
        image = node.get("image")
        if isinstance(image, str) and image and ("/" in image or ":" in image):
            yield where, image, line_of(node, "image"), node, parent
        for key, value in node.items():
            if isinstance(value, (Mapping, list)):
                yield from _images(
                    value, f"{where}.{key}" if where else str(key), node, app_version, depth + 1
                )
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _images(value, f"{where}[{i}]", parent, app_version, depth + 1)


def parse_values(path: str, text: str, chart_text: str | None) -> SourceFile:
    """A chart's ``values.yaml`` as containers (``helm:<chart>/<path>``); never raises on content."""
    docs, problem = load_all(path, text)
    name, app_version = _chart_info(chart_text)
    chart = name or posixpath.basename(posixpath.dirname(path)) or "."
    containers: list[K8sContainer] = []
    skipped: list[str] = []
    for doc in docs:
        if not isinstance(doc, Mapping):
            continue
        for where, image, line, node, parent in _images(doc, "", None, app_version):
            if "{{" in image:
                skipped.append(
                    f"{path}:{line}: image {image!r} is a template expression: not rendered, not judged"
                )
                continue
            gpus = _gpus(node) or (_gpus(parent) if isinstance(parent, Mapping) else None)
            products = _products(node) or _products(parent) or _products(doc)
            loc = Location(path, line)
            containers.append(
                K8sContainer(
                    workload=f"helm:{chart}",
                    name=where or "image",
                    image=ImageRef(image, loc),
                    location=loc,
                    gpus=gpus,
                    gpu_products=products,
                )
            )
    notes = (
        f"{path}: chart rendered from values.yaml without Helm (templates' conditions and loops not "
        "evaluated)",
        *skipped,
    )
    if not containers and not problem:
        notes += (
            f"{path}: names no image (repository and tag): the chart's templates set it, which scan does "
            "not render; its services are not judged",
        )
    return SourceFile(
        path, "k8s", containers=tuple(containers), problems=(problem,) if problem else (), notes=notes
    )
