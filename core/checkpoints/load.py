"""The one way every front end opens a generator: `load_generator(path)` reads any supported file
(core/checkpoints/read.py), builds our network and makes it ready for inference.
"""

from __future__ import annotations

import os
import torch

from core.networks.generator import Generator
from core.networks.build import build_generator, estimate_w_avg


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu", notes: list | None = None) -> Generator:
    """Open a generator from any supported file (see core/checkpoints/read.py), ready for inference.

    `notes` (a list) receives remarks about the conversion, e.g. that w_avg had to be computed.
    """
    from core.checkpoints.read import read_network
    f = read_network(path)
    G = build_generator(f.config, f.state, str(path))
    G.eval().requires_grad_(False)
    if f.needs_w_avg:
        G.mapping.w_avg.copy_(estimate_w_avg(G))
        f.notes.append("the file has no W average: computed it from 10,000 samples")
    if notes is not None:
        notes.extend(f.notes)
    return G.to(device)
