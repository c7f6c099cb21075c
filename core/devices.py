"""The device a command runs on: --device auto | cpu | cuda."""

from __future__ import annotations

import torch

from core.errors import UsageError


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when available, else the CPU; "cuda" without a GPU and anything else -> UsageError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is available (use --device cpu or auto)")
    if name not in ("cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, not {name!r}")
    return torch.device(name)
