"""to_rgba: an NCHW image in [-1, 1] -> RGBA8 [H*zoom, W*zoom, 4] for display: the custom op (the
CUDA kernel for CUDA tensors when it builds) or the reference in to_rgba_ref.py."""

from __future__ import annotations

import torch

from . import ops
from .dispatch import use_custom_ops
from .to_rgba_ref import to_rgba_ref


def to_rgba(img: torch.Tensor, zoom: int = 1) -> torch.Tensor:
    if use_custom_ops(img.is_cuda):
        return ops.to_rgba(img, zoom)
    return to_rgba_ref(img, zoom)
