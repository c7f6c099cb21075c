"""Latents: how an image's W+ is described, built and stored.

    recipe.py   LatentRecipe, a plain description of an image's latent (seeds, z, W or a loaded W+;
                class; truncation ψ as a scalar, per group or per layer, with a cutoff; style-mixing
                sources; directions) and build_ws(G, recipe) -> W+ [N, num_ws, w_dim]. Every front
                end (stylegan-generate, the explorer) builds W+ through it.
    wfile.py    the one reader and writer of W / W+ .npz files (stylegan-generate --save-ws, NVIDIA's
                projector's projected_w.npz, one W broadcast to every layer).

The tensor functions both use (z from a seed, truncation, mixing, interpolation, directions) are in
core/latents/wplus.py.
"""

from core.latents.recipe import DirectionStep, LatentRecipe, StyleMix, build_ws, map_seeds, map_z
from core.latents.wfile import WFile, read_ws_file, write_ws_file

__all__ = ["DirectionStep", "LatentRecipe", "StyleMix", "WFile", "build_ws", "map_seeds", "map_z",
           "read_ws_file", "write_ws_file"]
