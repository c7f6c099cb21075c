"""What every generator-file reader returns (NetworkFile: the format's name, our config, our state
dict and notes), and the steps the foreign formats share: fitting NVIDIA's channel formula to the
channel counts found in a file, and filling in the FIR filter buffers files do not store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from core.errors import CheckpointError
from core.checkpoints.snapshot import networks_dict
from core.networks.build import build_discriminator, build_generator, estimate_w_avg
from core.networks.config import GeneratorConfig


@dataclass
class NetworkFile:
    kind: str
    config: GeneratorConfig
    state: dict  # our parameter names -> tensors (w_avg may be missing: see needs_w_avg)
    notes: list[str] = field(default_factory=list)
    needs_w_avg: bool = False


def _fit_channels(channels: dict[int, int]) -> tuple[int, int]:
    """channel_base and channel_max such that min(base // res, max) gives these channels."""
    cmax = max(channels.values())
    below = [(res, c) for res, c in channels.items() if c < cmax]
    base = below[0][0] * below[0][1] if below else cmax * max(channels)
    if any(min(base // res, cmax) != c for res, c in channels.items()):
        raise CheckpointError(f"unsupported channel layout {dict(sorted(channels.items()))}")
    return base, cmax


def _with_filters(f: NetworkFile) -> NetworkFile:
    """Add the constant buffers (resample filters) our modules register, from a fresh network."""
    from core.networks.generator import Generator
    fresh = Generator(f.config).state_dict()
    for k, v in fresh.items():
        if k.endswith("resample_filter") and k not in f.state:
            f.state[k] = v
        if k.startswith("synthesis.") and k.endswith("noise_const") and k not in f.state:
            f.state[k] = v  # files without stored noise: fresh constants (noticed in notes)
            if "constant noise" not in " ".join(f.notes):
                f.notes.append("the file stores no constant noise; fixed random noise was made for it")
    if f.needs_w_avg:
        f.state["mapping.w_avg"] = torch.zeros(f.config.w_dim)
    return f


def generator_from(f: NetworkFile, path: str | Path):
    """The file's generator (built on the CPU), w_avg estimated when the file has none (NVIDIA's
    TF pickles without dlatent_avg, rosinality files without latent_avg), said in f.notes."""
    G = build_generator(f.config, f.state, str(path))
    if f.needs_w_avg:
        with torch.no_grad():
            G.mapping.w_avg.copy_(estimate_w_avg(G))
        f.notes.append("the file has no W average: computed it from 10,000 samples")
    return G


def _generator_state(f: NetworkFile, path: Path) -> dict:
    """The file's generator state with every buffer filled in (w_avg estimated when missing)."""
    return {k: v.detach().clone() for k, v in generator_from(f, path).state_dict().items()}


def _pack(f: NetworkFile, path: Path, G_ema: dict, G: dict | None = None, D: tuple | None = None,
          ada_p: float | None = None, notes: list | None = None) -> dict:
    meta = {"source_format": f.kind, "converted_from": path.name, "notes": list(notes or f.notes)}
    if D is None:
        return networks_dict(f.config.to_dict(), G_ema, meta)
    d_config, d_state = D
    g_cfg = f.config
    if (d_config.img_resolution, d_config.img_channels, d_config.c_dim) != \
            (g_cfg.img_resolution, g_cfg.img_channels, g_cfg.c_dim):
        raise CheckpointError(f"its D takes {d_config.img_resolution}x{d_config.img_resolution}x"
                              f"{d_config.img_channels} images (labels {d_config.c_dim}), its G makes "
                              f"{g_cfg.img_resolution}x{g_cfg.img_resolution}x{g_cfg.img_channels} (labels {g_cfg.c_dim})")
    D_net = build_discriminator(d_config, d_state, f"{path} (discriminator)")  # every shape checked
    return networks_dict(g_cfg.to_dict(), G_ema, meta, d_config.to_dict(), G,
                         {k: v.detach().clone() for k, v in D_net.state_dict().items()}, ada_p)
