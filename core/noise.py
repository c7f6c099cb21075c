"""The noise contract: how the synthesis network's per-pixel noise inputs are chosen, scaled and
drawn — one place for StyleGAN1 and StyleGAN2 (StyleGAN1's AdaIN layers, StyleGAN2's modulated convolutions)
and every front end (stylegan-generate, the explorer, training, metrics).

    NoiseControl   what a user sets: mode (const | random | none), strength (global), per-layer
                   strengths, the noise seed, and optionally one key per image
    NoiseSource    one synthesis pass's noise, resolved once: the gain of every noise layer and the
                   maps, which a layer asks for with `layer(index, batch, const_buffer)`

Each layer multiplies the map by its learned noise strength and the gain (Karras et al. 2019,
"stochastic variation"; StyleGAN2 keeps one scalar strength per layer).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

NOISE_MODES = ("const", "random", "none")


@dataclass
class NoiseControl:
    """How the synthesis network's per-pixel noise is drawn and scaled.

    mode      const (the stored buffers: deterministic), random (fresh noise; `seed` makes it
              repeatable) or none
    strength  a global multiplier on every layer's learned noise strength
    layer_strength  optional per-layer multipliers, one per noise layer (synthesis.num_layers)
    seed      the noise seed of random mode (None: torch's global RNG, or 0 with keys)
    keys      one per image (its latent seed, say): random maps then depend on (seed, key) alone
    """

    mode: str = "const"
    strength: float = 1.0
    layer_strength: list[float] | None = None
    seed: int | None = None
    keys: list[int] | None = None

    def __post_init__(self):
        if self.mode not in NOISE_MODES:
            raise ValueError(f"noise mode must be one of {', '.join(NOISE_MODES)}, got {self.mode!r}")

    def gain(self, layer: int) -> float:
        """The multiplier of noise layer `layer`: strength x its layer strength."""
        g = float(self.strength)
        if self.layer_strength is not None and layer < len(self.layer_strength):
            g *= float(self.layer_strength[layer])
        return g

    def source(self, device: torch.device | str, num_layers: int) -> "NoiseSource":
        """The noise of one synthesis pass over `num_layers` noise layers."""
        return NoiseSource(self.mode, [self.gain(i) for i in range(num_layers)],
                           self.seed if self.mode == "random" else None, self.keys, device)

    def rows(self, start: int, stop: int) -> "NoiseControl":
        """The same settings for images start..stop of the batch (their keys)."""
        return self if self.keys is None else replace(self, keys=list(self.keys[start:stop]))


def noise_map_seed(seed: int, key: int, layer: int) -> int:
    """The RNG seed of one noise map: a 64-bit mix (splitmix64) of (noise seed, image key, layer)."""
    x = (int(seed) * 0x9E3779B97F4A7C15 + int(key) * 0xBF58476D1CE4E5B9 + int(layer) * 0x94D049BB133111EB + 1) \
        & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (x ^ (x >> 31)) & 0x7FFFFFFFFFFFFFFF


class NoiseSource:
    """One synthesis pass's noise: the mode, every noise layer's gain, and the random maps.

    With keys (one per image), image i's random map at layer l is drawn on the CPU from its own
    generator seeded by (seed, keys[i], l): a function of the noise seed and the image alone — the
    same whatever the batch, the image's place in it, the other images, the device, or whether the
    network runs the batch at once or image by image; `stylegan-generate --seeds`, `--ws` and the
    explorer key an image by its latent seed. Without keys: one generator seeded with `seed` (or
    torch's global RNG when None) draws every map in turn — the cheap way training uses.
    """

    def __init__(self, mode: str, gains: list[float], seed: int | None, keys: list[int] | None,
                 device: torch.device | str):
        self.mode, self.gains, self.seed, self.keys = mode, gains, seed, keys
        self.device = torch.device(device)
        self.generator = None
        if mode == "random" and keys is None and seed is not None:
            self.generator = torch.Generator(device=self.device).manual_seed(int(seed))

    def rows(self, start: int, stop: int) -> "NoiseSource":
        """The noise of images start..stop (their keys; one shared generator without keys)."""
        if self.keys is None:
            return self
        return NoiseSource(self.mode, self.gains, self.seed, self.keys[start:stop], self.device)

    def layer(self, index: int, n: int, const: torch.Tensor) -> tuple[torch.Tensor, float] | None:
        """(noise map, gain) for noise layer `index` of a batch of n, or None when it gets no noise.
        The map is the layer's stored `const` [R, R] in const mode, else a random [n, 1, R, R]."""
        gain = self.gains[index] if index < len(self.gains) else 1.0
        if self.mode == "none" or gain == 0:
            return None
        if self.mode == "const":
            return const, gain
        return self.draw(index, n, const.shape[-1]), gain

    def draw(self, layer: int, n: int, resolution: int) -> torch.Tensor:
        """Random noise [n, 1, resolution, resolution] for noise layer `layer`."""
        if self.keys is None:
            return torch.randn([n, 1, resolution, resolution], device=self.device, generator=self.generator)
        if len(self.keys) != n:
            raise ValueError(f"{len(self.keys)} noise keys for a batch of {n} images")
        seed = 0 if self.seed is None else self.seed
        maps = [torch.randn([1, 1, resolution, resolution],
                            generator=torch.Generator().manual_seed(noise_map_seed(seed, key, layer)))
                for key in self.keys]
        return torch.cat(maps).to(self.device)
