"""Filtered leaky ReLU (StyleGAN3's nonlinearity): upsample -> bias -> leaky ReLU -> clamp ->
downsample, with the windowed-sinc or radial filters each layer designs (see filtered_lrelu_ref.py
for the exact definition and order).

Two ways to compute it:
  fused      one CUDA kernel (kernels/cuda/filtered_lrelu.cu): a tile of outputs per block, the
             upsampled signal only in shared memory; forward only (inference: the explorer,
             stylegan-generate). Run with STYLEGAN_KERNELS=cuda; `auto` leaves it off until a GPU
             run has timed it against the composite (benchmarks/gpu_check.sh does).
  composite  the reference's four steps through the dispatching upfirdn2d and bias_act: on CUDA
             tensors (and with STYLEGAN_KERNELS=op on any device) the project's custom ops — the
             same kernels, autograd and CI coverage as StyleGAN2's layers; on a CPU, exactly the
             reference. Every call that needs gradients, and every call the fused kernel cannot take
             (no tile fits its shared memory), goes this way.
"""

from __future__ import annotations

import math

import torch

from .bias_act import bias_act
from .dispatch import compiled_kernels, kernel_failed, kernel_mode
from .upfirdn2d import upfirdn2d
from .upfirdn2d_ref import parse_padding

FUSED_MODES = ("cuda",)  # the kernel modes that use the fused kernel (see the docstring)


def filtered_lrelu(x: torch.Tensor, fu: torch.Tensor | None = None, fd: torch.Tensor | None = None,
                   b: torch.Tensor | None = None, up: int = 1, down: int = 1, padding=0,
                   gain: float = math.sqrt(2), slope: float = 0.2, clamp: float | None = None,
                   flip_filter: bool = False) -> torch.Tensor:
    """As filtered_lrelu_ref (shapes, padding, order); NVIDIA's filtered_lrelu signature."""
    y = _fused(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter)
    if y is not None:
        return y
    if b is not None:
        x = bias_act(x, b)
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up ** 2, flip_filter=flip_filter)
    x = bias_act(x, None, act="lrelu", alpha=slope, gain=gain, clamp=clamp)
    return upfirdn2d(x, fd, down=down, flip_filter=flip_filter)


def _fused(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter) -> torch.Tensor | None:
    """The fused kernel's output, or None where it does not apply (CPU, gradients, other modes, a
    dtype or a size it does not take)."""
    if not (x.is_cuda and x.dtype in (torch.float32, torch.float16) and kernel_mode() in FUSED_MODES):
        return None
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, b)):
        return None
    ext = compiled_kernels()
    if ext is None:
        return None
    one = torch.ones([1], dtype=torch.float32, device=x.device)
    fu = one if fu is None else fu.to(device=x.device, dtype=torch.float32)
    fd = one if fd is None else fd.to(device=x.device, dtype=torch.float32)
    px0, px1, py0, py1 = parse_padding(padding)
    bias = b if b is not None else x.new_empty([0], dtype=torch.float32)
    try:
        out = ext.filtered_lrelu(x, fu, fd, bias, int(up), int(down), px0, px1, py0, py1, float(gain), float(slope),
                                 float(-1 if clamp is None else clamp), bool(flip_filter))
    except RuntimeError as exc:
        raise kernel_failed("filtered_lrelu", exc) from None
    return out[0] if out else None
