"""to_rgba: an NCHW image in [-1, 1] -> RGBA8 [H*zoom, W*zoom, 4] for display: ops.to_rgba (the
CUDA kernel for CUDA float32/float16 tensors when it builds) or the reference in to_rgba_ref.py."""

from __future__ import annotations

import torch

from . import ops
from .dispatch import use_custom_ops
from .to_rgba_ref import to_rgba_ref


def to_rgba(img: torch.Tensor, zoom: int = 1) -> torch.Tensor:
    """Sample 0 of img [N, C, H, W] (values in [-1, 1]) -> uint8 [H*zoom, W*zoom, 4] on img's device,
    each pixel (x * 127.5 + 128).clamp(0, 255) as NVIDIA's tools save images, nearest-neighbour
    zoomed; C >= 3 shows the first three channels, fewer channel 0 as grey; alpha 255. No autograd.
    ValueError (the reference) or KernelError (the CUDA kernel: STYLEGAN_KERNELS auto/cuda, CUDA
    tensors, see kernels/dispatch.py) for zoom < 1 or an empty image; in mode cuda also KernelError
    when the kernels cannot be built."""
    if use_custom_ops(img.is_cuda):
        return ops.to_rgba(img, zoom)
    return to_rgba_ref(img, zoom)
