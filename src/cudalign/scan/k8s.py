"""Kubernetes manifests: workload containers, their images, ``nvidia.com/gpu`` limits and the GPU
products that node selectors and node affinity pin them to (``nvidia.com/gpu.product``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from cudalign.model import Location
from cudalign.scan.model import EnvVar, ImageRef, K8sContainer, SourceFile
from cudalign.scan.yamlfile import line_of, load_all

__all__ = ["GPU_PRODUCT_LABEL", "looks_like_k8s", "parse_k8s", "resolve_runtimes"]

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


_ACCELERATOR_RESOURCES = (
    "amd.com/gpu",
    "huawei.com/ascend",
    "gpu.intel.com/",
    "google.com/tpu",
    "habana.ai/",
)


def _other_accelerators(container: Mapping[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    for part in ("limits", "requests"):
        table = _get(container, "resources", part)
        for key in table if isinstance(table, Mapping) else ():
            k = str(key).lower()
            if any(k.startswith(r) for r in _ACCELERATOR_RESOURCES):
                found.append(str(key))
    return tuple(dict.fromkeys(found))


def _pod_specs(doc: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every pod spec of a document: a workload's, and in any custom resource each mapping under
    ``spec`` that holds a ``containers`` list (KServe's predictor, KubeRay's head and worker groups,
    LeaderWorkerSet's leader and worker templates …), with its path for the report."""
    kind = doc.get("kind")
    if kind in _WORKLOADS:
        spec = _pod_spec(doc)
        if isinstance(spec, Mapping):
            yield "", spec
        return
    todo: list[tuple[str, Any, int]] = [("", doc.get("spec"), 0)]
    while todo:
        where, node, depth = todo.pop()
        if depth > 12:
            continue
        if isinstance(node, Mapping):
            if isinstance(node.get("containers"), list):
                yield where, node
                continue
            for key, value in node.items():
                if isinstance(value, (Mapping, list)):
                    todo.append((f"{where}.{key}" if where else str(key), value, depth + 1))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                if isinstance(value, (Mapping, list)):
                    todo.append((f"{where}[{i}]", value, depth + 1))


def parse_k8s(path: str, text: str) -> SourceFile:
    """Parse a (multi-document) Kubernetes manifest, custom resources with pod templates included;
    never raises on malformed content."""
    docs, problem = load_all(path, text)
    containers: list[K8sContainer] = []
    for doc in _documents(docs):
        kind = doc.get("kind")
        if not isinstance(kind, str):
            continue
        name = _get(doc, "metadata", "name")
        base = f"{kind}/{name if isinstance(name, str) else '?'}"
        serves = _runtime_formats(doc) if kind in ("ServingRuntime", "ClusterServingRuntime") else ()
        for where, spec in sorted(_pod_specs(doc), key=lambda p: p[0]):
            workload = base if not where else f"{base}:{_short(where)}"
            found = _containers(path, workload, spec)
            containers.extend(replace(c, serves=serves) for c in found) if serves else containers.extend(
                found
            )
        if kind == "InferenceService":
            containers.extend(_kserve_models(path, base, doc))
    return SourceFile(path, "k8s", containers=tuple(containers), problems=(problem,) if problem else ())


def _short(where: str) -> str:
    """``spec.workerGroupSpecs[0].template.spec`` -> ``workerGroupSpecs[0]``."""
    parts = [p for p in where.split(".") if p not in ("spec", "template")]
    return ".".join(parts) or where


def _containers(path: str, workload: str, spec: Mapping[str, Any]) -> list[K8sContainer]:
    products = _gpu_products(spec)
    out: list[K8sContainer] = []
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
            out.append(
                K8sContainer(
                    workload=workload,
                    name=str(c.get("name", "?")),
                    image=image,
                    location=loc,
                    gpus=_gpu_count(c),
                    gpu_products=products,
                    env=env,
                    accelerators=_other_accelerators(c),
                )
            )
    return out


# KServe's predictor shorthands: ``spec.predictor.<framework>`` is a model of that format
_KSERVE_FORMATS = (
    "sklearn",
    "xgboost",
    "lightgbm",
    "tensorflow",
    "pytorch",
    "triton",
    "onnx",
    "huggingface",
    "paddle",
    "pmml",
)


def _runtime_formats(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """The model formats a ServingRuntime is picked for without being named (``autoSelect: true``)."""
    formats = _get(doc, "spec", "supportedModelFormats")
    out: list[str] = []
    for f in formats if isinstance(formats, list) else ():
        if isinstance(f, Mapping) and isinstance(f.get("name"), str) and f.get("autoSelect") is True:
            out.append(str(f["name"]).lower())
    return tuple(out) or ("-",)  # '-': a runtime, picked only by name


def _kserve_models(path: str, base: str, doc: Mapping[str, Any]) -> list[K8sContainer]:
    """A KServe ``InferenceService`` predictor given as a model (``spec.predictor.model`` or a framework
    shorthand such as ``spec.predictor.huggingface``): a container whose image is its serving runtime's
    (named by ``runtime:``, else picked by model format), with the model's GPU limit and the predictor's
    node selector; the image is filled in by :func:`resolve_runtimes`."""
    predictor = _get(doc, "spec", "predictor")
    if not isinstance(predictor, Mapping):
        return []
    out: list[K8sContainer] = []
    for key in ("model", *_KSERVE_FORMATS):
        model = predictor.get(key)
        if not isinstance(model, Mapping):
            continue
        runtime = model.get("runtime")
        fmt = _get(model, "modelFormat", "name") if key == "model" else key
        if isinstance(runtime, str) and runtime:
            target = runtime
        elif isinstance(fmt, str) and fmt:
            target = f"format:{fmt.lower()}"
        else:
            continue
        raw_env = model.get("env")
        env_items: list[Any] = raw_env if isinstance(raw_env, list) else []
        out.append(
            K8sContainer(
                workload=f"{base}:predictor",
                name=key,
                image=None,
                location=Location(path, line_of(predictor, key)),
                gpus=_gpu_count(model),
                gpu_products=_gpu_products(predictor),
                env=tuple(
                    EnvVar(str(e["name"]), str(e.get("value", "")), Location(path, line_of(raw_env, j)))
                    for j, e in enumerate(env_items)
                    if isinstance(e, Mapping) and "name" in e
                ),
                accelerators=_other_accelerators(model),
                runtime=target,
            )
        )
    return out


def resolve_runtimes(containers: list[K8sContainer]) -> tuple[dict[int, K8sContainer], list[str]]:
    """The image of every KServe model container, from the ``ServingRuntime`` of the repository it names
    (or, by model format, the one runtime that is picked for it): index -> resolved container, and a note
    for each model whose runtime the repository does not hold (KServe picks it in the cluster)."""
    by_name: dict[str, K8sContainer] = {}
    by_format: dict[str, list[K8sContainer]] = {}
    for c in containers:
        if c.serves and c.image is not None:
            by_name.setdefault(c.workload.split("/", 1)[1].split(":", 1)[0], c)
            for fmt in c.serves:
                by_format.setdefault(fmt, []).append(c)
    resolved: dict[int, K8sContainer] = {}
    notes: list[str] = []
    for i, c in enumerate(containers):
        if c.runtime is None or c.image is not None:
            continue
        runtime: K8sContainer | None
        if c.runtime.startswith("format:"):
            candidates = {r.workload: r for r in by_format.get(c.runtime[len("format:") :], [])}
            runtime = next(iter(candidates.values())) if len(candidates) == 1 else None
        else:
            runtime = by_name.get(c.runtime)
        where = f"{c.location.file}:{c.location.line}"
        if runtime is None or runtime.image is None:
            what = (
                f"model format {c.runtime[len('format:') :]!r}"
                if c.runtime.startswith("format:")
                else f"runtime {c.runtime!r}"
            )
            notes.append(
                f"{where}: {c.workload} serves its model with the {what}, which no ServingRuntime of the "
                "repository provides: KServe picks the image in the cluster, so its CUDA is not judged"
            )
            continue
        resolved[i] = replace(c, image=runtime.image)
    return resolved, notes
