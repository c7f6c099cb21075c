"""bias_act: the entry point for bias + activation + gain + clamp (the custom op with its CUDA kernel
or the plain reference, as kernels/dispatch.py decides)."""

from __future__ import annotations

import torch

from . import ops
from .bias_act_ref import ACTIVATIONS, activation, bias_act_ref
from .dispatch import use_custom_ops

__all__ = ["bias_act", "activation", "ACTIVATIONS"]


def bias_act(x: torch.Tensor, b: torch.Tensor | None = None, dim: int = 1, act: str = "linear",
             alpha: float | None = None, gain: float | None = None,
             clamp: float | None = None, inplace: bool = False) -> torch.Tensor:
    """act(x + b) * gain, clamped to [-clamp, clamp]. `inplace=True` permits (does not promise)
    overwriting x; pass it only for tensors nothing else will read."""
    if use_custom_ops(x.is_cuda):
        return ops.bias_act(x, b, dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp)
    return bias_act_ref(x, b, dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp, inplace=inplace)
