"""Reference upfirdn2d: upsample, pad, FIR-filter, downsample — NVIDIA's exact semantics.

Per image and channel:
  1. upsample by inserting `up - 1` zeros after each pixel (H*up x W*up);
  2. pad with zeros by padding = [x0, x1, y0, y1]; negative values crop;
  3. filter in "valid" mode with f (a true convolution unless flip_filter, which correlates);
     a 1-D f is separable: applied along x, then along y; the filter is scaled by gain
     (each pass of a separable filter by sqrt(gain));
  4. keep every down-th row and column, starting at 0.
Output size: (in*up + p0 + p1 - taps) // down + 1 along each axis.

Built from torch ops only, so autograd (including the double backward R1 needs) comes for free.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def parse_scaling(scaling) -> tuple[int, int]:
    if isinstance(scaling, int):
        scaling = [scaling, scaling]
    sx, sy = (int(s) for s in scaling)
    if sx < 1 or sy < 1:
        raise ValueError(f"up/down factors must be >= 1, got {scaling}")
    return sx, sy


def parse_padding(padding) -> tuple[int, int, int, int]:
    if isinstance(padding, int):
        return padding, padding, padding, padding
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        px, py = padding
        return px, px, py, py
    if len(padding) != 4:
        raise ValueError(f"padding must be an int or 2 or 4 ints, got {padding}")
    return tuple(padding)


def filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """(width, height) of a filter; a 1-D filter is separable, so square."""
    if f is None:
        return 1, 1
    if f.ndim not in (1, 2):
        raise ValueError(f"filter must be 1-D or 2-D, got shape {list(f.shape)}")
    return int(f.shape[-1]), int(f.shape[0])


def upfirdn2d_ref(x: torch.Tensor, f: torch.Tensor | None, up=1, down=1, padding=0,
                  flip_filter: bool = False, gain: float = 1) -> torch.Tensor:
    if x.ndim != 4:
        raise ValueError(f"upfirdn2d expects NCHW input, got shape {list(x.shape)}")
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    batch, channels, in_h, in_w = x.shape
    upx, upy = parse_scaling(up)
    downx, downy = parse_scaling(down)
    px0, px1, py0, py1 = parse_padding(padding)

    # 1. Upsample by inserting zeros.
    if upx > 1 or upy > 1:
        x = x.reshape(batch, channels, in_h, 1, in_w, 1)
        x = F.pad(x, [0, upx - 1, 0, 0, 0, upy - 1])
        x = x.reshape(batch, channels, in_h * upy, in_w * upx)

    # 2. Pad (positive) and crop (negative). Symmetric zero padding is left to the convolution,
    #    which saves a padded copy of the image.
    conv_padding = 0
    if px0 == px1 >= 0 and py0 == py1 >= 0:
        conv_padding = (py0, px0)
    else:
        x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
        x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]

    # 3. Filter. conv2d correlates, so a true convolution flips the filter first.
    f = (f * (gain ** (f.ndim / 2))).to(x.dtype)
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    if f.ndim == 2:
        weight = f[None, None].expand(channels, 1, *f.shape)
        x = F.conv2d(x, weight, padding=conv_padding, groups=channels)
    else:
        taps = f.shape[0]
        pad_y, pad_x = conv_padding if conv_padding else (0, 0)
        x = F.conv2d(x, f.view(1, 1, 1, taps).expand(channels, 1, 1, taps), padding=(0, pad_x), groups=channels)
        x = F.conv2d(x, f.view(1, 1, taps, 1).expand(channels, 1, taps, 1), padding=(pad_y, 0), groups=channels)

    # 4. Downsample by keeping every down-th pixel.
    if downx > 1 or downy > 1:
        x = x[:, :, ::downy, ::downx]
    return x
