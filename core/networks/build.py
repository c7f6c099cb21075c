"""Building our networks from a config and a state dict (the step every file format ends in), and
the W average a file without one gets (NVIDIA's w_avg: the mean of the mapping's outputs).

Errors are CheckpointError (core/errors.py) with one line naming what does not fit.
"""

from __future__ import annotations

import torch

from core.networks.config import DiscriminatorConfig, GeneratorConfig
from core.errors import CheckpointError
from core.networks.generator import Generator


def _plain_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def build_generator(config: dict | GeneratorConfig, state: dict | None = None,
                    source: str = "checkpoint") -> Generator:
    """A Generator (on the CPU, in torch's default train mode) from a GeneratorConfig or its dict
    (`asdict` form; the old `flavour` key accepted), with `state` loaded by load_state when given.
    `source` (a file name, say) starts every error message. Raises CheckpointError for a bad config
    (unknown key or bad value) or weights that do not fit (see load_state)."""
    try:
        cfg = config if isinstance(config, GeneratorConfig) else GeneratorConfig.from_dict(config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: bad generator config: {exc}") from None
    G = Generator(cfg)
    if state is not None:
        load_state(G, state, source)
    return G


def build_discriminator(config: dict | DiscriminatorConfig, state: dict | None = None,
                        source: str = "checkpoint"):
    """A Discriminator, or for architecture 'progressive' a ProgressiveDiscriminator (StyleGAN1),
    from a DiscriminatorConfig or its dict, with `state` loaded when given; CheckpointError as
    build_generator."""
    from core.networks.discriminator_stylegan2 import Discriminator
    from core.networks.discriminator_stylegan1 import ProgressiveDiscriminator
    try:
        cfg = config if isinstance(config, DiscriminatorConfig) else DiscriminatorConfig.from_dict(config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: bad discriminator config: {exc}") from None
    D = ProgressiveDiscriminator(cfg) if cfg.architecture == "progressive" else Discriminator(cfg)
    if state is not None:
        load_state(D, state, source)
    return D


def load_state(module: torch.nn.Module, state: dict, source: str) -> None:
    """Load `state` into `module` strictly (same keys, same shapes, every float finite). Raises
    CheckpointError naming the first missing / unexpected key (and how many more), a tensor of the
    wrong shape (or a value that is no tensor), or the count of NaN/inf values in a float tensor."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        what = f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
        n = len(missing) + len(unexpected)
        raise CheckpointError(f"{source}: weights do not match the network ({what}"
                              f"{f' and {n - 1} more' if n > 1 else ''})")
    for k, v in state.items():
        if not isinstance(v, torch.Tensor) or v.shape != own[k].shape:
            shape = list(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
            raise CheckpointError(f"{source}: {k} has shape {shape}, the network expects "
                                  f"{list(own[k].shape)}")
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):  # (it would render black or NaN)
            bad = int((~torch.isfinite(v)).sum())
            raise CheckpointError(f"{source}: {k} holds {bad} value{'s' * (bad > 1)} that are not finite "
                                  "(NaN or inf): these weights come from a run that diverged, or the file is damaged")
    module.load_state_dict(state)


@torch.no_grad()
def estimate_w_avg(G: Generator, num: int = 10_000, seed: int = 0) -> torch.Tensor:
    """The mean of W over `num` mapped z ~ N(0, I) (seeded; uniformly drawn one-hot labels for a
    conditional G) -> [w_dim] float32 on the CPU: a stand-in for NVIDIA's w_avg (which training
    tracks as an EMA of W) for files that lack it. G must be on the CPU (z is drawn there); its
    w_avg is not updated. Accumulated in float64, 1000 samples at a time."""
    gen = torch.Generator().manual_seed(seed)
    total = torch.zeros(G.w_dim, dtype=torch.float64)
    for i in range(0, num, 1000):
        z = torch.randn(min(1000, num - i), G.z_dim, generator=gen)
        c = None
        if G.c_dim:
            c = torch.nn.functional.one_hot(torch.randint(G.c_dim, (len(z),), generator=gen), G.c_dim).float()
        total += G.mapping(z, c, update_w_avg=False)[:, 0].double().sum(0)
    return (total / num).float()
