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


def upload(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor on `device` without making the Python thread wait for the GPU.

    A plain `.to("cuda")` of pageable memory is a copy followed by a stream synchronisation
    (PyTorch's memcpy_and_sync): the Python thread stops until every kernel queued so far has run,
    and the GPU then idles while the next ones are launched. From pinned memory with non_blocking
    the copy is queued like a kernel (the pinned buffer is kept until it is done). Values are the same.
    """
    device = torch.device(device)
    if device.type != "cuda" or t.device.type != "cpu":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)
