"""Requirements and images -> a concrete Stack: versions, torch variant, CUDA runtime, cuDNN, NCCL, archs.

``resolve`` judges what would be installed; ``from_installed`` what a probed host has. The pieces:
:mod:`.request` (parsing), :mod:`.images` (image references), :mod:`.releases` (the PyPI snapshot as
the resolver reads it), :mod:`.resolve` and :mod:`.installed`.
"""

from __future__ import annotations

from cudalign.stack.images import ImageInfo, image_info
from cudalign.stack.installed import from_installed
from cudalign.stack.releases import torch_variants
from cudalign.stack.request import TORCH_INDEX, Request, parse_requirements
from cudalign.stack.resolve import assignments, build, resolve

__all__ = [
    "TORCH_INDEX",
    "ImageInfo",
    "Request",
    "assignments",
    "build",
    "from_installed",
    "image_info",
    "parse_requirements",
    "resolve",
    "torch_variants",
]
