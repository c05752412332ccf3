"""Compose files: services, contexts, images, GPU reservations and environment, with lines."""

from __future__ import annotations

from cudalign.scan.compose import parse_compose

COMPOSE = """\
x-gpu: &gpu
  deploy:
    resources:
      reservations:
        devices:
          - capabilities: [gpu]
services:
  llm:
    build:
      context: ../llm
      dockerfile: docker/Dockerfile.gpu
      args:
        CUDA: "12.8.1"
    <<: *gpu
  stt:
    build: ./stt
    runtime: nvidia
    environment:
      - NVIDIA_VISIBLE_DEVICES=all
  tts:
    image: ghcr.io/acme/tts:1.0
    gpus: all
  api:
    build: .
    environment:
      PORT: 8000
"""


def test_services_contexts_and_dockerfiles() -> None:
    sf = parse_compose("deploy/compose.yaml", COMPOSE)
    got = {s.name: (s.context, s.dockerfile, s.location.line) for s in sf.compose_services}
    assert got == {
        "llm": ("llm", "llm/docker/Dockerfile.gpu", 8),
        "stt": ("deploy/stt", "deploy/stt/Dockerfile", 15),
        "tts": (None, None, 20),
        "api": ("deploy", "deploy/Dockerfile", 23),
    }


def test_gpu_reservations_in_every_form() -> None:
    sf = parse_compose("compose.yaml", COMPOSE)
    got = {s.name: s.gpu_how for s in sf.compose_services}
    assert got == {
        "llm": "deploy.resources.reservations.devices",
        "stt": "runtime: nvidia",
        "tts": "gpus",
        "api": None,
    }


def test_build_args_image_and_environment() -> None:
    sf = parse_compose("compose.yaml", COMPOSE)
    by = {s.name: s for s in sf.compose_services}
    assert by["llm"].build_args == {"CUDA": "12.8.1"}
    tts = by["tts"].image
    assert tts is not None and (tts.reference, tts.location.line) == ("ghcr.io/acme/tts:1.0", 21)
    assert [(e.name, e.value, e.location.line) for e in by["stt"].env] == [
        ("NVIDIA_VISIBLE_DEVICES", "all", 19)
    ]
    assert [(e.name, e.value) for e in by["api"].env] == [("PORT", "8000")]


def test_a_context_outside_the_repo_is_dropped() -> None:
    sf = parse_compose("compose.yaml", "services:\n  a:\n    build: ../../elsewhere\n")
    assert sf.compose_services[0].context is None


def test_yaml_error_is_a_problem_with_its_line() -> None:
    sf = parse_compose("compose.yaml", "services:\n  a:\n    image: [x\n  b: 1\n")
    assert len(sf.problems) == 1 and sf.problems[0].location.line == 4


def test_unsafe_tags_are_refused() -> None:
    sf = parse_compose("compose.yaml", "services: !!python/object/apply:os.system ['true']\n")
    assert sf.compose_services == () and sf.problems and "not valid YAML" in sf.problems[0].message


def test_local_tags_and_extends() -> None:
    text = (
        "services:\n  gpu:\n    extends:\n      file: compose.yaml\n      service: app\n"
        "    deploy:\n      resources:\n        reservations:\n          devices: !override\n"
        "            - capabilities: [gpu]\n"
    )
    sf = parse_compose("deploy/compose.cuda.yaml", text)
    assert sf.problems == ()
    (svc,) = sf.compose_services
    assert svc.gpu and svc.extends == ("deploy/compose.yaml", "app")
