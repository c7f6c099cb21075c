"""Equalised-learning-rate layers (Karras et al.): weights are stored N(0, 1) and scaled at run time
by 1/sqrt(fan_in), so Adam sees every layer at the same scale (a dense layer's lr_multiplier m
stores N(0, 1) / m and scales by m / sqrt(fan_in)). Parameter names and init follow
NVIDIA's stylegan2-ada-pytorch, so their state dicts load 1:1.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from kernels import activation as activation_spec
from kernels import bias_act, setup_filter

from core.networks.conv2d_resample import conv2d_resample
from core.networks.layout import conv_weight


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Pixel norm: scale each vector to unit root-mean-square."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class FullyConnectedLayer(nn.Module):
    """Equalised-lr dense layer, NVIDIA's FullyConnectedLayer: weight stored N(0, 1) / lr_multiplier
    and scaled by lr_multiplier / sqrt(in_features) at run time, bias by lr_multiplier; then the
    activation (bias_act, with its default gain). x [N, in_features] -> [N, out_features]."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 activation: str = "linear", lr_multiplier: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The weight gain scales the product (addmm's alpha), not a copy of the weight matrix.
        w = self.weight.to(x.dtype)
        b = self.bias
        if b is None:
            return bias_act(torch.mm(x, w.t()) * self.weight_gain, None, act=self.activation)
        b = b.to(x.dtype)
        if self.bias_gain != 1:
            b = b * self.bias_gain
        y = torch.addmm(b.unsqueeze(0), x, w.t(), alpha=self.weight_gain)
        return y if self.activation == "linear" else bias_act(y, None, act=self.activation, inplace=True)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, act={self.activation}"


class Conv2dLayer(nn.Module):
    """Equalised-lr convolution with optional FIR up/downsampling, bias, activation and clamp,
    NVIDIA's Conv2dLayer (stylegan2-ada-pytorch training/networks.py). x [N, in_channels, H, W] ->
    [N, out_channels, H*up/down, W*up/down] (same-size padding, kernel_size // 2); forward's `gain`
    scales the output and the clamp."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", up: int = 1, down: int = 1,
                 resample_filter=(1, 3, 3, 1), conv_clamp: float | None = None,
                 trainable: bool = True):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.activation = activation
        self.up = up
        self.down = down
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.act_gain = activation_spec(activation).def_gain
        weight = torch.randn([out_channels, in_channels, kernel_size, kernel_size])
        bias_t = torch.zeros([out_channels]) if bias else None
        if trainable:
            self.weight = nn.Parameter(weight)
            self.bias = nn.Parameter(bias_t) if bias_t is not None else None
        else:
            self.register_buffer("weight", weight)
            self.register_buffer("bias", bias_t)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias.to(x.dtype) if self.bias is not None else None
        x = conv2d_resample(x, conv_weight(w, x), f=self.resample_filter, up=self.up, down=self.down,
                            padding=self.padding, flip_weight=(self.up == 1))
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, b, act=self.activation, gain=self.act_gain * gain, clamp=clamp, inplace=True)

    def extra_repr(self) -> str:
        return (f"in={self.in_channels}, out={self.out_channels}, act={self.activation}, "
                f"up={self.up}, down={self.down}")
