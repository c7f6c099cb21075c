"""(generator, state) -> W+ and noise settings, composed only of core.latents.wplus functions.

Order: base latent (seed blend, walk or loaded W/W+) -> truncation -> style mixing (sources
truncated alike) -> directions. For a plain seed this is exactly what stylegan-generate does, so
the explorer and the CLI show identical pixels.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from core.latents import wplus
from core.noise import NoiseControl
from core.latents.directions import Directions

from .state import ExplorerState

SEED_STEP_Y = 100  # seed = x + 100 y, as NVIDIA's visualizer


def seed_at(x: int, y: int) -> int:
    return (int(x) + int(y) * SEED_STEP_Y) & 0xFFFFFFFF


def blend_weights(x: float, y: float) -> list[tuple[int, float]]:
    """(seed, weight) of the (up to four) integer neighbours of (x, y), bilinear weights."""
    fx, fy = math.floor(x), math.floor(y)
    out = []
    for ox, oy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        wgt = (1 - abs(x - (fx + ox))) * (1 - abs(y - (fy + oy)))
        if wgt > 0:
            out.append((seed_at(fx + ox, fy + oy), wgt))
    return out


class LatentComposer:
    """Builds W+ for states of one generator; caches mapped seeds and loaded W files."""

    def __init__(self, G, device: torch.device, cache_size: int = 512):
        self.G = G
        self.device = device
        self.cache_size = cache_size
        self._w: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._files: dict[str, torch.Tensor] = {}
        self._file_keys: dict[str, list[int]] = {}
        self.directions: Directions | None = None

    # ------------------------------------------------------------------------------- latents ---
    def z(self, seed: int) -> torch.Tensor:
        return wplus.z_from_seed(seed, self.G.z_dim).to(self.device)

    @torch.inference_mode()
    def map_z(self, z: torch.Tensor) -> torch.Tensor:
        """z [1, z_dim] -> untruncated W+ [1, num_ws, w_dim] (class 0 for conditional models)."""
        c = None
        if self.G.c_dim:
            c = torch.zeros([1, self.G.c_dim], device=self.device)
            c[0, 0] = 1
        return self.G.mapping(z, c)

    def w(self, seed: int) -> torch.Tensor:
        """Untruncated W+ of a seed [1, num_ws, w_dim], cached."""
        seed = int(seed) & 0xFFFFFFFF
        if seed in self._w:
            self._w.move_to_end(seed)
            return self._w[seed]
        ws = self.map_z(self.z(seed))
        self._w[seed] = ws
        if len(self._w) > self.cache_size:
            self._w.popitem(last=False)
        return ws

    def load_w_file(self, path: str) -> torch.Tensor:
        """W [N, w_dim] or W+ [N, num_ws, w_dim] from a .npz (key 'w' or 'ws'), as W+."""
        if path not in self._files:
            try:
                with np.load(path, allow_pickle=False) as z:
                    key = "w" if "w" in z.files else "ws" if "ws" in z.files else None
                    if key is None:
                        raise ValueError(f"{path}: no 'w' array")
                    arr = z[key].astype(np.float32)
                    seeds = z["seed"].reshape(-1).tolist() if "seed" in z.files else None
            except FileNotFoundError:
                raise ValueError(f"{path}: no such file") from None
            except (OSError, EOFError) as exc:
                raise ValueError(f"{path}: not a readable .npz ({exc})") from None
            if arr.ndim == 1:
                arr = arr[None]
            if arr.ndim == 2:
                arr = np.repeat(arr[:, None], self.G.num_ws, axis=1)
            if arr.ndim != 3 or arr.shape[1:] != (self.G.num_ws, self.G.w_dim):
                raise ValueError(f"{Path(path).name}: W of shape {list(arr.shape)} does not fit this "
                                 f"model ([N, {self.G.num_ws}, {self.G.w_dim}])")
            self._files[path] = torch.from_numpy(arr).to(self.device)
            # Noise keys: the seeds stylegan-generate --save-ws stored with the W, else row numbers.
            self._file_keys[path] = [int(k) for k in seeds] if seeds is not None and len(seeds) == len(arr) \
                else list(range(len(arr)))
        return self._files[path]

    def image_key(self, state: ExplorerState) -> int:
        """What random noise is keyed by (core.noise.NoiseSource), as stylegan-generate keys it: the
        seed shown (the nearest integer position), a walk's first keyframe, a W file's stored seed."""
        if state.walk.active and state.walk.keyframes:
            return int(state.walk.keyframes[0]) & 0xFFFFFFFF
        if state.latent.w_file:
            keys = self._file_keys.get(state.latent.w_file)
            if keys is None:
                self.load_w_file(state.latent.w_file)
                keys = self._file_keys[state.latent.w_file]
            return keys[min(max(state.latent.w_index, 0), len(keys) - 1)]
        return seed_at(round(state.latent.x), round(state.latent.y))

    def walk_ws(self, state: ExplorerState, t: float | None = None) -> torch.Tensor:
        """Untruncated W+ at position t (keyframe units) of the state's walk."""
        walk = state.walk
        keys = walk.keyframes
        t = walk.t if t is None else t
        if walk.mode == "noise":
            z0 = self.z(keys[0])
            z1 = self.z(keys[1] if len(keys) > 1 else keys[0] + 1)
            period = max(len(keys), 1)
            angle = 2 * math.pi * (t % period) / period
            if angle == 0:
                return self.w(keys[0])
            return self.map_z(z0 * math.cos(angle) + z1 * math.sin(angle))
        n = len(keys)
        segments = n if walk.loop else n - 1
        t = t % segments if walk.loop else min(max(t, 0.0), float(segments))
        k = min(int(math.floor(t)), segments - 1) if segments > 0 else 0
        frac = t - k
        a, b = keys[k % n], keys[(k + 1) % n]
        if frac == 0:
            return self.w(a)
        if frac == 1:
            return self.w(b)
        if walk.mode == "lerp":
            return wplus.lerp(self.w(a), self.w(b), frac)
        return self.map_z(wplus.slerp(self.z(a), self.z(b), frac))

    def base_ws(self, state: ExplorerState) -> torch.Tensor:
        if state.walk.active:
            return self.walk_ws(state)
        if state.latent.w_file:
            ws = self.load_w_file(state.latent.w_file)
            return ws[min(max(state.latent.w_index, 0), len(ws) - 1)][None]
        parts = blend_weights(state.latent.x, state.latent.y)
        if len(parts) == 1:
            return self.w(parts[0][0])
        return sum(wgt * self.w(seed) for seed, wgt in parts)

    # --------------------------------------------------------------------------- composition ---
    def truncate(self, ws: torch.Tensor, state: ExplorerState) -> torch.Tensor:
        tr = state.trunc
        w_avg = self.G.mapping.w_avg
        if not tr.per_group:
            if tr.psi == 1:  # (lerp with weight 1 is exactly ws, so this matches the CLI bit for bit)
                return ws
            return wplus.truncate(ws, w_avg, float(tr.psi), tr.cutoff)
        groups = wplus.layer_groups(self.G.num_ws)
        psi = [0.0] * self.G.num_ws
        for name, layers in groups.items():
            for i in layers:
                psi[i] = float(tr.group_psi.get(name, 1.0))
        return wplus.truncate(ws, w_avg, psi, tr.cutoff)

    def ws(self, state: ExplorerState) -> torch.Tensor:
        """The W+ [1, num_ws, w_dim] a state renders."""
        ws = self.truncate(self.base_ws(state), state)
        sources = [s for s in state.styles if any(w != 0 for w in s.weights)]
        if sources:
            num_ws = self.G.num_ws
            weights = torch.zeros(len(sources), num_ws)
            for i, s in enumerate(sources):
                vals = list(s.weights)[:num_ws]
                weights[i, :len(vals)] = torch.tensor(vals, dtype=torch.float32)
            src = [self.truncate(self.w(s.seed), state) for s in sources]
            ws = wplus.mix(ws, src, weights.to(self.device))
        if self.directions is not None:
            for e in state.directions.entries:
                if e.amount == 0 or not 0 <= e.index < len(self.directions.vectors):
                    continue
                last = self.G.num_ws - 1 if e.last_layer is None else min(e.last_layer, self.G.num_ws - 1)
                layers = range(max(e.first_layer, 0), last + 1)
                ws = wplus.add_direction(ws, self.directions.vectors[e.index], e.amount, layers)
        return ws

    def noise(self, state: ExplorerState) -> NoiseControl:
        n = state.noise
        return NoiseControl(mode=n.mode, strength=n.strength,
                                  layer_strength=list(n.layer_strength) or None,
                                  seed=n.seed if n.mode == "random" else None,
                                  keys=[self.image_key(state)] if n.mode == "random" else None)
