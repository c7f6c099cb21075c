"""(generator, state) -> W+ and noise settings.

What is interactive lives here: the position in seed space (a bilinear blend of the four
neighbouring seeds' W), walks, and the caches of mapped seeds and loaded W files. The rest — truncation
(ψ, per group, cutoff), style mixing (sources truncated alike), directions — is the shared latent
recipe: the state becomes a core.latents.recipe.LatentRecipe and build_ws makes the W+, exactly as
stylegan-generate does, so the explorer and the CLI show identical pixels. W files are read by
core.latents.wfile and used as saved (a file written with --trunc 0.7 is not truncated again).
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict

import torch

from core.latents import wplus
from core.latents.directions import Directions, cached_pca_directions, load_directions
from core.latents.recipe import DirectionStep, LatentRecipe, StyleMix, build_ws
from core.latents.recipe import map_z as map_z_to_ws
from core.latents.wfile import read_ws_file
from core.noise import NoiseControl

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
        self._w: OrderedDict[tuple[int, int], torch.Tensor] = OrderedDict()
        self._files: dict[str, torch.Tensor] = {}
        self._file_keys: dict[str, list[int]] = {}
        self._directions: dict[tuple, Directions | None] = {}  # by source (a file: and its size and time)

    # ------------------------------------------------------------------------------- latents ---
    def z(self, seed: int) -> torch.Tensor:
        return wplus.z_from_seed(seed, self.G.z_dim).to(self.device)

    def class_of(self, class_index: int) -> int | None:
        """The class a conditional model maps with (clamped to its classes); None for others."""
        return min(max(int(class_index), 0), self.G.c_dim - 1) if self.G.c_dim else None

    @torch.inference_mode()
    def map_z(self, z: torch.Tensor, class_index: int = 0) -> torch.Tensor:
        """z [1, z_dim] -> untruncated W+ [1, num_ws, w_dim] (with the class for conditional models,
        as stylegan-generate --class maps it)."""
        return map_z_to_ws(self.G, z, self.class_of(class_index))

    def w(self, seed: int, class_index: int = 0) -> torch.Tensor:
        """Untruncated W+ of a seed (of a class) [1, num_ws, w_dim], cached."""
        key = (int(seed) & 0xFFFFFFFF, self.class_of(class_index) or 0)
        if key in self._w:
            self._w.move_to_end(key)
            return self._w[key]
        ws = self.map_z(self.z(key[0]), key[1])
        self._w[key] = ws
        if len(self._w) > self.cache_size:
            self._w.popitem(last=False)
        return ws

    def load_w_file(self, path: str) -> torch.Tensor:
        """The final W+ [N, num_ws, w_dim] of a W / W+ .npz (core.latents.wfile), cached per path."""
        if path not in self._files:
            wfile = read_ws_file(path, self.G.num_ws, self.G.w_dim)
            self._files[path] = wfile.ws.to(self.device)
            # Noise keys: the seeds stylegan-generate --save-ws stored with the W, else row numbers.
            self._file_keys[path] = wfile.keys
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
        c = state.latent.class_index
        if walk.mode == "noise":
            z0 = self.z(keys[0])
            z1 = self.z(keys[1] if len(keys) > 1 else seed_at(keys[0] + 1, 0))  # (the last seed: then seed 0)
            period = max(len(keys), 1)
            angle = 2 * math.pi * (t % period) / period
            if angle == 0:
                return self.w(keys[0], c)
            return self.map_z(z0 * math.cos(angle) + z1 * math.sin(angle), c)
        n = len(keys)
        segments = n if walk.loop else n - 1
        t = t % segments if walk.loop else min(max(t, 0.0), float(segments))
        k = min(int(math.floor(t)), segments - 1) if segments > 0 else 0
        frac = t - k
        a, b = keys[k % n], keys[(k + 1) % n]
        if frac == 0:
            return self.w(a, c)
        if frac == 1:
            return self.w(b, c)
        if walk.mode == "lerp":
            return wplus.lerp(self.w(a, c), self.w(b, c), frac)
        return self.map_z(wplus.slerp(self.z(a), self.z(b), frac), c)

    def base_ws(self, state: ExplorerState) -> torch.Tensor:
        """The state's base W+ [1, num_ws, w_dim]: untruncated for a walk or a seed position, final
        (as saved) for a W file."""
        if state.walk.active:
            return self.walk_ws(state)
        if state.latent.w_file:
            ws = self.load_w_file(state.latent.w_file)
            return ws[min(max(state.latent.w_index, 0), len(ws) - 1)][None]
        parts = blend_weights(state.latent.x, state.latent.y)
        c = state.latent.class_index
        if len(parts) == 1:
            return self.w(parts[0][0], c)
        return sum(wgt * self.w(seed, c) for seed, wgt in parts)

    # ---------------------------------------------------------------------------- directions ---
    @staticmethod
    def directions_key(source: str) -> tuple:
        """A directions source as a cache key: 'pca', or a file with its size and modification time
        (a file written again is read again)."""
        if source == "pca":
            return (source,)
        try:
            st = os.stat(source)
            return (source, st.st_size, st.st_mtime_ns)
        except OSError:
            return (source, None)

    def load_directions(self, source: str) -> Directions:
        """The directions of `source`: 'pca' (GANSpace: the principal directions of W, computed once per
        model and cached on disk) or a directions .npz, on the device, read once. ValueError or
        ToolkitError (one line) when they cannot be had; remembered, so that recipe() then leaves them
        out instead of failing every frame."""
        key = self.directions_key(source)
        try:
            d = cached_pca_directions(self.G) if source == "pca" else load_directions(source, self.G.w_dim)
        except Exception:
            self._directions[key] = None
            raise
        self._directions[key] = Directions(d.names, d.vectors.to(self.device))
        return self._directions[key]

    def directions(self, source: str) -> Directions | None:
        """The directions of `source`: loaded on first use (errors as load_directions), None when they
        failed to load before (said then)."""
        key = self.directions_key(source)
        return self._directions[key] if key in self._directions else self.load_directions(source)

    def mismatches(self, state: ExplorerState) -> list[str]:
        """What the state asks of this model that it does not have, one line each, naming the field as
        a session spells it: a class beyond a conditional model's classes (stylegan-generate --class
        refuses it), a W file row beyond its rows, a direction beyond its source's. The frame is drawn
        all the same (the class and row clamped, the direction left out); the renderer says these."""
        out = []
        c_dim = self.G.c_dim
        if c_dim:
            classes = [("state.latent.class_index", state.latent.class_index)]
            classes += [(f"state.styles[{i}].class_index", s.class_index) for i, s in enumerate(state.styles)]
            out += [f"{where}: the model has classes 0..{c_dim - 1}, not {value} (class {c_dim - 1} is shown)"
                    for where, value in classes if value >= c_dim]
        if state.latent.w_file and not state.walk.active:
            rows = len(self.load_w_file(state.latent.w_file))
            if state.latent.w_index >= rows:
                out.append(f"state.latent.w_index: {os.path.basename(state.latent.w_file)} has rows 0..{rows - 1}, "
                           f"not {state.latent.w_index} (row {rows - 1} is shown)")
        moved = [(i, e) for i, e in enumerate(state.directions.entries) if e.amount != 0]
        found = self._directions.get(self.directions_key(state.directions.source)) if moved else None
        if found is not None:
            out += [f"state.directions.entries[{i}].index: the directions have 0..{len(found.vectors) - 1}, "
                    f"not {e.index} (left out)" for i, e in moved if e.index >= len(found.vectors)]
        return out

    # --------------------------------------------------------------------------- composition ---
    def recipe(self, state: ExplorerState) -> LatentRecipe:
        """The state as the shared latent recipe (the base, sources and directions already looked up)."""
        tr = state.trunc
        from_file = bool(state.latent.w_file) and not state.walk.active
        base = {"ws": self.base_ws(state)} if from_file else {"w": self.base_ws(state)}
        mix = [StyleMix(weights=s.weights, w=self.w(s.seed, s.class_index)) for s in state.styles
               if any(w != 0 for w in s.weights)]
        directions = []
        moved = [e for e in state.directions.entries if e.amount != 0]
        found = self.directions(state.directions.source) if moved else None  # (the state's own source: a
        if found is not None:  # recording keeps the one it started with while the screen loads another)
            for e in moved:
                if not 0 <= e.index < len(found.vectors):
                    continue
                last = self.G.num_ws - 1 if e.last_layer is None else min(e.last_layer, self.G.num_ws - 1)
                directions.append(DirectionStep(found.vectors[e.index], e.amount,
                                                range(max(e.first_layer, 0), last + 1)))
        return LatentRecipe(**base, psi=dict(tr.group_psi) if tr.per_group else float(tr.psi),
                            cutoff=tr.cutoff, mix=mix, directions=directions)

    def ws(self, state: ExplorerState) -> torch.Tensor:
        """The W+ [1, num_ws, w_dim] a state renders."""
        return build_ws(self.G, self.recipe(state))

    def noise(self, state: ExplorerState) -> NoiseControl:
        n = state.noise
        return NoiseControl(mode=n.mode, strength=n.strength,
                                  layer_strength=list(n.layer_strength) or None,
                                  seed=n.seed if n.mode == "random" else None,
                                  keys=[self.image_key(state)] if n.mode == "random" else None)
