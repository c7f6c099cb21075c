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
    """The steps above, computed without their waste (same result, up to float rounding):
    upsampling is polyphase — a transposed convolution with stride `up` filters only the real
    samples, never the inserted zeros (up x fewer multiply-adds per axis, no zero-filled copy) —
    and downsampling a strided convolution (only the kept samples are computed)."""
    if x.ndim != 4:
        raise ValueError(f"upfirdn2d expects NCHW input, got shape {list(x.shape)}")
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"upfirdn2d: the input has no pixels (shape {list(x.shape)})")
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    channels = x.shape[1]
    upx, upy = parse_scaling(up)
    downx, downy = parse_scaling(down)
    px0, px1, py0, py1 = parse_padding(padding)
    # g: the kernel of the true convolution (conv2d correlates: it gets g flipped, conv_transpose2d g itself).
    f = (f * (gain ** (f.ndim / 2))).to(x.dtype)
    g = f.flip(list(range(f.ndim))) if flip_filter else f

    if upx > 1 or upy > 1:  # 1-3. polyphase: transposed convolution, then the padding as a crop/pad
        if f.ndim == 2:
            x = _up_axes(x, g[None, None].expand(channels, 1, *g.shape), (upy, upx), (py0, py1, px0, px1))
        else:
            taps = g.shape[0]
            x = _up_axes(x, g.view(1, 1, 1, taps).expand(channels, 1, 1, taps), (1, upx), (0, 0, px0, px1))
            x = _up_axes(x, g.view(1, 1, taps, 1).expand(channels, 1, taps, 1), (upy, 1), (py0, py1, 0, 0))
        return x[:, :, ::downy, ::downx] if downx > 1 or downy > 1 else x

    # 2. Pad (positive) and crop (negative). Symmetric zero padding is left to the convolution,
    #    which saves a padded copy of the image.
    conv_padding = (0, 0)
    if px0 == px1 >= 0 and py0 == py1 >= 0:
        conv_padding = (py0, px0)
    else:
        x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
        x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]

    # 3-4. Filter and keep every down-th sample: a strided (correlating) convolution with g flipped.
    c = g.flip(list(range(g.ndim)))
    if f.ndim == 2:
        return F.conv2d(x, c[None, None].expand(channels, 1, *c.shape), padding=conv_padding, groups=channels,
                        stride=(downy, downx))
    taps = c.shape[0]
    pad_y, pad_x = conv_padding
    x = F.conv2d(x, c.view(1, 1, 1, taps).expand(channels, 1, 1, taps), padding=(0, pad_x), groups=channels,
                 stride=(1, downx))
    return F.conv2d(x, c.view(1, 1, taps, 1).expand(channels, 1, taps, 1), padding=(pad_y, 0), groups=channels,
                    stride=(downy, 1))


def _up_axes(x: torch.Tensor, weight: torch.Tensor, up: tuple[int, int], padding: tuple[int, int, int, int]):
    """Zero-insert by up = (uy, ux), pad by (y0, y1, x0, x1) and true-convolve ("valid") with the
    depthwise kernel `weight` [C, 1, kh, kw], as one transposed convolution: its output t is the
    full convolution of the zero-inserted image, t[m] = sum_i x[i] w[m - i*up]; the valid part
    after padding p0 starts at t[k - 1 - p0], so the result is t cropped (or zero-padded) to that."""
    kh, kw = weight.shape[-2:]
    t = F.conv_transpose2d(x, weight.contiguous(), stride=up, groups=x.shape[1])
    (uy, ux), (y0, y1, x0, x1) = up, padding
    out_h = x.shape[2] * uy + y0 + y1 - kh + 1
    out_w = x.shape[3] * ux + x0 + x1 - kw + 1
    t = _window(t, 3, kw - 1 - x0, out_w)
    return _window(t, 2, kh - 1 - y0, out_h)


def _window(t: torch.Tensor, dim: int, start: int, length: int) -> torch.Tensor:
    """t[start : start + length] along `dim`, zeros where that runs outside t."""
    size = t.shape[dim]
    lo, hi = min(max(start, 0), size), min(max(start + length, 0), size)
    before, after = min(max(-start, 0), length), min(max(start + length - size, 0), length)
    t = t.narrow(dim, lo, max(hi - lo, 0))
    if before or after:
        pad = [0, 0] * (t.ndim - 1 - dim) + [before, after]
        t = F.pad(t, pad)
    return t
