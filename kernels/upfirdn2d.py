"""upfirdn2d and its helpers: the one entry point every resampling in the networks goes through.

`upfirdn2d` goes through the custom op (kernels/ops.py: a CUDA kernel or the reference inside, and a
backward that is another upfirdn2d) or straight to the reference in upfirdn2d_ref.py, as
kernels/dispatch.py decides. The helpers translate
"upsample by 2 with this FIR filter" into the low-level padding exactly as NVIDIA's wrappers do,
so weights and fixtures carry over 1:1.
"""

from __future__ import annotations

import torch

from . import ops
from .dispatch import use_custom_ops
from .upfirdn2d_ref import filter_size, parse_padding, parse_scaling, upfirdn2d_ref

__all__ = ["setup_filter", "upfirdn2d", "upsample2d", "downsample2d", "filter2d"]


def setup_filter(f, device=torch.device("cpu"), normalize: bool = True, flip_filter: bool = False,
                 gain: float = 1, separable: bool | None = None) -> torch.Tensor:
    """Turn filter taps into the tensor upfirdn2d takes.

    1-D taps become the 2-D outer product unless `separable` (default: only for 8+ taps, as
    NVIDIA does); normalised to sum 1 unless `normalize=False`.
    """
    f = torch.as_tensor(1 if f is None else f, dtype=torch.float32)
    if f.ndim not in (0, 1, 2) or f.numel() == 0:
        raise ValueError(f"filter taps must be a non-empty scalar, 1-D or 2-D array, got {list(f.shape)}")
    if f.ndim == 0:
        f = f[None]
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if f.ndim != (1 if separable else 2):
        raise ValueError("a 2-D filter cannot be separable")
    if normalize:
        f = f / f.sum()
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f * (gain ** (f.ndim / 2))
    return f.to(device=device)


def upfirdn2d(x: torch.Tensor, f: torch.Tensor | None, up=1, down=1, padding=0,
              flip_filter: bool = False, gain: float = 1) -> torch.Tensor:
    """Upsample, pad, FIR-filter and downsample a batch of 2-D images (see upfirdn2d_ref)."""
    if use_custom_ops(x.is_cuda):
        return ops.upfirdn2d(x, f, up=up, down=down, padding=padding, flip_filter=flip_filter, gain=gain)
    return upfirdn2d_ref(x, f, up=up, down=down, padding=padding, flip_filter=flip_filter, gain=gain)


def upsample2d(x, f, up=2, padding=0, flip_filter=False, gain=1):
    """Upsample by `up` with filter f; output is in*up (plus user padding)."""
    upx, upy = parse_scaling(up)
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    p = [px0 + (fw + upx - 1) // 2, px1 + (fw - upx) // 2,
         py0 + (fh + upy - 1) // 2, py1 + (fh - upy) // 2]
    return upfirdn2d(x, f, up=up, padding=p, flip_filter=flip_filter, gain=gain * upx * upy)


def downsample2d(x, f, down=2, padding=0, flip_filter=False, gain=1):
    """Downsample by `down` with filter f; output is in//down (plus user padding)."""
    downx, downy = parse_scaling(down)
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    p = [px0 + (fw - downx + 1) // 2, px1 + (fw - downx) // 2,
         py0 + (fh - downy + 1) // 2, py1 + (fh - downy) // 2]
    return upfirdn2d(x, f, down=down, padding=p, flip_filter=flip_filter, gain=gain)


def filter2d(x, f, padding=0, flip_filter=False, gain=1):
    """Filter with f keeping the size (plus user padding)."""
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    p = [px0 + fw // 2, px1 + (fw - 1) // 2, py0 + fh // 2, py1 + (fh - 1) // 2]
    return upfirdn2d(x, f, padding=p, flip_filter=flip_filter, gain=gain)
