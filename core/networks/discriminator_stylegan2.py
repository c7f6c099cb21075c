"""StyleGAN2 discriminator (Karras et al. 2020): blocks from the image resolution down to 8x8, each
halving the resolution, then an epilogue at 4x4 with a minibatch standard deviation layer.
Architectures: 'resnet' (default), 'skip' (image fed to every block), 'orig'. Parameter names
follow NVIDIA's stylegan2-ada-pytorch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from kernels import downsample2d, setup_filter

from core.networks.config import DiscriminatorConfig
from core.networks.layers import Conv2dLayer, FullyConnectedLayer
from core.networks.layout import activation_layout
from core.networks.mapping import MappingNetwork


class DiscriminatorBlock(nn.Module):
    """One resolution of the StyleGAN2 discriminator, NVIDIA's DiscriminatorBlock (stylegan2-ada-pytorch
    training/networks.py): fromrgb (1x1; first block, or every block for 'skip'), conv0 3x3, conv1
    3x3 with 2x FIR downsampling, and for 'resnet' a 1x1 downsampling skip, the two branches summed
    with gain sqrt(0.5) each (StyleGAN2 sec. 4.1)."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, resolution: int,
                 img_channels: int, architecture: str = "resnet", activation: str = "lrelu",
                 resample_filter=(1, 3, 3, 1), conv_clamp: float | None = None,
                 use_fp16: bool = False):
        super().__init__()
        if in_channels not in (0, tmp_channels):
            raise ValueError("in_channels must be 0 (first block) or tmp_channels")
        self.in_channels = in_channels
        self.resolution = resolution
        self.architecture = architecture
        self.use_fp16 = use_fp16
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        if in_channels == 0 or architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, kernel_size=1,
                                       activation=activation, conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, kernel_size=3, activation=activation,
                                 conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, kernel_size=3, activation=activation,
                                 down=2, resample_filter=resample_filter, conv_clamp=conv_clamp)
        if architecture == "resnet":
            self.skip = Conv2dLayer(tmp_channels, out_channels, kernel_size=1, bias=False, down=2,
                                    resample_filter=resample_filter)

    def forward(self, x, img, force_fp32: bool = False):
        """x [N, tmp_channels, R, R] (None for the first block), img [N, img_channels, R, R] (None
        where no fromrgb reads it) -> (x [N, out_channels, R/2, R/2], img downsampled for 'skip' else
        None). fp16 on CUDA when use_fp16 and not force_fp32."""
        device = (x if x is not None else img).device
        dtype = torch.float16 if self.use_fp16 and device.type == "cuda" and not force_fp32 else torch.float32
        memory_format = activation_layout(device, dtype)
        if x is not None:
            x = x.to(dtype=dtype, memory_format=memory_format)
        if self.in_channels == 0 or self.architecture == "skip":
            # The image keeps its layout (a few channels: the resampling's channels-last kernels need
            # 8 or more); fromrgb's input takes the blocks' layout.
            img = img.to(dtype)
            y = self.fromrgb(img.contiguous(memory_format=memory_format))
            x = x + y if x is not None else y
            img = downsample2d(img, self.resample_filter) if self.architecture == "skip" else None
        if self.architecture == "resnet":
            y = self.skip(x, gain=np.sqrt(0.5))
            x = self.conv0(x)
            x = self.conv1(x, gain=np.sqrt(0.5))
            x = y.add_(x)
        else:
            x = self.conv1(self.conv0(x))
        return x, img


class MinibatchStdLayer(nn.Module):
    """Append the standard deviation across groups of samples as extra feature maps (a cheap
    signal of sample variety; ProGAN, Karras et al. 2018, sec. 3). Samples {j, j+n, j+2n, ...} form
    group j, as in NVIDIA's reshape (n = batch / group size). NVIDIA's MinibatchStdLayer."""

    def __init__(self, group_size: int | None, num_channels: int = 1):
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n) if self.group_size is not None else n
        while n % g:  # batch not divisible by the group size: the largest group size that fits
            g -= 1
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = y - y.mean(dim=0)
        y = y.square().mean(dim=0)
        y = (y + 1e-8).sqrt()
        y = y.mean(dim=[2, 3, 4])
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """The discriminator's 4x4 head, NVIDIA's DiscriminatorEpilogue: (for 'skip', fromrgb of the
    4x4 image), minibatch stddev, conv 3x3, FC, and an output FC; when conditional, the projection
    discriminator's <out, cmap> / sqrt(cmap_dim). x [N, C, 4, 4] -> logits [N, 1]."""

    def __init__(self, in_channels: int, cmap_dim: int, resolution: int, img_channels: int,
                 architecture: str = "resnet", mbstd_group_size: int | None = 4,
                 mbstd_num_channels: int = 1, activation: str = "lrelu",
                 conv_clamp: float | None = None):
        super().__init__()
        self.architecture = architecture
        self.cmap_dim = cmap_dim
        if architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, in_channels, kernel_size=1, activation=activation)
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, kernel_size=3,
                                activation=activation, conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution ** 2, in_channels, activation=activation)
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x, img, cmap):
        x = x.to(torch.float32, memory_format=activation_layout(x.device, torch.float32))
        if self.architecture == "skip":
            x = x + self.fromrgb(img.to(torch.float32))
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        x = self.out(x)
        if self.cmap_dim > 0:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / np.sqrt(self.cmap_dim))
        return x


def conditioning(D: nn.Module, config: DiscriminatorConfig, channels: int) -> int:
    """Give a conditional D its label mapping (the projection discriminator's cmap); -> cmap_dim."""
    if config.c_dim == 0:
        return 0
    cmap_dim = config.cmap_dim if config.cmap_dim is not None else channels
    D.mapping = MappingNetwork(z_dim=0, c_dim=config.c_dim, w_dim=cmap_dim, num_ws=None, w_avg_beta=None)
    return cmap_dim


class Discriminator(nn.Module):
    """The StyleGAN2 discriminator (Karras et al. 2020; orig / skip / resnet, sec. 4.1), NVIDIA's
    Discriminator (stylegan2-ada-pytorch training/networks.py): blocks b{R} from img_resolution down
    to 8, then the epilogue b4; labels go through `mapping` (a MappingNetwork) to cmap. ValueError
    for architecture 'progressive' (ProgressiveDiscriminator's)."""

    def __init__(self, config: DiscriminatorConfig):
        super().__init__()
        if config.architecture == "progressive":
            raise ValueError("use ProgressiveDiscriminator for architecture 'progressive'")
        self.config = config
        self.c_dim = config.c_dim
        self.img_resolution = config.img_resolution
        self.img_channels = config.img_channels
        log2 = int(np.log2(config.img_resolution))
        self.block_resolutions = [2 ** i for i in range(log2, 2, -1)]
        channels = {res: config.channels(res) for res in self.block_resolutions + [4]}
        fp16_resolution = max(2 ** (log2 + 1 - config.num_fp16_res), 8)
        cmap_dim = conditioning(self, config, channels[4])
        for res in self.block_resolutions:
            setattr(self, f"b{res}", DiscriminatorBlock(
                channels[res] if res < config.img_resolution else 0, channels[res], channels[res // 2],
                res, config.img_channels, architecture=config.architecture,
                resample_filter=config.resample_filter, conv_clamp=config.conv_clamp,
                use_fp16=res >= fp16_resolution))
        self.b4 = DiscriminatorEpilogue(channels[4], cmap_dim, 4, config.img_channels,
                                        architecture=config.architecture,
                                        mbstd_group_size=config.mbstd_group_size,
                                        mbstd_num_channels=config.mbstd_num_channels,
                                        conv_clamp=config.conv_clamp)

    def layers(self) -> list[tuple[str, nn.Module]]:
        """The convolution layers of the blocks, (name, module), counted as NVIDIA's freeze_layers
        counts them (stylegan2-ada-pytorch --freezed): from the image side, per block fromrgb, conv0,
        conv1, skip. The epilogue (b4) is never among them."""
        out = []
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            for name in ("fromrgb", "conv0", "conv1", "skip"):
                if hasattr(block, name):
                    out.append((f"b{res}.{name}", getattr(block, name)))
        return out

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None, force_fp32: bool = False):
        """Images [N, img_channels, img_resolution, img_resolution] (and labels c [N, c_dim] when
        conditional) -> logits [N, 1] float32 (no sigmoid). ValueError for images of another shape
        or missing / misshapen labels."""
        expected = (self.img_channels, self.img_resolution, self.img_resolution)
        if img.ndim != 4 or tuple(img.shape[1:]) != expected:
            raise ValueError(f"D expects images [N, {', '.join(map(str, expected))}], got {list(img.shape)}")
        x = None
        for res in self.block_resolutions:
            x, img = getattr(self, f"b{res}")(x, img, force_fp32=force_fp32)
        cmap = self.mapping(None, c) if self.c_dim > 0 else None
        return self.b4(x, img, cmap)
