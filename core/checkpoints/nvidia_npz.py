"""NVIDIA-named state dicts in `.npz` files: every parameter and buffer under its
stylegan2-ada-pytorch name, plus `config_json` with the constructor kwargs (the layout of the
official-weight fixtures). Read with allow_pickle=False: arrays and strings only.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from core.errors import first_line
from core.files import atomic_write
import numpy as np
import torch

from core.errors import CheckpointError
from core.networks.config import DiscriminatorConfig, GeneratorConfig
from core.checkpoints.nvidia_kwargs import (discriminator_config_from_nvidia, generator_config_from_nvidia,
                            generator_config_to_nvidia)


def read_nvidia_npz(path: str | Path, expect: str | None = None
                    ) -> tuple[GeneratorConfig | DiscriminatorConfig, dict[str, torch.Tensor]]:
    """-> (config, state dict). `expect` 'generator' or 'discriminator' rejects the other kind."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path}: cannot read as .npz ({first_line(exc, 100)})") from None
    if "config_json" not in arrays:
        raise CheckpointError(f"{path}: .npz has no config_json entry (not an NVIDIA-named state dict)")
    try:
        kwargs = json.loads(str(arrays.pop("config_json")))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: config_json is not valid JSON ({exc})") from None
    is_generator = any(k.startswith("synthesis.") for k in arrays)  # (a conditional D has mapping.* too)
    kind = "generator" if is_generator else "discriminator"
    if expect is not None and expect != kind:
        raise CheckpointError(f"{path}: holds a {kind}, but a {expect} is needed")
    try:
        config = (generator_config_from_nvidia if is_generator else discriminator_config_from_nvidia)(kwargs)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: unusable config_json ({exc})") from None
    state = {k: torch.from_numpy(np.array(v, copy=True)) for k, v in arrays.items()}
    return config, state


def write_nvidia_npz(path: str | Path, G) -> None:
    """Write a StyleGAN2 or StyleGAN3 generator as NVIDIA-named arrays (its state dict: the names of
    stylegan2-ada-pytorch / the stylegan3 repository) + config_json (Generator's kwargs)."""
    arrays = {k: v.detach().cpu().numpy() for k, v in G.state_dict().items()}
    arrays["config_json"] = np.array(json.dumps(generator_config_to_nvidia(G.config)))
    atomic_write(path, lambda f: np.savez(f, **arrays))
