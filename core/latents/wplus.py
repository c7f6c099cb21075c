"""W+ controls: pure functions on latents, shared by the generate CLI, the explorer and training.

W+ is a tensor [N, num_ws, w_dim]: one w per synthesis layer. Everything a user can do to a
latent — truncation, style mixing, interpolation, directions — is a function here, so every front
end produces identical images for identical settings.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import torch

GROUP_NAMES = ("coarse", "middle", "fine")


# ---------------------------------------------------------------------------------------- seeds ---

def z_from_seed(seed: int, z_dim: int) -> torch.Tensor:
    """The z NVIDIA's tools use for a seed: RandomState(seed).randn(1, z_dim), as float32 [1, z_dim]."""
    if not 0 <= int(seed) < 2 ** 32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    return torch.from_numpy(np.random.RandomState(int(seed)).randn(1, z_dim).astype(np.float32))


def zs_from_seeds(seeds: Sequence[int], z_dim: int) -> torch.Tensor:
    if len(seeds) == 0:
        return torch.zeros([0, z_dim])
    return torch.cat([z_from_seed(s, z_dim) for s in seeds])


# ----------------------------------------------------------------------------------- truncation ---

def psi_per_layer(psi, num_ws: int, cutoff: int | None = None) -> torch.Tensor:
    """A [num_ws] vector of truncation factors from a scalar or per-layer ψ and a layer cutoff
    (layers >= cutoff are left alone, ψ = 1)."""
    psi_vec = torch.as_tensor(psi, dtype=torch.float32).flatten()
    if psi_vec.numel() == 1:
        psi_vec = psi_vec.expand(num_ws).clone()
    elif psi_vec.numel() != num_ws:
        raise ValueError(f"per-layer psi needs {num_ws} values, got {psi_vec.numel()}")
    if cutoff is not None:
        psi_vec[max(int(cutoff), 0):] = 1.0
    return psi_vec


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi=1.0, cutoff: int | None = None) -> torch.Tensor:
    """Pull W+ towards w_avg: w' = w_avg + ψ (w - w_avg), per layer; layers >= cutoff untouched."""
    if isinstance(psi, (int, float)) and cutoff is None:
        return w_avg.to(ws.dtype).lerp(ws, float(psi))
    psi_vec = psi_per_layer(psi, ws.shape[1], cutoff).to(ws.device, ws.dtype)
    return torch.lerp(w_avg.to(ws.dtype).expand_as(ws), ws, psi_vec.view(1, -1, 1))


# ------------------------------------------------------------------------------- layer groups ---

def layer_groups(num_ws: int) -> dict[str, range]:
    """coarse / middle / fine layer ranges, the paper's 0-3 / 4-7 / 8-17 for 18 layers, scaled in
    proportion for other depths (every group keeps at least one layer when num_ws >= 3)."""
    a = min(max(round(num_ws * 4 / 18), 1), max(num_ws - 2, 1))
    b = min(max(round(num_ws * 8 / 18), a + 1), num_ws - 1)
    if num_ws < 3:
        a, b = min(1, num_ws), num_ws
    return {"coarse": range(0, a), "middle": range(a, b), "fine": range(b, num_ws)}


def parse_layers(spec: str, num_ws: int) -> list[int]:
    """Layer list from 'coarse', 'middle', 'fine', 'all', '0-3', '0,2,5-7' or a '+' of groups."""
    spec = spec.strip().lower()
    groups = layer_groups(num_ws)
    layers: set[int] = set()
    for part in re.split(r"[,+]", spec):
        part = part.strip()
        if not part:
            continue
        if part in groups:
            layers.update(groups[part])
        elif part == "all":
            layers.update(range(num_ws))
        elif re.fullmatch(r"\d+", part):
            layers.add(int(part))
        elif m := re.fullmatch(r"(\d+)-(\d+)", part):
            lo, hi = int(m.group(1)), int(m.group(2))
            if lo > hi:
                raise ValueError(f"layer range {part!r} is reversed")
            layers.update(range(lo, hi + 1))
        else:
            raise ValueError(f"bad layer spec {part!r}: use coarse, middle, fine, all, N or N-M")
    if not layers:
        raise ValueError(f"layer spec {spec!r} selects no layers")
    bad = sorted(i for i in layers if i >= num_ws)
    if bad:
        raise ValueError(f"layer {bad[0]} does not exist: this network has layers 0-{num_ws - 1}")
    return sorted(layers)


# --------------------------------------------------------------------------------- style mixing ---

def mix(base: torch.Tensor, sources: torch.Tensor | Sequence[torch.Tensor],
        weights) -> torch.Tensor:
    """Mix styles of K sources into a base W+, per layer.

    base [N, L, D]; sources K tensors [N, L, D] (or [K, N, L, D]); weights [K, L]
    (0 = keep base, 1 = take the source). out = base + sum_k weights[k, l] (source_k - base).
    Hard style mixing is weights of 0 and 1.
    """
    if not isinstance(sources, torch.Tensor):
        if len(sources) == 0:
            return base
        sources = torch.stack(list(sources))
    weights = torch.as_tensor(weights, dtype=base.dtype, device=base.device)
    if weights.ndim == 1:
        weights = weights[None]
    if sources.ndim == 3:
        sources = sources[None]
    if weights.shape != (sources.shape[0], base.shape[1]):
        raise ValueError(f"weights must be [{sources.shape[0]}, {base.shape[1]}], got {list(weights.shape)}")
    delta = sources - base.unsqueeze(0)
    return base + (weights.view(weights.shape[0], 1, -1, 1) * delta).sum(0)


def layer_weights(layers: Sequence[int], num_ws: int, value: float = 1.0) -> torch.Tensor:
    """[num_ws] weights: `value` on the given layers, 0 elsewhere (a hard style-mixing mask)."""
    w = torch.zeros(num_ws)
    w[list(layers)] = value
    return w


# -------------------------------------------------------------------------------- interpolation ---

def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: float, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation along the last axis (for Gaussian z); falls back to lerp when the
    vectors are (anti)parallel. The norm is interpolated linearly."""
    na = a.norm(dim=-1, keepdim=True)
    nb = b.norm(dim=-1, keepdim=True)
    ua = a / na.clamp_min(eps)
    ub = b / nb.clamp_min(eps)
    cos = (ua * ub).sum(-1, keepdim=True).clamp(-1, 1)
    omega = torch.acos(cos)
    so = torch.sin(omega)
    safe = so.abs() > 1e-4
    so_safe = torch.where(safe, so, torch.ones_like(so))
    fa = torch.where(safe, torch.sin((1 - t) * omega) / so_safe, torch.full_like(so, 1 - t))
    fb = torch.where(safe, torch.sin(t * omega) / so_safe, torch.full_like(so, t))
    direction = fa * ua + fb * ub
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(eps)
    return direction * (na + (nb - na) * t)


def add_direction(ws: torch.Tensor, direction: torch.Tensor, amount: float,
                  layers: Sequence[int] | None = None) -> torch.Tensor:
    """Move W+ along a direction [w_dim] by `amount`, on the given layers (all by default)."""
    mask = torch.ones(ws.shape[1], dtype=ws.dtype, device=ws.device) if layers is None \
        else layer_weights(layers, ws.shape[1]).to(ws.device, ws.dtype)
    return ws + amount * mask.view(1, -1, 1) * direction.to(ws.device, ws.dtype).view(1, 1, -1)
