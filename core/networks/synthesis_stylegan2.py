"""StyleGAN2 synthesis network: modulated convolutions with weight demodulation (Karras et al. 2020).

    const 4x4 -> [b4: conv1, torgb] -> [b8: conv0 (2x up), conv1, torgb] -> ... -> image

Each block takes the W+ rows of its layers; ToRGB of block k shares its w with conv0 of block k+1.
Architectures: 'orig' (ToRGB only at the end), 'skip' (sum of upsampled ToRGB outputs, the
default), 'resnet' (residual blocks). Parameter names follow NVIDIA's stylegan2-ada-pytorch.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from kernels import activation as activation_spec
from kernels import bias_act, setup_filter, upsample2d

from core.networks.layers import Conv2dLayer, FullyConnectedLayer
from core.networks.layout import activation_layout
from core.networks.modulated_conv import modulated_conv2d
from core.noise import NoiseControl, NoiseSource


def use_fused_modconv(x: torch.Tensor, weight: torch.Tensor, training: bool) -> bool:
    """Per-sample weights in one (grouped) conv, or activations scaled around a shared conv?

    GPUs: NVIDIA's rule (fused only at inference, and there in fp32 or at batch 1). CPUs: fused
    only at batch 1, and only where the weights are no larger than the activations they meet — at
    low resolution modulating a 512x512x3x3 weight costs more than scaling a 512x8x8 activation twice.
    """
    if x.device.type == "cuda":
        return not training and (x.dtype == torch.float32 or x.shape[0] == 1)
    out_channels, _, kh, kw = weight.shape
    return x.shape[0] == 1 and out_channels * kh * kw <= x.shape[2] * x.shape[3]


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally 2x upsampling) + noise + bias + activation: one styled layer
    of StyleGAN2 (sec. 2.2; one scalar noise strength), NVIDIA's SynthesisLayer
    (stylegan2-ada-pytorch training/networks.py). x [N, I, R/up, R/up], w [N, w_dim] -> [N, O, R, R]."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 kernel_size: int = 3, up: int = 1, use_noise: bool = True,
                 activation: str = "lrelu", resample_filter=(1, 3, 3, 1),
                 conv_clamp: float | None = None):
        super().__init__()
        self.resolution = resolution
        self.up = up
        self.use_noise = use_noise
        self.activation = activation
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.padding = kernel_size // 2
        self.act_gain = activation_spec(activation).def_gain
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self._sq_sum_cache: tuple | None = None

    def weight_sq_sum(self) -> torch.Tensor | None:
        """sum_k w^2 [O, I] for demodulation, kept between inference calls (None while autograd
        records, so training always sees the current weights)."""
        if torch.is_grad_enabled() and self.weight.requires_grad:
            return None
        key = (self.weight._version, self.weight.data_ptr(), self.weight.device)
        if self._sq_sum_cache is None or self._sq_sum_cache[0] != key:
            with torch.no_grad():
                self._sq_sum_cache = (key, self.weight.square().sum(dim=[2, 3]))
        return self._sq_sum_cache[1]

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: NoiseSource | None = None, layer_index: int = 0,
                fused_modconv: bool | None = None, gain: float = 1.0) -> torch.Tensor:
        """noise: the pass's noise (None: no noise); layer_index: this layer's index among the noise layers."""
        if fused_modconv is None:
            fused_modconv = use_fused_modconv(x, self.weight, self.training)
        styles = self.affine(w)
        picked = noise.layer(layer_index, x.shape[0], self.noise_const) if self.use_noise and noise is not None else None
        noise_map = picked[0] * (self.noise_strength * picked[1]) if picked is not None else None
        x = modulated_conv2d(x, self.weight, styles, noise=noise_map, up=self.up, padding=self.padding,
                             resample_filter=self.resample_filter, flip_weight=(self.up == 1),
                             fused_modconv=fused_modconv, weight_sq_sum=self.weight_sq_sum())
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias.to(x.dtype), act=self.activation, gain=self.act_gain * gain,
                        clamp=clamp, inplace=True)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv to image channels, without demodulation; NVIDIA's ToRGBLayer.
    x [N, I, H, W], w [N, w_dim] -> [N, img_channels, H, W] (x's dtype)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, kernel_size: int = 1,
                 conv_clamp: float | None = None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool | None = None) -> torch.Tensor:
        if fused_modconv is None:  # a [3, C] weight: per-sample weights are cheap at batch 1
            fused_modconv = x.shape[0] == 1 or (x.device.type == "cuda" and not self.training)
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused_modconv=fused_modconv)
        return bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp, inplace=True)


class SynthesisBlock(nn.Module):
    """One resolution R of the StyleGAN2 synthesis network, NVIDIA's SynthesisBlock
    (stylegan2-ada-pytorch training/networks.py): the learned constant input (4x4) or conv0 with 2x
    upsampling, then conv1; 'resnet' adds a 1x1 upsampling skip (branches scaled by sqrt(0.5)),
    'skip' adds its ToRGB to the upsampled image so far (StyleGAN2 sec. 4.1); with 'orig' and
    'resnet' only the last block has a ToRGB."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 img_channels: int, is_last: bool, architecture: str = "skip",
                 resample_filter=(1, 3, 3, 1), conv_clamp: float | None = None,
                 use_fp16: bool = False, **layer_kwargs):
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution
        self.is_last = is_last
        self.architecture = architecture
        self.use_fp16 = use_fp16
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.num_conv = 0
        self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2,
                                        resample_filter=resample_filter, conv_clamp=conv_clamp,
                                        **layer_kwargs)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution,
                                    conv_clamp=conv_clamp, **layer_kwargs)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(in_channels, out_channels, kernel_size=1, bias=False, up=2,
                                    resample_filter=resample_filter)

    def weights_smaller_than_input(self) -> bool:
        """Whether conv0's weights [O, I, k, k] have fewer elements than one sample's input
        activations [I, res/2, res/2]."""
        out_channels, _, kh, kw = self.conv0.weight.shape
        return out_channels * kh * kw < (self.resolution // 2) ** 2

    def forward(self, x, img, ws, noise: NoiseSource, first_layer: int, fused_modconv: bool | None,
                force_fp32: bool = False):
        """x [N, in_channels, R/2, R/2] (None at 4x4), img [N, img_channels, R/2, R/2] or None,
        ws [N, num_conv + num_torgb, w_dim] -> (x [N, out_channels, R, R], img [N, img_channels, R, R]
        float32, or None before the first ToRGB). fp16 on CUDA when use_fp16 and not force_fp32."""
        on_cuda = ws.device.type == "cuda"
        dtype = torch.float16 if self.use_fp16 and on_cuda and not force_fp32 else torch.float32
        memory_format = activation_layout(ws.device, dtype)
        w_iter = iter(ws.unbind(dim=1))

        def layer(conv, x, gain=1.0, index=0):
            return conv(x, next(w_iter), noise=noise, layer_index=first_layer + index, fused_modconv=fused_modconv,
                        gain=gain)

        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = layer(self.conv1, x.contiguous(memory_format=memory_format))
        elif self.architecture == "resnet":
            x = x.to(dtype=dtype, memory_format=memory_format)
            y = self.skip(x, gain=np.sqrt(0.5))
            x = layer(self.conv0, x)
            x = layer(self.conv1, x, gain=np.sqrt(0.5), index=1)
            x = y.add_(x)
        else:
            x = x.to(dtype=dtype, memory_format=memory_format)
            x = layer(self.conv0, x)
            x = layer(self.conv1, x, index=1)

        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.is_last or self.architecture == "skip":
            y = self.torgb(x, next(w_iter), fused_modconv=fused_modconv).to(torch.float32)
            img = img.add_(y) if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    """StyleGAN2's synthesis network (Karras et al. 2020: weight demodulation instead of AdaIN,
    no progressive growing), NVIDIA's SynthesisNetwork (stylegan2-ada-pytorch training/networks.py):
    blocks b4 .. b{img_resolution}; num_ws = 2 log2(img_resolution) - 2. The highest num_fp16_res
    resolutions (not below 8) run in fp16 on CUDA."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int,
                 channel_base: int = 32768, channel_max: int = 512, num_fp16_res: int = 0,
                 architecture: str = "skip", **block_kwargs):
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        log2 = int(np.log2(img_resolution))
        self.block_resolutions = [2 ** i for i in range(2, log2 + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            is_last = res == img_resolution
            block = SynthesisBlock(channels[res // 2] if res > 4 else 0, channels[res], w_dim, res,
                                   img_channels, is_last=is_last, architecture=architecture,
                                   use_fp16=res >= fp16_resolution, **block_kwargs)
            self.num_ws += block.num_conv + (block.num_torgb if is_last else 0)
            setattr(self, f"b{res}", block)

    @property
    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    @property
    def num_layers(self) -> int:
        """Number of styled conv layers (each has its own noise)."""
        return sum(block.num_conv for block in self.blocks)

    def layer_info(self) -> list[dict]:
        """One entry per W+ row: the layers it drives and their resolution (for labels)."""
        info = [{"resolution": 0, "layers": []} for _ in range(self.num_ws)]
        w_idx = 0
        for block in self.blocks:
            names = (["conv0"] if block.in_channels else []) + ["conv1"]
            for i, name in enumerate(names):
                info[w_idx + i]["layers"].append(f"b{block.resolution}.{name}")
                info[w_idx + i]["resolution"] = block.resolution
            if block.num_torgb:
                info[w_idx + len(names)]["layers"].append(f"b{block.resolution}.torgb")
                info[w_idx + len(names)]["resolution"] = max(info[w_idx + len(names)]["resolution"],
                                                             block.resolution)
            w_idx += block.num_conv
        return info

    def forward(self, ws: torch.Tensor, noise_mode: str = "random", noise: NoiseControl | None = None,
                fused_modconv: bool | None = None, force_fp32: bool = False) -> torch.Tensor:
        """W+ [N, num_ws, w_dim] -> image [N, C, H, W] float32 (about [-1, 1], not clamped). noise
        (NoiseControl) or noise_mode picks the noise; fused_modconv None: each layer chooses (and
        CPU inference at batch > 1 runs the large blocks sample by sample); force_fp32: no fp16
        layers. ValueError for ws of another shape."""
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        noise = noise if noise is not None else NoiseControl(mode=noise_mode)
        source = noise.source(ws.device, self.num_layers)
        # CPU inference at batch > 1: once activations outgrow the weights, run each sample on its
        # own with per-sample weights — cheaper than scaling the big activations twice per layer.
        split = (ws.device.type == "cpu" and fused_modconv is None and not self.training
                 and ws.shape[0] > 1)
        x = img = None
        xs = imgs = None
        w_idx = 0
        layer_idx = 0
        for block in self.blocks:
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            if split and xs is None and block.in_channels and block.weights_smaller_than_input():
                xs = list(x.split(1))
                imgs = list(img.split(1)) if img is not None else [None] * len(xs)
            if xs is None:
                x, img = block(x, img, block_ws, source, layer_idx, fused_modconv, force_fp32)
            else:
                for i in range(len(xs)):
                    xs[i], imgs[i] = block(xs[i], imgs[i], block_ws[i: i + 1], source.rows(i, i + 1), layer_idx,
                                           fused_modconv, force_fp32)
            w_idx += block.num_conv
            layer_idx += block.num_conv
        if xs is not None:
            img = torch.cat(imgs)
        return img.contiguous()
