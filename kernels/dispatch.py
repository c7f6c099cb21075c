"""Choosing between the pure-PyTorch reference ops, the custom ops and the compiled CUDA kernels.

Every op in this package has a reference implementation (the spec) and a custom op (kernels/ops.py:
an autograd.Function, a torch.library op under torch.compile) whose autograd is written by hand: the backward of a resampling is another
resampling, the backward of bias_act is one elementwise op — so double backward (R1, path length)
stays as cheap as a forward pass. Inside a custom op the arithmetic is either a compiled CUDA
kernel or the reference. `STYLEGAN_KERNELS` chooses:

    ref   the plain reference functions everywhere (no custom op, no compiled code)
    op    the custom ops on every device, with the reference arithmetic inside: the wrapper and its
          autograd without any compiled code — what CI runs on the CPU, and a way to tell a kernel
          bug from a wrapper bug on a GPU
    cuda  the custom ops with CUDA kernels for every CUDA float32/float16 tensor (a failed build is an
          error, not a warning)
    auto  (default) CUDA tensors: the custom ops, with a kernel where it is faster than the reference
          (see ops.upfirdn2d_kernel_path) and the reference inside otherwise; a failed build warns
          once and leaves the reference inside. CPU tensors: the plain reference.

Kernels are built lazily by `compiled_kernels()` on first use, never at import time, so a CPU-only
machine never touches a compiler.
"""

from __future__ import annotations

import os
import warnings

MODES = ("ref", "op", "cuda", "auto")
ESCAPE = "set STYLEGAN_KERNELS=ref to run without the custom kernels"

_extension: dict = {}   # "module" -> the loaded extension, or "error" -> why it did not build
_warned: set[str] = set()


class KernelError(RuntimeError):
    """A CUDA kernel failed to build (STYLEGAN_KERNELS=cuda) or to run. The message is one line that
    names the op and the STYLEGAN_KERNELS=ref escape."""


def kernel_mode() -> str:
    mode = os.environ.get("STYLEGAN_KERNELS", "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(f"STYLEGAN_KERNELS must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def use_custom_ops(is_cuda: bool) -> bool:
    """Whether a tensor on this device goes through the custom ops (True) or the plain reference."""
    mode = kernel_mode()
    return mode == "op" or (is_cuda and mode in ("cuda", "auto"))


def compiled_kernels():
    """The compiled kernel module to use for CUDA tensors now, or None for the reference arithmetic.

    mode ref/op: None. mode cuda: the module, or KernelError when it cannot be built. mode auto:
    the module, or None after one warning when it cannot be built (the reason is kept).
    """
    mode = kernel_mode()
    if mode in ("ref", "op"):
        return None
    if "module" not in _extension and "error" not in _extension:
        try:
            from .build import load_extension
            _extension["module"] = load_extension()
        except Exception as exc:  # a failed build must never stop the program in auto mode
            _extension["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    if "module" in _extension:
        return _extension["module"]
    if mode == "cuda":
        raise KernelError(f"building the CUDA kernels failed ({_extension['error']}); {ESCAPE}")
    if "build" not in _warned:
        _warned.add("build")
        warnings.warn(f"CUDA kernels unavailable ({_extension['error']}); using the reference implementation")
    return None


def kernel_failed(op: str, exc: BaseException) -> KernelError:
    """The one-line error for a kernel that failed at run time."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return KernelError(f"CUDA kernel {op} failed: {first[:300]}; {ESCAPE}")


def reset() -> None:
    """Forget the loaded or failed build (tests use this to simulate a fresh process)."""
    _extension.clear()
    _warned.clear()
