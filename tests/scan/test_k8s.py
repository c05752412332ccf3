"""Kubernetes manifests: workload containers, GPU limits and GPU product labels, with lines."""

from __future__ import annotations

from cudalign.scan.k8s import looks_like_k8s, parse_k8s

MANIFEST = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          nodeSelector:
            nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB
          containers:
            - name: embed
              image: ghcr.io/acme/embed:1.2
              resources:
                limits:
                  nvidia.com/gpu: 2
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: probe}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions:
                  - {key: nvidia.com/gpu.product, operator: In, values: [NVIDIA-L4, Tesla-T4]}
      initContainers:
        - name: init
          image: busybox:1.36
      containers:
        - name: main
          image: nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04
          env:
            - {name: NVIDIA_DRIVER_CAPABILITIES, value: "compute,utility"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: x}
data: {a: b}
"""


def test_containers_images_and_gpus() -> None:
    sf = parse_k8s("k8s/all.yaml", MANIFEST)
    got = [
        (c.workload, c.name, c.image.reference if c.image else None, c.gpus, c.gpu_products, c.location.line)
        for c in sf.containers
    ]
    assert got == [
        ("CronJob/nightly", "embed", "ghcr.io/acme/embed:1.2", 2, ("NVIDIA-A100-SXM4-80GB",), 14),
        ("Pod/probe", "init", "busybox:1.36", None, ("NVIDIA-L4", "Tesla-T4"), 34),
        (
            "Pod/probe",
            "main",
            "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04",
            None,
            ("NVIDIA-L4", "Tesla-T4"),
            37,
        ),
    ]


def test_image_and_env_lines() -> None:
    sf = parse_k8s("k8s/all.yaml", MANIFEST)
    main = sf.containers[2]
    assert main.image is not None and main.image.location.line == 38
    assert [(e.name, e.value, e.location.line) for e in main.env] == [
        ("NVIDIA_DRIVER_CAPABILITIES", "compute,utility", 40)
    ]


def test_looks_like_k8s() -> None:
    assert looks_like_k8s(MANIFEST)
    assert not looks_like_k8s("name: ci\non: push\n")


def test_broken_document_is_a_problem() -> None:
    sf = parse_k8s("k8s/x.yaml", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [\n")
    assert sf.problems and (sf.problems[0].location.line or 0) >= 4
