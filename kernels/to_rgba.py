"""to_rgba: an NCHW image in [-1, 1] -> RGBA8 [H*zoom, W*zoom, 4] for display (the CUDA kernel for
CUDA tensors when it builds, else torch ops). Pixels are converted as core.images.to_uint8 does."""

from __future__ import annotations

import torch

from .dispatch import use_custom_ops


def to_rgba_ref(img: torch.Tensor, zoom: int = 1) -> torch.Tensor:
    x = (img[0].float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    x = x[:3] if x.shape[0] >= 3 else x.expand(3, -1, -1)
    out = torch.cat([x, torch.full_like(x[:1], 255)]).permute(1, 2, 0)
    if zoom > 1:
        out = out.repeat_interleave(zoom, 0).repeat_interleave(zoom, 1)
    return out.contiguous()


def to_rgba(img: torch.Tensor, zoom: int = 1) -> torch.Tensor:
    if use_custom_ops(img.is_cuda):
        from . import ops
        return ops.to_rgba(img, zoom)
    return to_rgba_ref(img, zoom)
