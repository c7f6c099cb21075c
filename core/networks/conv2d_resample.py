"""2-D convolution fused with FIR up/downsampling, as StyleGAN2's blocks use it.

Same result as `upfirdn2d(up) -> conv2d -> upfirdn2d(down)`, computed the cheap way:
  - 1x1 kernels resample on the side with fewer channels;
  - downsampling filters first, then convolves with stride `down`;
  - upsampling runs a transposed convolution with stride `up` (no multiplications by inserted
    zeros), then the FIR filter.
`flip_weight=True` correlates (what torch's conv2d does); False is a true convolution. The
convolutions are kernels.conv2d's, whose derivatives stay convolutions (R1, path length).
"""

from __future__ import annotations

import torch

from kernels import conv2d, conv_transpose2d, upfirdn2d
from kernels.upfirdn2d_ref import filter_size, parse_padding


def _conv(x, w, stride=1, padding=(0, 0), groups=1, transpose=False, flip_weight=True):
    if not flip_weight:
        w = w.flip([2, 3])
    if transpose:
        return conv_transpose2d(x, w, stride=stride, padding=padding, groups=groups)
    return conv2d(x, w, stride=stride, padding=padding, groups=groups)


def conv2d_resample(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor | None = None, up: int = 1,
                    down: int = 1, padding=0, groups: int = 1, flip_weight: bool = True,
                    flip_filter: bool = False) -> torch.Tensor:
    """x [N, I, H, W] (I = groups * w.shape[1]), w [O, I / groups, kh, kw], f the FIR filter from
    kernels.setup_filter ([ft] separable or [fh, fw]; None: no filtering) -> [N, O, H', W'], the
    shape of upfirdn2d(x, f, up) -> conv2d(padding) -> upfirdn2d(f, down): H*up/down for an odd
    kernel with padding = kh // 2 (how every layer calls it: 3x3 with 1, 1x1 with 0).
    `padding` (int, [px, py] or [x0, x1, y0, y1]) is in the upsampled image. The weight is used as
    given (any gain applied by the caller). Raises ValueError for a bad padding or a filter that is
    not 1-D/2-D (and, where it resamples, upfirdn2d's for a non-NCHW or empty x); channel mismatches
    surface as torch's RuntimeError. NVIDIA's torch_utils/ops/conv2d_resample.py conv2d_resample,
    same arguments."""
    out_channels, in_per_group, kh, kw = w.shape
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = parse_padding(padding)

    # Padding that centres the resampling filter.
    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
        py0 += (fh + up - 1) // 2
        py1 += (fh - up) // 2
    if down > 1:
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2
        py0 += (fh - down + 1) // 2
        py1 += (fh - down) // 2

    # 1x1 kernel: resample where it is cheaper.
    if kw == 1 and kh == 1 and down > 1 and up == 1:
        x = upfirdn2d(x, f, down=down, padding=[px0, px1, py0, py1], flip_filter=flip_filter)
        return _conv(x, w, groups=groups, flip_weight=flip_weight)
    if kw == 1 and kh == 1 and up > 1 and down == 1:
        x = _conv(x, w, groups=groups, flip_weight=flip_weight)
        return upfirdn2d(x, f, up=up, padding=[px0, px1, py0, py1], gain=up ** 2, flip_filter=flip_filter)

    # Downsampling only: filter, then a strided convolution.
    if down > 1 and up == 1:
        x = upfirdn2d(x, f, padding=[px0, px1, py0, py1], flip_filter=flip_filter)
        return _conv(x, w, stride=down, groups=groups, flip_weight=flip_weight)

    # Upsampling: transposed strided convolution, then the filter.
    if up > 1:
        if groups == 1:
            w = w.transpose(0, 1)
        else:
            w = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
            w = w.reshape(groups * in_per_group, out_channels // groups, kh, kw)
        px0 -= kw - 1
        px1 -= kw - up
        py0 -= kh - 1
        py1 -= kh - up
        pxt = max(min(-px0, -px1), 0)
        pyt = max(min(-py0, -py1), 0)
        x = _conv(x, w, stride=up, padding=(pyt, pxt), groups=groups, transpose=True,
                  flip_weight=not flip_weight)
        x = upfirdn2d(x, f, padding=[px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], gain=up ** 2,
                      flip_filter=flip_filter)
        if down > 1:
            x = upfirdn2d(x, f, down=down, flip_filter=flip_filter)
        return x

    # No resampling: plain convolution when its symmetric padding fits.
    if up == 1 and down == 1 and px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        return _conv(x, w, padding=(py0, px0), groups=groups, flip_weight=flip_weight)

    # General case.
    x = upfirdn2d(x, f if up > 1 else None, up=up, padding=[px0, px1, py0, py1], gain=up ** 2,
                  flip_filter=flip_filter)
    x = _conv(x, w, groups=groups, flip_weight=flip_weight)
    if down > 1:
        x = upfirdn2d(x, f, down=down, flip_filter=flip_filter)
    return x
