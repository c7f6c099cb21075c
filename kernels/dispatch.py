"""Choosing between the pure-PyTorch reference ops and compiled CUDA ops.

Every op in this package has a reference implementation (the spec; what runs on CPU) and may have a
CUDA implementation. `STYLEGAN_KERNELS` forces a path:

    ref   always the reference, even on a GPU
    cuda  the CUDA op for CUDA tensors (a failed build is then an error, not a warning)
    auto  (default) the CUDA op for CUDA tensors when it builds; otherwise one warning, then ref

CUDA ops register themselves with `register_cuda_op`; they are built lazily by their loader on first
use, never at import time, so a CPU-only machine never touches a compiler.
"""

from __future__ import annotations

import os
import warnings
from typing import Callable

MODES = ("ref", "cuda", "auto")

# name -> loader; a loader returns the CUDA implementation (a callable) or raises on failure.
_cuda_loaders: dict[str, Callable[[], Callable]] = {}
_cuda_ops: dict[str, Callable | None] = {}
_warned: set[str] = set()


def kernel_mode() -> str:
    mode = os.environ.get("STYLEGAN_KERNELS", "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(f"STYLEGAN_KERNELS must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def register_cuda_op(name: str, loader: Callable[[], Callable]) -> None:
    """Make a CUDA implementation available; `loader` is called on first use only."""
    _cuda_loaders[name] = loader
    _cuda_ops.pop(name, None)


def cuda_op(name: str, is_cuda: bool) -> Callable | None:
    """The CUDA implementation of `name` to use for a tensor on a CUDA device, or None for ref."""
    mode = kernel_mode()
    if not is_cuda or mode == "ref":
        return None
    if name not in _cuda_ops:
        loader = _cuda_loaders.get(name)
        if loader is None:
            if mode == "cuda":
                raise RuntimeError(f"STYLEGAN_KERNELS=cuda but no CUDA implementation of {name} exists")
            _cuda_ops[name] = None
        else:
            try:
                _cuda_ops[name] = loader()
            except Exception as exc:  # a failed build must never stop the program in auto mode
                if mode == "cuda":
                    raise RuntimeError(f"building the CUDA {name} kernel failed: {exc}") from exc
                if name not in _warned:
                    _warned.add(name)
                    warnings.warn(f"CUDA {name} unavailable ({exc}); using the reference implementation")
                _cuda_ops[name] = None
    return _cuda_ops[name]


def reset() -> None:
    """Forget loaded/failed CUDA ops (tests use this to simulate a fresh process)."""
    _cuda_ops.clear()
    _warned.clear()
