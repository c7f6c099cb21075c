"""The one way every front end opens a generator: `load_generator(path)` reads any supported file
(core/checkpoints/read.py), builds our network and makes it ready for inference.
"""

from __future__ import annotations

import os
import torch

from core.networks.generator import Generator
from core.checkpoints.network_file import generator_from


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu", notes: list | None = None) -> Generator:
    """Open a generator from any supported file (see core/checkpoints/read.py), ready for inference.

    `notes` (a list) receives remarks about the conversion, e.g. that w_avg had to be computed.
    """
    from core.checkpoints.read import read_network
    f = read_network(path)
    G = generator_from(f, path).eval().requires_grad_(False)
    if notes is not None:
        notes.extend(f.notes)
    return G.to(device)
