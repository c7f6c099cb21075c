"""StyleGAN1 synthesis network: AdaIN style modulation and progressive growing (Karras et al. 2019,
config E/F of the paper; structure and init of NVIDIA's TensorFlow release).

Every styled layer ends in the same epilogue:

    x -> + per-channel scaled noise -> + bias -> lrelu -> instance norm -> y_s * x + y_b

where (y_s, y_b) = affine(w) is the layer's style. Blocks:

    b4:  learned const -> epilogue (input) -> conv 3x3 -> epilogue (conv1)
    bR:  nearest 2x up -> conv 3x3 -> blur [1,2,1] -> epilogue (conv0) -> conv 3x3 -> epilogue (conv1)

From 128x128 up, the upsampling conv runs as NVIDIA's fused op (a stride-2 transposed conv with the
3x3 kernel padded and summed into 4x4), as their TensorFlow code does, so their weights carry over.

Each block has its own ToRGB. Progressive growing renders at a stage resolution R with fade-in α:
the output is lerp(nearest_up(torgb_{R/2}), torgb_R, α), so α = 0 is exactly the previous stage
upsampled and α = 1 is the new block. The stage lives in buffers, so it travels with checkpoints.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kernels import bias_act, conv2d, conv_transpose2d, filter2d, setup_filter

from core.networks.layers import Conv2dLayer, FullyConnectedLayer
from core.noise import NoiseControl, NoiseSource


def instance_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """The IN of AdaIN: each sample's channel to zero mean, unit variance over H, W. [N, C, H, W]."""
    x = x - x.mean(dim=[2, 3], keepdim=True)
    return x * (x.square().mean(dim=[2, 3], keepdim=True) + eps).rsqrt()


def upsample_nearest(x: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, 2H, 2W], nearest neighbour."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


class AdaINLayer(nn.Module):
    """An optional (upsampling) 3x3 conv followed by the noise / bias / act / AdaIN epilogue."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 conv: bool = True, up: bool = False, use_noise: bool = True,
                 blur_filter=(1, 2, 1)):
        super().__init__()
        self.resolution = resolution
        self.out_channels = out_channels
        self.up = up
        self.use_noise = use_noise
        if conv:
            self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 3, 3]))
            self.weight_gain = 1 / math.sqrt(in_channels * 9)
        else:
            self.weight = None
        self.register_buffer("blur_filter", setup_filter(list(blur_filter)), persistent=False)
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([out_channels]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        # Style: the first half scales (initialised to 1), the second half shifts (to 0).
        self.affine = FullyConnectedLayer(w_dim, 2 * out_channels)
        with torch.no_grad():
            self.affine.bias[:out_channels] = 1

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: NoiseSource | None = None,
                layer_index: int = 0) -> torch.Tensor:
        """noise: the pass's noise (None: no noise); layer_index: this layer's index among the noise layers."""
        if self.weight is not None:
            kernel = self.weight.to(x.dtype) * self.weight_gain
            if self.up and self.resolution >= 128:  # fused upscale + conv
                k = F.pad(kernel.transpose(0, 1), [1, 1, 1, 1])
                k = k[:, :, 1:, 1:] + k[:, :, :-1, 1:] + k[:, :, 1:, :-1] + k[:, :, :-1, :-1]
                x = conv_transpose2d(x, k, stride=2, padding=1)
            else:
                x = conv2d(upsample_nearest(x) if self.up else x, kernel, padding=1)
            if self.up:
                x = filter2d(x, self.blur_filter)
        picked = noise.layer(layer_index, x.shape[0], self.noise_const) if self.use_noise and noise is not None else None
        if picked is not None:  # (StyleGAN1 scales noise per channel)
            x = x + picked[0] * (self.noise_strength * picked[1]).view(1, -1, 1, 1)
        x = instance_norm(bias_act(x, self.bias.to(x.dtype), act="lrelu"))
        scale, shift = self.affine(w).to(x.dtype).chunk(2, dim=1)
        return torch.addcmul(shift[:, :, None, None], x, scale[:, :, None, None])


class AdaINBlock(nn.Module):
    """One resolution R of the StyleGAN1 synthesis network (a resolution of NVIDIA's TF
    networks_stylegan.py G_synthesis): at 4x4 the learned constant input (ones at init) and the
    epilogue `input`, elsewhere conv0 (2x up); then conv1. Its torgb (1x1, linear) is called by the
    network, for the output or the fade-in."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 img_channels: int, use_noise: bool = True):
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution
        if in_channels == 0:
            self.const = nn.Parameter(torch.ones([out_channels, resolution, resolution]))
            self.input = AdaINLayer(out_channels, out_channels, w_dim, resolution, conv=False,
                                    use_noise=use_noise)
        else:
            self.conv0 = AdaINLayer(in_channels, out_channels, w_dim, resolution, up=True,
                                    use_noise=use_noise)
        self.conv1 = AdaINLayer(out_channels, out_channels, w_dim, resolution, use_noise=use_noise)
        self.torgb = Conv2dLayer(out_channels, img_channels, kernel_size=1, activation="linear")

    def layers(self) -> list[AdaINLayer]:
        """The block's two styled layers, in W+ order."""
        return [self.input if self.in_channels == 0 else self.conv0, self.conv1]

    def forward(self, x, ws, noise: NoiseSource, first_layer: int):
        """x [N, in_channels, R/2, R/2] (ignored at 4x4), ws [N, 2, w_dim] -> [N, out_channels, R, R];
        first_layer: the index of the block's first layer among the noise layers."""
        if self.in_channels == 0:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
        for i, layer in enumerate(self.layers()):
            x = layer(x, ws[:, i], noise=noise, layer_index=first_layer + i)
        return x


class AdaINSynthesisNetwork(nn.Module):
    """StyleGAN1's synthesis network g (Karras et al. 2019, sec. 2: constant input, AdaIN styles,
    noise inputs; progressive growing), NVIDIA's TF networks_stylegan.py G_synthesis: blocks b4 ..
    b{img_resolution}, two W+ rows each (num_ws = 2 log2(img_resolution) - 2). The progressive stage
    (set_stage; buffers stage_resolution, stage_alpha) is what forward renders by default."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int,
                 channel_base: int = 16384, channel_max: int = 512, use_noise: bool = True):
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        log2 = int(np.log2(img_resolution))
        self.block_resolutions = [2 ** i for i in range(2, log2 + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        for res in self.block_resolutions:
            setattr(self, f"b{res}", AdaINBlock(channels[res // 2] if res > 4 else 0, channels[res],
                                                w_dim, res, img_channels, use_noise=use_noise))
        self.num_ws = 2 * len(self.block_resolutions)
        self.register_buffer("stage_resolution", torch.tensor(img_resolution, dtype=torch.int64))
        self.register_buffer("stage_alpha", torch.tensor(1.0))

    @property
    def blocks(self) -> list[AdaINBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    @property
    def num_layers(self) -> int:
        """Number of noise layers: every styled layer has one, so num_ws."""
        return self.num_ws

    def layer_info(self) -> list[dict]:
        """One entry per W+ row: the layer it drives and its resolution (for labels)."""
        info = []
        for block in self.blocks:
            names = ["input" if block.in_channels == 0 else "conv0", "conv1"]
            info += [{"resolution": block.resolution, "layers": [f"b{block.resolution}.{n}"]}
                     for n in names]
        return info

    def set_stage(self, resolution: int, alpha: float = 1.0) -> None:
        """Set the progressive-growing stage that forward() renders by default (alpha: the fade-in
        of that resolution's block, 0..1). ValueError for a resolution that is no block's."""
        if resolution not in self.block_resolutions:
            raise ValueError(f"stage resolution must be one of {self.block_resolutions}, got {resolution}")
        self.stage_resolution.fill_(int(resolution))
        self.stage_alpha.fill_(float(alpha))

    def forward(self, ws: torch.Tensor, noise_mode: str = "random", noise: NoiseControl | None = None,
                resolution: int | None = None, alpha: float | None = None) -> torch.Tensor:
        """W+ [N, num_ws, w_dim] -> image [N, C, R, R] (about [-1, 1]) at the stage resolution R, or
        `resolution` / `alpha` when given (only the rows of blocks up to R are used). noise
        (NoiseControl) or noise_mode picks the noise. ValueError for ws of another shape or a
        resolution that is no block's."""
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        resolution = int(self.stage_resolution) if resolution is None else int(resolution)
        alpha = float(self.stage_alpha) if alpha is None else float(alpha)
        if resolution not in self.block_resolutions:
            raise ValueError(f"resolution must be one of {self.block_resolutions}, got {resolution}")
        noise = noise if noise is not None else NoiseControl(mode=noise_mode)
        source = noise.source(ws.device, self.num_layers)

        x = prev = None
        for i, block in enumerate(self.blocks):
            if block.resolution > resolution:
                break
            if block.resolution == resolution and alpha < 1 and prev is not None:
                prev_img = upsample_nearest(prev.torgb(x))
            x = block(x, ws[:, 2 * i: 2 * i + 2], source, 2 * i)
            prev = block
        img = prev.torgb(x)
        if alpha < 1 and resolution > 4:
            img = torch.lerp(prev_img, img, alpha)
        return img
