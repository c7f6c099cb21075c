"""Mapping network f: Z -> W (StyleGAN, Karras et al. 2019, sec. 2).

z is pixel-normalised, passed through `num_layers` equalised-lr FC layers with lr multiplier 0.01,
and broadcast to the `num_ws` rows of W+. `w_avg` tracks the mean of W during training (EMA with
beta 0.995) and is the centre that truncation pulls towards.
"""

from __future__ import annotations

import torch
from torch import nn

from core.networks.layers import FullyConnectedLayer, normalize_2nd_moment
from core.latents.wplus import truncate


class MappingNetwork(nn.Module):
    """The mapping network f: Z -> W (StyleGAN sec. 2: an MLP of `num_layers` FC layers, 8 by
    default), NVIDIA's MappingNetwork (stylegan2-ada-pytorch training/networks.py). z and the
    embedded labels c are each pixel-normalised, then concatenated. With z_dim=0 and num_ws=None it is a conditional
    discriminator's label mapping (cmap)."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int | None, num_layers: int = 8,
                 embed_features: int | None = None, layer_features: int | None = None,
                 activation: str = "lrelu", lr_multiplier: float = 0.01,
                 w_avg_beta: float | None = 0.995):
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        if embed_features is None:
            embed_features = w_dim
        if c_dim == 0:
            embed_features = 0
        if layer_features is None:
            layer_features = w_dim
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            setattr(self, f"fc{idx}", FullyConnectedLayer(features[idx], features[idx + 1],
                                                          activation=activation,
                                                          lr_multiplier=lr_multiplier))
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None = None,
                truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                update_w_avg: bool | None = None) -> torch.Tensor:
        """z [N, z_dim] (and labels c [N, c_dim]) -> W+ [N, num_ws, w_dim] (or W [N, w_dim] when
        num_ws is None), float32; c is ignored when c_dim is 0. truncation_psi / truncation_cutoff:
        the truncation trick towards w_avg (rows >= cutoff untouched). update_w_avg (default:
        self.training) moves w_avg towards this batch's mean W by the EMA (before truncation).
        ValueError for z not [N, z_dim] (when z_dim > 0) or a missing / misshapen c."""
        x = None
        if self.z_dim > 0:
            if z is None or z.ndim != 2 or z.shape[1] != self.z_dim:
                raise ValueError(f"z must be [N, {self.z_dim}], got {None if z is None else list(z.shape)}")
            x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                raise ValueError(f"this network is conditional: c must be [N, {self.c_dim}]")
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)

        if update_w_avg is None:
            update_w_avg = self.training
        if update_w_avg and self.w_avg_beta is not None:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))

        if self.num_ws is None:
            return x
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            ws = truncate(ws, self.w_avg, truncation_psi, truncation_cutoff)
        return ws
