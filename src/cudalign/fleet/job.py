"""A Kubernetes DaemonSet or Job that runs ``cudalign doctor --json`` on every GPU node.

Labels do not show what is installed in an image or on a node (packages, cuDNN, NCCL); the probe does.
Each pod asks the device plugin for one GPU (``nvidia.com/gpu``), tolerates the usual GPU taint, runs only
on nodes GPU Feature Discovery marks (``nvidia.com/gpu.present``), prints its host JSON to its log, and
the logs go to ``cudalign fleet collect``. A DaemonSet pod keeps its GPU until the DaemonSet is deleted;
a Job's pods (one per node, by anti-affinity) end when done.
"""

from __future__ import annotations

from typing import Any

__all__ = ["APP", "manifest", "manifest_objects"]

APP = "cudalign-doctor"
_DEFAULT_IMAGE = "python:3.12-slim"


def _pod_spec(image: str | None, pip_spec: str, restart: str) -> dict[str, Any]:
    probe = "cudalign doctor --json"
    script = probe if image else f"pip install --quiet --disable-pip-version-check {pip_spec} && {probe}"
    if restart == "Always":  # a DaemonSet pod must keep running once its host is printed
        script += "; sleep infinity"
    return {
        "restartPolicy": restart,
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}
                            ]
                        }
                    ]
                }
            }
        },
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "containers": [
            {
                "name": "doctor",
                "image": image or _DEFAULT_IMAGE,
                "command": ["sh", "-c", script],
                "env": [
                    {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "compute,utility"},
                ],
                "resources": {"limits": {"nvidia.com/gpu": 1}},
            }
        ],
    }


def manifest_objects(
    kind: str = "daemonset",
    *,
    namespace: str = "cudalign",
    image: str | None = None,
    pip_spec: str = "cudalign",
    count: int = 1,
) -> list[dict[str, Any]]:
    """The Kubernetes objects: the namespace, then the DaemonSet or the Job."""
    labels = {"app.kubernetes.io/name": APP}
    meta = {"name": APP, "namespace": namespace, "labels": labels}
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    ]
    if kind == "daemonset":
        spec = _pod_spec(image, pip_spec, "Always")
        objects.append(
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": meta,
                "spec": {
                    "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels}, "spec": spec},
                },
            }
        )
        return objects
    spec = _pod_spec(image, pip_spec, "Never")
    spec["affinity"]["podAntiAffinity"] = {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": labels}, "topologyKey": "kubernetes.io/hostname"}
        ]
    }
    objects.append(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta,
            "spec": {
                "completions": count,
                "parallelism": count,
                "backoffLimit": 0,
                "ttlSecondsAfterFinished": 86400,
                "template": {"metadata": {"labels": labels}, "spec": spec},
            },
        }
    )
    return objects


def manifest(kind: str = "daemonset", **options: Any) -> str:
    """The objects as one multi-document YAML file, with how to collect what they print."""
    import yaml

    head = (
        "# Runs 'cudalign doctor --json' once on every GPU node. Collect with:\n"
        f"#   mkdir -p hosts && for p in $(kubectl get pods -n {options.get('namespace', 'cudalign')} "
        f"-l app.kubernetes.io/name={APP} -o name); do\n"
        f"#     kubectl logs -n {options.get('namespace', 'cudalign')} $p > hosts/${{p#pod/}}.json; done\n"
        "#   cudalign fleet collect hosts/ --check REQ...\n"
    )
    docs = [yaml.safe_dump(o, sort_keys=False) for o in manifest_objects(kind, **options)]
    return head + "---\n" + "---\n".join(docs)
