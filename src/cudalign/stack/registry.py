"""An image's facts read from its registry: the config blob's ``Env`` as an :class:`ImageInfo`.

:class:`RegistryReader` is the online :data:`~cudalign.stack.images.ImageReader` that
:func:`~cudalign.stack.images.image_facts` accepts. It reads the config through
:class:`~cudalign.facts.registry.RegistryClient` and states what the image itself says:
``CUDA_VERSION`` -> the image's CUDA, ``NVIDIA_REQUIRE_CUDA`` -> the requirement the container runtime
checks, ``NV_CUDA_COMPAT_PACKAGE`` -> forward-compatibility libraries, ``NV_CUDNN_VERSION`` -> the cuDNN
installed in the image (what the cuDNN-major rules judge ctranslate2 or onnxruntime-gpu against when
torch brings none of its own), ``PYTORCH_VERSION`` -> the torch
inside (a PyPI release, or the vendor's own build such as NGC's ``2.10.0a0+b4e4ee81d3``). What the
config does not say (the vLLM release, which torch variant a vLLM image ships) comes from the
knowledge base where the reference matches a family. Every value read is sourced to the config blob's
URL and digest.

A tag the registry does not have is a finding (``image_tag`` in the stack's unknowns, which the
unknown-release rule reports as an error). A registry that cannot be reached leaves the knowledge
base to answer, with a note saying so; an answer that breaks the API is an error (``strict``) or a
note.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import TYPE_CHECKING

from cudalign.errors import NetworkError
from cudalign.facts.image_platforms import oci_platform
from cudalign.model import FactRef
from cudalign.stack.images import DOCKER_HUB, ImageInfo, ImageName, image_facts

if TYPE_CHECKING:
    from cudalign.facts import Facts
    from cudalign.facts.registry import ImageConfig, RegistryClient

__all__ = ["RegistryReader", "info_from_config", "oci_platform"]

_RELEASE = re.compile(r"(\d+\.\d+\.\d+)(?:\+(cu\d+|cpu|rocm[\d.]+))?")
_KEEP_KINDS = frozenset({"image_family", "image_release", "vllm_series", "image_torch", "image_vendor"})


def _shown(name: ImageName) -> str:
    where = "" if name.registry == DOCKER_HUB else f"{name.registry}/"
    ref = f"{where}{name.path}"
    if name.tag or not name.digest:
        ref += f":{name.tag or 'latest'}"
    return ref + (f"@{name.digest}" if name.digest else "")


def info_from_config(facts: Facts, name: ImageName, cfg: ImageConfig, *, checked: str) -> ImageInfo:
    """The image's facts from its config, completed by the knowledge base where the config is silent."""
    reference = _shown(name)
    kb = image_facts(facts, reference)
    env = cfg.env
    ref = FactRef(
        f"registry.{cfg.registry}/{cfg.repository}@{cfg.digest}",
        f"{cfg.url} ({cfg.platform} config Env, read {checked})",
    )
    cuda = env.get("CUDA_VERSION", "").strip() or None
    require = env.get("NVIDIA_REQUIRE_CUDA", "").strip() or None
    unknown = {
        k: v for k, v in kb.unknown.items() if k not in ("image", "image_cuda", "image_require", "image_tag")
    }  # the registry has the tag, whatever the vendor's tag lists say
    if cuda is None and kb.cuda is not None and kb.name is not None:
        cuda = kb.cuda  # the config is silent; the family's tag grammar says
    where = f"the config of {reference} ({cfg.digest[:19]})"
    disabled = env.get("NVIDIA_DISABLE_REQUIRE", "").strip().lower() in ("1", "true")
    if require is None and cuda is not None and kb.require is not None and kb.cuda == cuda:
        require = kb.require  # what the toolkit would check; skipped when disabled, but the rules say so
    if require is None and not disabled:
        unknown["image_require"] = (
            f"{where} sets no NVIDIA_REQUIRE_CUDA"
            if cuda is not None
            else f"{where} sets neither CUDA_VERSION nor NVIDIA_REQUIRE_CUDA"
        )
    compat: bool | None = kb.compat
    if env.get("NV_CUDA_COMPAT_PACKAGE", "").strip():
        compat = True
    torch, torch_build, variant = kb.torch, kb.torch_build, kb.torch_variant
    pt = env.get("PYTORCH_VERSION", "").strip()
    if pt:
        m = _RELEASE.fullmatch(pt)
        if m:
            torch, torch_build = m.group(1), None
            variant = m.group(2) or (variant if kb.torch == torch else None)
        else:
            torch, torch_build, variant = None, pt, None
    keep = []
    for r in kb.facts:
        fact = facts.get(r.id) if r.id in facts else None
        if fact is not None and (
            fact.kind in _KEEP_KINDS or (fact.kind == "image_require" and require == kb.require)
        ):
            keep.append(r)
    platforms = cfg.platforms or kb.platforms
    if not cfg.platforms:
        keep.extend(r for r in kb.facts if r.id in facts and facts.get(r.id).kind == "image_platforms")
    accelerator = "nvidia" if cuda else kb.accelerator
    cudnn = env.get("NV_CUDNN_VERSION", "").strip() or env.get("CUDNN_VERSION", "").strip() or kb.cudnn
    return ImageInfo(
        reference,
        cudnn=cudnn,
        require_disabled=disabled,
        cuda=cuda,
        require=require,
        compat=compat,
        vllm=kb.vllm,
        torch=torch,
        torch_variant=variant,
        facts=(ref, *keep),
        unknown=unknown,
        name=name,
        torch_build=torch_build,
        accelerator=accelerator,
        platforms=platforms,
    )


class RegistryReader:
    """The online image reader: ``reader(name) -> ImageInfo | None`` (None: the knowledge base answers).

    ``strict``: an answer that breaks the distribution API raises; otherwise it becomes a note and the
    knowledge base answers (``scan`` reads many images and goes on). A registry that cannot be reached is
    always a note, once per registry. ``notes`` collects those lines for the caller to print."""

    def __init__(
        self,
        facts: Facts,
        client: RegistryClient | None = None,
        *,
        strict: bool = True,
        platform: str | None = None,
    ) -> None:
        self._facts = facts
        self._client = client
        self.platform = oci_platform(platform)
        """The ``os/arch`` read from an image index: the host's (``x86_64`` -> ``linux/amd64``)."""
        self.strict = strict
        self.notes: list[str] = []
        self._memo: dict[ImageName, ImageInfo | None] = {}
        self._offline: set[str] = set()

    @property
    def client(self) -> RegistryClient:
        if self._client is None:
            from cudalign.facts.registry import RegistryClient

            self._client = RegistryClient(platform=self.platform)
        return self._client

    def __call__(self, name: ImageName) -> ImageInfo | None:
        if name in self._memo:
            return self._memo[name]
        found = self._read(name)
        self._memo[name] = found
        return found

    def _read(self, name: ImageName) -> ImageInfo | None:
        from cudalign.facts.http import ConnectFailed
        from cudalign.facts.registry import ManifestUnknown

        if name.registry in self._offline or not name.path:
            return None
        reference = name.digest or name.tag or "latest"
        try:
            cfg = self.client.config(name.registry, name.path, reference)
        except ManifestUnknown as exc:
            return ImageInfo(
                _shown(name),
                name=name,
                unknown={"image_tag": str(exc)},
                facts=(FactRef(f"registry.{name.registry}/{name.path}", _api_url(name, reference)),),
            )
        except ConnectFailed as exc:
            self._offline.add(name.registry)
            self.notes.append(f"{exc}; images of {name.registry} are judged from the knowledge base")
            return None
        except NetworkError as exc:
            if self.strict:
                raise
            self.notes.append(f"{exc}; judged from the knowledge base")
            return None
        checked = _dt.datetime.now(_dt.timezone.utc).date().isoformat()
        return info_from_config(self._facts, name, cfg, checked=checked)


def _api_url(name: ImageName, reference: str) -> str:
    from cudalign.facts.registry import registry_host

    return f"https://{registry_host(name.registry)}/v2/{name.path}/manifests/{reference}"
