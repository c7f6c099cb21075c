"""Modulated convolution with weight demodulation (StyleGAN2, Karras et al. 2020, eq. 1-3).

    w'_oik  = s_i * w_oik                           (modulate: scale input channels by the style)
    w''_oik = w'_oik / sqrt(sum_ik w'_oik^2 + eps)  (demodulate: unit output variance)

Two equivalent ways to run it:
  fused    per-sample weights, one grouped convolution (or one plain convolution at batch 1);
  unfused  scale the activations by s before a shared convolution and by the demodulation
           coefficients after it — an ordinary batched convolution, the fast path on CPUs at
           batch > 1 and what training uses.
"""

from __future__ import annotations

import math

import torch

from core.networks.conv2d_resample import conv2d_resample
from core.networks.layout import conv_weight


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                     noise: torch.Tensor | None = None, up: int = 1, down: int = 1, padding: int = 0,
                     resample_filter: torch.Tensor | None = None, demodulate: bool = True,
                     flip_weight: bool = True, fused_modconv: bool = True,
                     weight_sq_sum: torch.Tensor | None = None) -> torch.Tensor:
    """x [N, I, H, W], weight [O, I, kh, kw] (as stored: demodulation removes its scale; without it the
    caller folds the gain into styles, as ToRGB does), styles s [N, I] (the affine output) ->
    [N, O, H', W'] in x's dtype, H', W' as conv2d_resample gives them for up/down/padding/
    resample_filter/flip_weight. demodulate: scale each sample's output channel o by
    rsqrt(sum_ik (s_i w_oik)^2 + 1e-8). fused_modconv picks the way (see above); both give the same
    result up to float rounding. noise: None or a map broadcastable to the output, already scaled,
    added after demodulation. With fp16 x and demodulation the weight (per output channel) and the
    styles (per sample) are first scaled down by their max (as NVIDIA's, against overflow).
    weight_sq_sum: optionally sum_k w^2 [O, I], precomputed (it only depends on the weight; unused
    for fp16 x). ValueError when styles is not [N, I]. NVIDIA's stylegan2-ada-pytorch
    training/networks.py modulated_conv2d (StyleGAN2 sec. 2.2)."""
    batch = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if styles.shape != (batch, in_channels):
        raise ValueError(f"styles of shape {list(styles.shape)} do not match x {list(x.shape)} "
                         f"and weight {list(weight.shape)}")

    # Keep fp16 activations from overflowing: normalise weight and styles by their max first
    # (demodulation removes the scale again).
    if x.dtype == torch.float16 and demodulate:
        weight = weight * (1 / math.sqrt(in_channels * kh * kw)
                           / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)

    # Demodulation coefficients d[n, o] = rsqrt(sum_ik (s[n, i] w[o, i, k])^2): a small matmul
    # rather than a per-sample weight tensor.
    dcoefs = None
    if demodulate:
        if weight_sq_sum is not None and x.dtype != torch.float16:
            dcoefs = (styles.square() @ weight_sq_sum.t() + 1e-8).rsqrt()  # [N, O]
        else:
            taps = kh * kw
            s2 = styles.square().repeat_interleave(taps, dim=1) if taps > 1 else styles.square()
            dcoefs = (s2 @ weight.reshape(out_channels, -1).square().t() + 1e-8).rsqrt()  # [N, O]

    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(batch, -1, 1, 1)
        x = conv2d_resample(x, conv_weight(weight, x), f=resample_filter, up=up, down=down,
                            padding=padding, flip_weight=flip_weight)
        if demodulate:
            d = dcoefs.to(x.dtype).reshape(batch, -1, 1, 1)
            if torch.is_grad_enabled() and (x.requires_grad or d.requires_grad):
                # Out of place while autograd records: an in-place x *= d makes autograd keep a copy
                # of x (d's gradient reads the x before the multiply) — a full extra pass per layer.
                # One multiply-add for demodulation and noise, as NVIDIA's fma.
                return torch.addcmul(noise.to(x.dtype), x, d) if noise is not None else x * d
            x = x.mul_(d)
            return x.add_(noise.to(x.dtype)) if noise is not None else x
        if noise is not None:
            return x.add_(noise.to(x.dtype))
        return x

    # Fused: per-sample weights (one broadcast multiply), the batch folded into groups.
    scale = styles.reshape(batch, 1, -1, 1, 1)
    if demodulate:
        scale = scale * dcoefs.reshape(batch, -1, 1, 1, 1)  # [N, O, I, 1, 1]
    w = (weight.unsqueeze(0) * scale).reshape(-1, in_channels, kh, kw)
    if batch > 1:  # (at batch 1 a reshape would only spoil channels-last strides)
        x = x.reshape(1, -1, *x.shape[2:])
    x = conv2d_resample(x, conv_weight(w, x), f=resample_filter, up=up, down=down, padding=padding,
                        groups=batch, flip_weight=flip_weight)
    if batch > 1:
        x = x.reshape(batch, -1, *x.shape[2:])
    if noise is not None:
        x = x.add_(noise)
    return x
