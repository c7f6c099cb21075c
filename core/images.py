"""Image conversions shared by every front end (CLI, explorer, training samples)."""

from __future__ import annotations

import math
from pathlib import Path

from core.files import atomic_write
import numpy as np
import torch
from PIL import Image


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """NCHW float in [-1, 1] -> NHWC uint8, converted exactly as NVIDIA's tools do."""
    return (img * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def save_png(pixels: np.ndarray, path: str | Path) -> None:
    """Save an HWC uint8 array (1, 3 or 4 channels) as PNG.

    zlib level 1: same pixels, files ~15% larger than Pillow's default level 6, which takes 25 ms
    for a 256² image — a fifth of the time it takes to generate one on a 2-core CPU.
    """
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    image = Image.fromarray(pixels)
    atomic_write(path, lambda f: image.save(f, format="PNG", compress_level=1))


def grid(images: np.ndarray, cols: int | None = None, pad: int = 0, fill: int = 0) -> np.ndarray:
    """Tile NHWC images row by row into one HWC image."""
    n, h, w, c = images.shape
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    out = np.full((rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad, c), fill, dtype=images.dtype)
    for i, im in enumerate(images):
        r, q = divmod(i, cols)
        out[r * (h + pad): r * (h + pad) + h, q * (w + pad): q * (w + pad) + w] = im
    return out
