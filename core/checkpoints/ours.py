"""Our checkpoint format.

A checkpoint is a `.pt` file readable with `torch.load(weights_only=True)` — plain dicts of tensors
and primitives, so loading never runs code from the file:

    {"format": "stylegan-toolkit", "version": 1,
     "G_config": {...GeneratorConfig...}, "G_ema": state_dict,
     optional: "D_config", "G", "D", optimiser states, "training": {...}, "meta": {...}}

Files are written through core/files.py (temporary name, fsync, rename), so a crash never leaves a
half-written checkpoint behind. Every failure to read one is a CheckpointError with a one-line
message.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from pathlib import Path
from typing import Any
import torch

from core.errors import CheckpointError
from core.files import atomic_write, looks_like
from core.networks.generator import Generator
from core.networks.build import _plain_state


FORMAT = "stylegan-toolkit"


VERSION = 1


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save(obj) to `path` through core.files.atomic_write (temp file, fsync, rename)."""
    atomic_write(path, lambda f: torch.save(obj, f))


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
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:1] != b"\x80" and head != b"PK\x03\x04":  # neither a pickle nor torch's zip: say what it is
        raise CheckpointError(f"{path}: not a network file ({looks_like(path)})")
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
