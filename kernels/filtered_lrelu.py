"""Filtered leaky ReLU (StyleGAN3's nonlinearity): upsample -> bias -> leaky ReLU -> clamp ->
downsample, with the windowed-sinc or radial filters each layer designs (see filtered_lrelu_ref.py
for the exact definition and order).

It is the reference's four steps through the dispatching upfirdn2d and bias_act: on CUDA tensors (and
with STYLEGAN_KERNELS=op on any device) the project's custom ops — the same kernels, autograd and CI
coverage as StyleGAN2's layers; on a CPU, exactly the reference.
"""

from __future__ import annotations

import math

import torch

from .bias_act import bias_act
from .upfirdn2d import upfirdn2d


def filtered_lrelu(x: torch.Tensor, fu: torch.Tensor | None = None, fd: torch.Tensor | None = None,
                   b: torch.Tensor | None = None, up: int = 1, down: int = 1, padding=0,
                   gain: float = math.sqrt(2), slope: float = 0.2, clamp: float | None = None,
                   flip_filter: bool = False) -> torch.Tensor:
    """As filtered_lrelu_ref (shapes, padding, order); NVIDIA's filtered_lrelu signature."""
    if b is not None:
        x = bias_act(x, b)
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up ** 2, flip_filter=flip_filter)
    x = bias_act(x, None, act="lrelu", alpha=slope, gain=gain, clamp=clamp)
    return upfirdn2d(x, fd, down=down, flip_filter=flip_filter)
