"""bias_act: the entry point for bias + activation + gain + clamp (CUDA when available, else ref)."""

from __future__ import annotations

import torch

from .bias_act_ref import ACTIVATIONS, activation, bias_act_ref
from .dispatch import cuda_op, register_cuda_op


def _load_cuda_bias_act():
    from . import ops
    ops.extension()
    return ops.bias_act


register_cuda_op("bias_act", _load_cuda_bias_act)

__all__ = ["bias_act", "activation", "ACTIVATIONS"]


def bias_act(x: torch.Tensor, b: torch.Tensor | None = None, dim: int = 1, act: str = "linear",
             alpha: float | None = None, gain: float | None = None,
             clamp: float | None = None, inplace: bool = False) -> torch.Tensor:
    """act(x + b) * gain, clamped to [-clamp, clamp]. `inplace=True` permits (does not promise)
    overwriting x; pass it only for tensors nothing else will read."""
    impl = cuda_op("bias_act", x.is_cuda)
    if impl is not None:
        return impl(x, b, dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp)
    return bias_act_ref(x, b, dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp, inplace=inplace)
