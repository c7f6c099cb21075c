"""StyleGAN1 / ProGAN progressive discriminator: a fromRGB per resolution and fade-in.

At stage resolution R (the size of the images it is given) with fade-in α:

    x = lerp(fromrgb_{R/2}(avgpool(img)), block_R(fromrgb_R(img)), α)  -> blocks R/2 .. 8 -> epilogue

so a freshly added block starts with no influence (α = 0) and takes over as α goes to 1.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.networks.config import DiscriminatorConfig
from core.networks.discriminator_stylegan2 import DiscriminatorBlock, DiscriminatorEpilogue, conditioning
from core.networks.layers import Conv2dLayer


class ProgressiveDiscriminator(nn.Module):
    """The progressive-growing discriminator trained with StyleGAN1 (ProGAN, Karras et al. 2018, as
    StyleGAN 2019 kept it): a fromrgb per resolution and the fade-in above, built from StyleGAN2's
    'orig' DiscriminatorBlock (config.resample_filter downsampling) and DiscriminatorEpilogue."""

    def __init__(self, config: DiscriminatorConfig):
        super().__init__()
        self.config = config
        self.c_dim = config.c_dim
        self.img_resolution = config.img_resolution
        self.img_channels = config.img_channels
        log2 = int(np.log2(config.img_resolution))
        self.block_resolutions = [2 ** i for i in range(log2, 2, -1)]
        channels = {res: config.channels(res) for res in self.block_resolutions + [4]}
        self.fromrgb = nn.ModuleDict({
            str(res): Conv2dLayer(config.img_channels, channels[res], kernel_size=1, activation="lrelu")
            for res in self.block_resolutions + [4]})
        for res in self.block_resolutions:
            setattr(self, f"b{res}", DiscriminatorBlock(
                channels[res], channels[res], channels[res // 2], res, config.img_channels,
                architecture="orig", resample_filter=config.resample_filter,
                conv_clamp=config.conv_clamp))
        cmap_dim = conditioning(self, config, channels[4])
        self.b4 = DiscriminatorEpilogue(channels[4], cmap_dim, 4, config.img_channels,
                                        architecture="orig", mbstd_group_size=config.mbstd_group_size,
                                        mbstd_num_channels=config.mbstd_num_channels,
                                        conv_clamp=config.conv_clamp)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None,
                alpha: float = 1.0) -> torch.Tensor:
        """Images [N, img_channels, R, R] at any stage resolution R (a power of two, 4 <=
        R <= img_resolution) (and labels) -> logits [N, 1]; alpha: the fade-in (above). ValueError
        for any other image shape (or, conditional, missing labels)."""
        res = img.shape[-1]
        if img.ndim != 4 or img.shape[1] != self.img_channels or img.shape[-2] != res \
                or res not in self.block_resolutions + [4]:
            raise ValueError(f"D expects square images [N, {self.img_channels}, R, R] with R a power of "
                             f"two in 4..{self.img_resolution}, got {list(img.shape)}")
        x = self.fromrgb[str(res)](img)
        for block_res in self.block_resolutions:
            if block_res > res:
                continue
            x, _ = getattr(self, f"b{block_res}")(x, None)
            if block_res == res and alpha < 1:
                y = self.fromrgb[str(res // 2)](F.avg_pool2d(img, 2))
                x = torch.lerp(y, x, float(alpha))
        cmap = self.mapping(None, c) if self.c_dim > 0 else None
        return self.b4(x, None, cmap)
