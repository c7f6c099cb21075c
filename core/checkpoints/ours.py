"""Our checkpoint format and the one function that opens a generator for every front end.

A checkpoint is a `.pt` file readable with `torch.load(weights_only=True)` — plain dicts of tensors
and primitives, so loading never runs code from the file:

    {"format": "stylegan-toolkit", "version": 1,
     "G_config": {...GeneratorConfig...}, "G_ema": state_dict,
     optional: "D_config", "G", "D", optimiser states, "training": {...}, "meta": {...}}

Snapshots are written to a temporary file in the same folder and renamed into place, so a crash
never leaves a half-written checkpoint behind. Every failure to read one is a CheckpointError with
a one-line message.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from core.networks.config import DiscriminatorConfig, GeneratorConfig
from core.networks.generator import Generator

FORMAT = "stylegan-toolkit"
VERSION = 1


class CheckpointError(Exception):
    """A file that cannot be used as a checkpoint; the message is one line meant for users."""


def _umask() -> int:
    """The process umask, read without setting it (os.umask would race with other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save to a temp file beside `path`, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def save_generator(path, G: Generator, meta: dict | None = None, **extra) -> None:
    """Write a generator-only checkpoint (G_ema) plus any extra plain entries."""
    atomic_save({"format": FORMAT, "version": VERSION, "G_config": G.config.to_dict(),
                 "G_ema": _plain_state(G), "meta": dict(meta or {}), **extra}, path)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Read and validate one of our checkpoints (no networks built)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        refused = re.search(r"GLOBAL ([\w.]+)", str(exc))
        detail = f"; refused global {refused.group(1)}" if refused else ""
        raise CheckpointError(f"{path}: not a StyleGAN toolkit checkpoint: it holds Python objects, "
                              f"which are never loaded{detail}") from None
    except Exception:  # torch.load on arbitrary bytes can raise almost anything
        reason = "truncated or corrupt" if _looks_like_zip(path) else "not a PyTorch checkpoint"
        raise CheckpointError(f"{path}: cannot read checkpoint ({reason})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a StyleGAN toolkit checkpoint (no '{FORMAT}' format tag)")
    version = data.get("version")
    if version != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {version!r} is not supported "
                              f"(this toolkit reads version {VERSION})")
    for key in ("G_config", "G_ema"):
        if not isinstance(data.get(key), dict):
            raise CheckpointError(f"{path}: checkpoint has no {key}")
    return data


def _looks_like_zip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def build_generator(config: dict | GeneratorConfig, state: dict | None = None,
                    source: str = "checkpoint") -> Generator:
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
    module.load_state_dict(state)


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu", notes: list | None = None) -> Generator:
    """Open a generator from any supported file (see core/formats.py), ready for inference.

    `notes` (a list) receives remarks about the conversion, e.g. that w_avg had to be computed.
    """
    from core.checkpoints.formats import read_network
    f = read_network(path)
    G = build_generator(f.config, f.state, str(path))
    G.eval().requires_grad_(False)
    if f.needs_w_avg:
        G.mapping.w_avg.copy_(estimate_w_avg(G))
        f.notes.append("the file has no W average: computed it from 10,000 samples")
    if notes is not None:
        notes.extend(f.notes)
    return G.to(device)


@torch.no_grad()
def estimate_w_avg(G: Generator, num: int = 10_000, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    total = torch.zeros(G.w_dim, dtype=torch.float64)
    for i in range(0, num, 1000):
        z = torch.randn(min(1000, num - i), G.z_dim, generator=gen)
        c = None
        if G.c_dim:
            c = torch.nn.functional.one_hot(torch.randint(G.c_dim, (len(z),), generator=gen), G.c_dim).float()
        total += G.mapping(z, c, update_w_avg=False)[:, 0].double().sum(0)
    return (total / num).float()
