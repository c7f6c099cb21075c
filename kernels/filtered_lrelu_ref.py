"""Reference filtered leaky ReLU (Alias-Free GAN, Karras et al. 2021; NVIDIA's
`torch_utils/ops/filtered_lrelu.py`, `_filtered_lrelu_ref`): the spec the CUDA path must match.

    y = downsample_fd( clamp( lrelu( upsample_fu( x + b ), slope ) * gain ) )

in the order NVIDIA's reference runs it: add the bias; upsample by `up` (zero insertion), pad and
filter with `fu` (gain up²); leaky ReLU with `slope`, times `gain`, clamped to ±clamp; filter with
`fd` and keep every `down`-th sample. fu/fd: 1-D (separable) or 2-D float32 filters, or None (identity).
Autograd: plain torch ops (upfirdn2d_ref, bias_act_ref), so every derivative exists.
"""

from __future__ import annotations

import math

import torch

from .bias_act_ref import bias_act_ref
from .upfirdn2d_ref import upfirdn2d_ref


def filtered_lrelu_ref(x: torch.Tensor, fu: torch.Tensor | None = None, fd: torch.Tensor | None = None,
                       b: torch.Tensor | None = None, up: int = 1, down: int = 1, padding=0,
                       gain: float = math.sqrt(2), slope: float = 0.2, clamp: float | None = None,
                       flip_filter: bool = False) -> torch.Tensor:
    """x [N, C, H, W], b [C] -> [N, C, H', W'] with H' = ((H * up + py0 + py1 - fu_h + 1) - fd_h) // down + 1
    (fu_h, fd_h: the filters' heights, 1 for None). padding: int, [x, y] or [x0, x1, y0, y1]."""
    if b is not None:
        x = bias_act_ref(x, b)
    x = upfirdn2d_ref(x, fu, up=up, padding=padding, gain=up ** 2, flip_filter=flip_filter)
    x = bias_act_ref(x, None, act="lrelu", alpha=slope, gain=gain, clamp=clamp)
    return upfirdn2d_ref(x, fd, down=down, flip_filter=flip_filter)
