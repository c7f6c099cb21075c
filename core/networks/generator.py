"""The generator: mapping network z -> W+ followed by a synthesis network W+ -> image."""

from __future__ import annotations

import torch
from torch import nn

from core.networks.config import GeneratorConfig
from core.networks.mapping import MappingNetwork
from core.networks.synthesis_stylegan1 import AdaINSynthesisNetwork
from core.networks.synthesis_stylegan2 import SynthesisNetwork
from core.networks.synthesis_stylegan3 import SynthesisNetwork3


class Generator(nn.Module):
    """The full generator G(z, c) = synthesis(mapping(z, c)), NVIDIA's Generator (stylegan2-ada-pytorch
    training/networks.py, stylegan3 training/networks_stylegan3.py; same `mapping.*` / `synthesis.*`
    parameter names). config.arch picks the synthesis network: SynthesisNetwork (StyleGAN2),
    AdaINSynthesisNetwork (StyleGAN1) or SynthesisNetwork3 (StyleGAN3)."""

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        self.config = config
        self.z_dim = config.z_dim
        self.c_dim = config.c_dim
        self.w_dim = config.w_dim
        self.img_resolution = config.img_resolution
        self.img_channels = config.img_channels
        if config.arch == "stylegan2":
            self.synthesis = SynthesisNetwork(
                config.w_dim, config.img_resolution, config.img_channels,
                channel_base=config.channel_base, channel_max=config.channel_max,
                num_fp16_res=config.num_fp16_res, architecture=config.architecture,
                resample_filter=config.resample_filter, conv_clamp=config.conv_clamp,
                use_noise=config.use_noise)
        elif config.arch == "stylegan3":
            self.synthesis = SynthesisNetwork3(
                config.w_dim, config.img_resolution, config.img_channels,
                channel_base=config.channel_base, channel_max=config.channel_max,
                num_fp16_res=config.num_fp16_res, conv_kernel=config.conv_kernel,
                use_radial_filters=config.use_radial_filters, conv_clamp=config.conv_clamp,
                magnitude_ema_beta=config.magnitude_ema_beta)
        else:
            self.synthesis = AdaINSynthesisNetwork(
                config.w_dim, config.img_resolution, config.img_channels,
                channel_base=config.channel_base, channel_max=config.channel_max,
                use_noise=config.use_noise)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            config.z_dim, config.c_dim, config.w_dim, self.num_ws, num_layers=config.mapping_layers,
            embed_features=config.mapping_embed_features,
            layer_features=config.mapping_layer_features,
            lr_multiplier=config.mapping_lr_multiplier, w_avg_beta=config.w_avg_beta)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_w_avg: bool | None = None,
                **synthesis_kwargs) -> torch.Tensor:
        """z [N, z_dim] (and one-hot labels c [N, c_dim] when conditional) -> image
        [N, img_channels, R, R], about [-1, 1] (not clamped); R = img_resolution, or a StyleGAN1
        network's stage resolution. truncation_psi / truncation_cutoff: the truncation trick towards
        mapping.w_avg (rows >= cutoff untouched); update_w_avg (default: self.training) updates
        that EMA. synthesis_kwargs go to the synthesis network (noise_mode, noise, fused_modconv,
        force_fp32, update_emas, resolution, alpha, as each accepts; others are TypeErrors, except
        StyleGAN3's, which ignores them). ValueError for z or c of the wrong shape (MappingNetwork)."""
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                          update_w_avg=update_w_avg)
        return self.synthesis(ws, **synthesis_kwargs)

    def growing(self) -> str | None:
        """For a StyleGAN1 generator saved while it was still growing (a progressive stage below its
        full resolution), what it renders: "still growing: renders 8x8 (fade-in 0.40)"; else None."""
        stage = getattr(self.synthesis, "stage_resolution", None)
        if stage is None or int(stage) >= self.img_resolution:
            return None
        res, alpha = int(stage), float(self.synthesis.stage_alpha)
        return f"still growing: renders {res}x{res}" + (f" (fade-in {alpha:.2f})" if alpha < 1 else "")
