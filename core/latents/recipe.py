"""The one latent recipe: a plain description of the latent an image is made from, and build_ws,
which turns that description into W+ [N, num_ws, w_dim] for a generator.

stylegan-generate (seeds, ψ, cutoff, style-mixing figures) and the explorer (seed blends, walks,
W files, ψ per group, soft style mixing, directions) both describe what they want as a
LatentRecipe and call build_ws. The same description therefore gives the same W+, and so the
same pixels, in both.

The steps, in this order (NVIDIA's gen_images.py / generate.py and style_mixing.py, with the
explorer's soft mixing and directions added at the end):

    base        seeds -> z = RandomState(seed).randn(1, z_dim), as NVIDIA's tools draw it ->
                mapping(z, c) -> W+. Or a given z, or a W / W+ that came out of the mapping (a
                blend of seeds' W, a point on a walk). Or a final W+ read from a file, which is
                used as it is.
    truncation  w' = w_avg + ψ (w - w_avg) per layer. ψ is a scalar, a ψ per group (coarse /
                middle / fine, see wplus.layer_groups) or one ψ per layer. Layers >= cutoff keep
                ψ = 1, like NVIDIA's truncation_cutoff. A final W+ is never truncated: it was
                truncated (or projected) before it was saved, and NVIDIA's generate.py
                --projected-w uses it as it is too.
    mixing      out = base + Σ_k weights_k[l] (source_k - base), per layer l. A source is a seed,
                a W / W+ or a final W+. Seed and W sources are truncated like the base.
    directions  out += amount · vector on the chosen layers (all layers by default).

Shapes: z [N, z_dim]; W [N, w_dim]; W+ [N, num_ws, w_dim]; a per-layer list has num_ws values.
A source with one row is used for every row of the base.

Errors: UsageError (core/errors.py), with a one-line message, for a description that does not fit the generator
(wrong ψ length, unknown group, missing or unwanted class, shapes, layers that do not exist).

G is duck-typed: build_ws needs z_dim, w_dim, num_ws, c_dim, mapping(z, c) and mapping.w_avg.
It runs under the caller's grad mode (front ends call it inside torch.inference_mode()).
The tensor maths lives in core/latents/wplus.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real

import torch

from core.errors import UsageError
from core.latents import wplus

Psi = float | Sequence[float] | Mapping[str, float]


@dataclass
class StyleMix:
    """A style-mixing source: its own latent, and how much of it each layer takes.

    weights  one per layer: 0 keeps the base, 1 takes this source's style, and values in between
             blend the two. A shorter list is padded with 0 and a longer one cut (a session saved
             for a model with another depth). A source whose weights are all 0 is skipped.
    Give exactly one of seed, w (from the mapping, so it is truncated like the base) or ws (final).
    """
    weights: Sequence[float]
    seed: int | None = None
    w: torch.Tensor | None = None
    ws: torch.Tensor | None = None


@dataclass
class DirectionStep:
    """Move W+ along `vector` [w_dim] by `amount`, on `layers` (None means every layer).
    An amount of 0 is skipped."""
    vector: torch.Tensor
    amount: float
    layers: Sequence[int] | None = None


@dataclass
class LatentRecipe:
    """A plain description of the latent of one or more images (N rows).

    The base is exactly one of:
      seeds   NVIDIA-style seeds, one image per seed
      z       [N, z_dim]
      w       W [N, w_dim] or W+ [N, num_ws, w_dim] from the mapping network, not yet truncated
      ws      a final W+ [N, num_ws, w_dim], e.g. read with core.latents.wfile: used as it is
    class_idx  the class label of a conditional network (None for an unconditional one)
    psi        truncation: a scalar, {'coarse': ψ, 'middle': ψ, 'fine': ψ} (a missing group is 1),
               or num_ws values
    cutoff     truncate only layers below this (None: all), NVIDIA's truncation_cutoff
    mix        style-mixing sources, applied after truncation
    directions applied last, in order
    """
    seeds: Sequence[int] | None = None
    z: torch.Tensor | None = None
    w: torch.Tensor | None = None
    ws: torch.Tensor | None = None
    class_idx: int | None = None
    psi: Psi = 1.0
    cutoff: int | None = None
    mix: Sequence[StyleMix] = ()
    directions: Sequence[DirectionStep] = ()


# ------------------------------------------------------------------------------------ mapping ---

def _device(G) -> torch.device:
    return G.mapping.w_avg.device


def class_labels(G, class_idx: int | None, n: int) -> torch.Tensor | None:
    """The one-hot labels c [n, c_dim] for a conditional G, or None for an unconditional one."""
    if not G.c_dim:
        if class_idx is not None:
            raise UsageError("a class was given, but this network is not conditional")
        return None
    if class_idx is None:
        raise UsageError(f"this network is conditional ({G.c_dim} classes): give a class")
    if not 0 <= int(class_idx) < G.c_dim:
        raise UsageError(f"class {class_idx} does not exist: this network has classes 0-{G.c_dim - 1}")
    c = torch.zeros([1, G.c_dim], device=_device(G))
    c[0, int(class_idx)] = 1
    return c.expand(n, -1)


def map_z(G, z: torch.Tensor, class_idx: int | None = None) -> torch.Tensor:
    """z [N, z_dim] -> untruncated W+ [N, num_ws, w_dim]."""
    z = z.to(_device(G))
    return G.mapping(z, class_labels(G, class_idx, len(z)))


def map_seeds(G, seeds: Sequence[int], class_idx: int | None = None) -> torch.Tensor:
    """Seeds -> untruncated W+ [len(seeds), num_ws, w_dim], with NVIDIA's z for each seed."""
    return map_z(G, wplus.zs_from_seeds(list(seeds), G.z_dim), class_idx)


# --------------------------------------------------------------------------------- truncation ---

def layer_psi(psi: Psi, num_ws: int) -> float | list[float]:
    """ψ as wplus.truncate takes it: a float, or num_ws floats (a per-group ψ spread over its layers)."""
    if isinstance(psi, Mapping):
        unknown = sorted(set(psi) - set(wplus.GROUP_NAMES))
        if unknown:
            raise UsageError(f"unknown layer group {unknown[0]!r} for psi: use {', '.join(wplus.GROUP_NAMES)}")
        out = [1.0] * num_ws
        for name, layers in wplus.layer_groups(num_ws).items():
            for i in layers:
                out[i] = float(psi.get(name, 1.0))
        return out
    if isinstance(psi, Real) and not isinstance(psi, bool):
        return float(psi)
    values = [float(p) for p in psi]
    if len(values) != num_ws:
        raise UsageError(f"per-layer psi needs {num_ws} values (one per layer), got {len(values)}")
    return values


# --------------------------------------------------------------------------------------- base ---

def _latent(G, what: str, seeds=None, z=None, w=None, ws=None,
            class_idx: int | None = None) -> tuple[torch.Tensor, bool]:
    """(W+ [N, num_ws, w_dim], final) from exactly one of seeds / z / w / ws."""
    given = [name for name, v in (("seeds", seeds), ("z", z), ("w", w), ("ws", ws)) if v is not None]
    if len(given) != 1:
        raise UsageError(f"{what} needs exactly one of seeds, z, w or ws, got {', '.join(given) or 'none'}")
    if seeds is not None:
        return map_seeds(G, seeds, class_idx), False
    if z is not None:
        return map_z(G, z, class_idx), False
    if w is not None:
        if w.ndim == 2 and w.shape[1] == G.w_dim:  # one W per row, the same for every layer
            return w.to(_device(G)).unsqueeze(1).expand(-1, G.num_ws, -1), False
        _check_wplus(G, w, f"{what} w")
        return w.to(_device(G)), False
    _check_wplus(G, ws, f"{what} ws")
    return ws.to(_device(G)), True


def _check_wplus(G, ws: torch.Tensor, what: str) -> None:
    if ws.ndim != 3 or tuple(ws.shape[1:]) != (G.num_ws, G.w_dim):
        raise UsageError(f"{what} of shape {list(ws.shape)} does not fit this network "
                         f"([N, {G.num_ws}, {G.w_dim}])")


def _rows(ws: torch.Tensor, n: int, what: str) -> torch.Tensor:
    """A source with one row serves every row of the base."""
    if len(ws) == n:
        return ws
    if len(ws) == 1:
        return ws.expand(n, -1, -1)
    raise UsageError(f"{what} has {len(ws)} rows, the base {n}")


# ---------------------------------------------------------------------------------- build_ws ---

def build_ws(G, recipe: LatentRecipe) -> torch.Tensor:
    """The W+ [N, num_ws, w_dim] a recipe describes, on G's device (see the module docstring)."""
    num_ws = G.num_ws
    w_avg = G.mapping.w_avg
    psi = layer_psi(recipe.psi, num_ws)

    def truncated(latent: tuple[torch.Tensor, bool]) -> torch.Tensor:
        ws, final = latent
        return ws if final else wplus.truncate(ws, w_avg, psi, recipe.cutoff)

    ws = truncated(_latent(G, "the recipe", recipe.seeds, recipe.z, recipe.w, recipe.ws, recipe.class_idx))

    sources = [s for s in recipe.mix if any(float(x) != 0 for x in s.weights)]
    if sources:
        weights = torch.zeros(len(sources), num_ws)
        for k, s in enumerate(sources):
            values = [float(x) for x in s.weights][:num_ws]
            weights[k, :len(values)] = torch.tensor(values, dtype=torch.float32)
        src = [_rows(truncated(_latent(G, f"style source {k}", None if s.seed is None else [s.seed],
                                       None, s.w, s.ws, recipe.class_idx)), len(ws), f"style source {k}")
               for k, s in enumerate(sources)]
        ws = wplus.mix(ws, src, weights.to(ws.device))

    for d in recipe.directions:
        if d.amount == 0:
            continue
        if d.layers is not None:
            bad = [i for i in d.layers if not 0 <= i < num_ws]
            if bad:
                raise UsageError(f"direction layer {bad[0]} does not exist: this network has layers 0-{num_ws - 1}")
        ws = wplus.add_direction(ws, d.vector, d.amount, d.layers)
    return ws
