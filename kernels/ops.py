"""The ops with hand-written autograd, so they run through double backward (R1, PL) as cheaply as
forward: in eager mode as torch.autograd.Functions, under torch.compile as torch.library custom
operators (with fake functions for tracing) — the same arithmetic and the same backward formulas.

  upfirdn2d       backward = upfirdn2d with up/down swapped and the filter flipped
  bias_act        backward = bias_act_grad(dy, y) (and the bias gradient by summing)
  bias_act_grad   linear in dy: its backward is itself (lrelu's second derivative is 0)

Why two wrappers: a custom op's Python dispatch costs ~25-60 us a call on top of the arithmetic,
an autograd.Function's a third of that, and a GPU training step is launch-bound at low resolutions
(hundreds of these calls per step); but only the custom op can be traced by torch.compile.

Inside each op the arithmetic is a CUDA kernel (kernels/cuda/) or the reference, as
kernels/dispatch.py decides; on the CPU (STYLEGAN_KERNELS=op) it is always the reference, which is
how CI runs this file's autograd.

Saved tensors (the contract that keeps in-place updates by callers legal): upfirdn2d saves only the
filter; bias_act saves its output y only when the gradient needs it (an activation other than
linear, or a clamp), exactly as NVIDIA's bias_act does. So a caller may change a linear, unclamped
bias_act output in place (the residual sums `y.add_(x)` do); it must not change an activated or
clamped one — autograd's version check would refuse, on the reference path as well.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from .bias_act_ref import activation, bias_act_ref
from .dispatch import compiled_kernels, kernel_failed, kernel_mode
from .to_rgba_ref import to_rgba_ref
from .upfirdn2d_ref import filter_size, parse_padding, parse_scaling, upfirdn2d_ref

ACT_CODES = {"linear": 0, "relu": 1, "lrelu": 2}
_ACT_NAMES = {v: k for k, v in ACT_CODES.items()}
_KERNEL_DTYPES = (torch.float32, torch.float16)

# Kernel paths of the upfirdn2d binding (kernels/cuda/upfirdn2d.cuh, UpFirDn2DPath). UFD_4X4 moves
# NCHW tiles in 16-byte vectors where the tensors' alignment allows; UFD_4X4_SCALAR_IO (the same
# kernels, one element per memory instruction) is kept for the self-test and the benchmark.
UFD_GENERAL, UFD_4X4, UFD_4X4_SCALAR_IO = 0, 1, 2


def extension():
    """The compiled kernel module (built on first call; see kernels/build.py). Raises when it cannot
    be built, whatever the mode (the self-test and the benchmarks want the kernels themselves)."""
    from .build import load_extension
    from .dispatch import _extension
    if "module" not in _extension:
        _extension["module"] = load_extension()
    return _extension["module"]


def _kernels_for(x: Tensor):
    """The compiled module when x should be computed by a kernel, else None."""
    if not (x.is_cuda and x.dtype in _KERNEL_DTYPES):
        return None
    return compiled_kernels()


def _fresh(y: Tensor, x: Tensor) -> Tensor:
    """A custom op may not return a view of its input."""
    return y.clone() if y.untyped_storage().data_ptr() == x.untyped_storage().data_ptr() else y


# ------------------------------------------------------------------------------ upfirdn2d ---

def upfirdn2d_io() -> str:
    """`STYLEGAN_UPFIRDN2D_IO`: "vector" (default) — the 4x4 kernels move 16-byte vectors where a
    tensor's alignment allows — or "scalar": one element per memory instruction, as before the vector
    forms (a diagnostic switch: same results, bit for bit)."""
    io = os.environ.get("STYLEGAN_UPFIRDN2D_IO", "vector").strip().lower() or "vector"
    if io not in ("vector", "scalar"):
        raise ValueError(f"STYLEGAN_UPFIRDN2D_IO must be vector or scalar, not {io!r}")
    return io


def upfirdn2d_kernel_path(fw: int, fh: int, upx: int, upy: int, downx: int, downy: int) -> int | None:
    """Which kernel computes this upfirdn2d on a GPU, or None for the reference arithmetic.

    The specialised kernels (4x4 filter, up 1 or 2, down 1 or 2 — every resampling and FIR filter
    in StyleGAN2's G and D, forward and backward) run in auto mode: shared-memory tiles for large
    NCHW planes (16-byte vector loads/stores where the rows' alignment allows), one thread per
    channel vector for channels_last, one thread per output for small planes and few channels. The
    general one-thread-per-output kernel measured slower than the reference ops on an H200 (the GPU
    issue's figures), so only STYLEGAN_KERNELS=cuda runs it.
    """
    if (fw, fh) == (4, 4) and upx == upy and downx == downy and upx in (1, 2) and downx in (1, 2) \
            and not (upx == 2 and downx == 2):
        return UFD_4X4_SCALAR_IO if upfirdn2d_io() == "scalar" else UFD_4X4
    return UFD_GENERAL if kernel_mode() == "cuda" else None


def _direct(*tensors: Tensor) -> bool:
    """Whether a call can skip autograd altogether: when nothing needs it and no compiler is
    tracing — inference, the explorer's frames, a backward pass that builds no graph."""
    return not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors)) \
        and not torch.compiler.is_compiling()


def _with_autograd(impl, op, function, args: tuple, tracked: tuple):
    """Run an op with as much autograd as the call needs: the arithmetic alone when none of `tracked`
    needs a gradient (inference, a backward that builds no graph), the torch.library op while
    torch.compile traces, the autograd.Function otherwise."""
    if _direct(*tracked):
        return impl(*args)
    if torch.compiler.is_compiling():
        return op(*args)
    return function.apply(*args)


def _upfirdn2d_impl(x: Tensor, f: Tensor, upx: int, upy: int, downx: int, downy: int, padx0: int, padx1: int,
                    pady0: int, pady1: int, flip_filter: bool, gain: float) -> Tensor:
    fw, fh = filter_size(f)
    if x.shape[2] == 0 or x.shape[3] == 0:  # (as the reference: padding alone makes no image)
        raise ValueError(f"upfirdn2d: the input has no pixels (shape {list(x.shape)})")
    if x.shape[2] * upy + pady0 + pady1 < fh or x.shape[3] * upx + padx0 + padx1 < fw:
        raise ValueError(f"upfirdn2d: a {fh}x{fw} filter does not fit the {x.shape[2]}x{x.shape[3]} input "
                         "(after resampling and padding): the output would be empty")
    ext = _kernels_for(x)
    if ext is not None:
        f2 = f if f.ndim == 2 else torch.outer(f, f)  # separable -> 2-D (the gain is applied once)
        path = upfirdn2d_kernel_path(f2.shape[1], f2.shape[0], upx, upy, downx, downy)
        if path is not None:
            try:
                return ext.upfirdn2d(x, f2.float().to(x.device), upx, upy, downx, downy, padx0, padx1, pady0,
                                     pady1, flip_filter, gain, path)
            except RuntimeError as exc:
                raise kernel_failed("upfirdn2d", exc) from None
    y = upfirdn2d_ref(x, f, up=[upx, upy], down=[downx, downy], padding=[padx0, padx1, pady0, pady1],
                      flip_filter=flip_filter, gain=gain)
    return _fresh(y.contiguous(memory_format=torch.channels_last) if is_channels_last(x) else y.contiguous(), x)


upfirdn2d_op = torch.library.custom_op("stylegan::upfirdn2d", _upfirdn2d_impl, mutates_args=())


def is_channels_last(x: Tensor) -> bool:
    """Whether x [N, C, H, W] is laid out channels-last (and not also plain contiguous, as a tensor
    with one channel or 1x1 pixels can be): the layout the kernels and the reference keep."""
    return x.shape[1] > 1 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


@upfirdn2d_op.register_fake
def _(x, f, upx, upy, downx, downy, padx0, padx1, pady0, pady1, flip_filter, gain):
    fw, fh = filter_size(f)
    out_h = (x.shape[2] * upy + pady0 + pady1 - fh) // downy + 1
    out_w = (x.shape[3] * upx + padx0 + padx1 - fw) // downx + 1
    fmt = torch.channels_last if is_channels_last(x) else torch.contiguous_format  # as the kernel and the reference
    return x.new_empty([x.shape[0], x.shape[1], out_h, out_w]).contiguous(memory_format=fmt)


def _upfirdn2d_setup(ctx, inputs, output):
    x, f, *params = inputs
    ctx.save_for_backward(f)
    ctx.params = params
    ctx.in_hw = (x.shape[2], x.shape[3])
    ctx.out_hw = (output.shape[2], output.shape[3])


def _upfirdn2d_backward_with(op, ctx, dy):
    """dx = upfirdn2d(dy) with up/down swapped, the filter flipped and the padding that restores the
    input's size, computed by `op` (the custom op under a compiler, else _upfirdn2d_any)."""
    (f,) = ctx.saved_tensors
    upx, upy, downx, downy, padx0, padx1, pady0, pady1, flip_filter, gain = ctx.params
    (ih, iw), (oh, ow) = ctx.in_hw, ctx.out_hw
    fw, fh = filter_size(f)
    p = [fw - padx0 - 1, iw * upx - ow * downx + padx0 - upx + 1,
         fh - pady0 - 1, ih * upy - oh * downy + pady0 - upy + 1]
    dx = op(dy, f, downx, downy, upx, upy, p[0], p[1], p[2], p[3], not flip_filter, gain)
    return dx, None, None, None, None, None, None, None, None, None, None, None


upfirdn2d_op.register_autograd(lambda ctx, dy: _upfirdn2d_backward_with(upfirdn2d_op, ctx, dy),
                               setup_context=_upfirdn2d_setup)


class Upfirdn2d(torch.autograd.Function):
    """The eager-mode upfirdn2d with autograd (see the module docstring)."""

    @staticmethod
    def forward(ctx, x, f, *params):
        y = _upfirdn2d_impl(x, f, *params)
        _upfirdn2d_setup(ctx, (x, f, *params), y)
        return y

    @staticmethod
    def backward(ctx, dy):
        return _upfirdn2d_backward_with(_upfirdn2d_any, ctx, dy)


def _upfirdn2d_any(x: Tensor, f: Tensor, *params) -> Tensor:
    return _with_autograd(_upfirdn2d_impl, upfirdn2d_op, Upfirdn2d, (x, f, *params), (x,))


def upfirdn2d(x: Tensor, f: Tensor | None, up=1, down=1, padding=0, flip_filter: bool = False, gain: float = 1) -> Tensor:
    """The same call as kernels.upfirdn2d, through the custom op."""
    if x.ndim != 4:
        raise ValueError(f"upfirdn2d expects NCHW input, got shape {list(x.shape)}")
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    upx, upy = parse_scaling(up)
    downx, downy = parse_scaling(down)
    px0, px1, py0, py1 = parse_padding(padding)
    return _upfirdn2d_any(x, f.to(x.device), upx, upy, downx, downy, px0, px1, py0, py1, bool(flip_filter),
                          float(gain))


# ------------------------------------------------------------------------------- bias_act ---

def _grad_ref(dy: Tensor, y: Tensor, act: int, alpha: float, gain: float, clamp: float) -> Tensor:
    """The kernel's bias_act_grad_element in torch ops (y: the forward output, gain > 0)."""
    g = dy * gain
    if act == ACT_CODES["relu"]:
        g = torch.where(y > 0, g, torch.zeros_like(g))
    elif act == ACT_CODES["lrelu"]:
        g = torch.where(y > 0, g, g * alpha)
    if clamp >= 0:
        g = torch.where((y < clamp) & (y > -clamp), g, torch.zeros_like(g))
    return g


def _needs_output(act: int, clamp: float) -> bool:
    """Whether bias_act's gradient reads the forward output (NVIDIA's 'y' in the activation's ref)."""
    return act != ACT_CODES["linear"] or clamp >= 0


def _bias_act_impl(x: Tensor, b: Tensor, dim: int, act: int, alpha: float, gain: float, clamp: float) -> Tensor:
    ext = _kernels_for(x)
    if ext is not None:
        try:
            return ext.bias_act(x, b, dim, act, alpha, gain, clamp)
        except RuntimeError as exc:
            raise kernel_failed("bias_act", exc) from None
    y = bias_act_ref(x, b if b.numel() else None, dim=dim, act=_ACT_NAMES[act], alpha=alpha, gain=gain,
                     clamp=clamp if clamp >= 0 else None)
    return _fresh(y, x)


bias_act_op = torch.library.custom_op("stylegan::bias_act", _bias_act_impl, mutates_args=())


@bias_act_op.register_fake
def _(x, b, dim, act, alpha, gain, clamp):
    return torch.empty_like(x)


def _bias_act_grad_impl(dy: Tensor, y: Tensor, dim: int, act: int, alpha: float, gain: float, clamp: float) -> Tensor:
    ext = _kernels_for(y) if dy.dtype == y.dtype else None
    if ext is not None:
        try:
            return ext.bias_act_grad(dy, y, dim, act, alpha, gain, clamp)
        except RuntimeError as exc:
            raise kernel_failed("bias_act_grad", exc) from None
    return _fresh(_grad_ref(dy, y, act, alpha, gain, clamp), dy)


bias_act_grad_op = torch.library.custom_op("stylegan::bias_act_grad", _bias_act_grad_impl, mutates_args=())


@bias_act_grad_op.register_fake
def _(dy, y, dim, act, alpha, gain, clamp):
    return torch.empty_like(y)


def _bias_act_setup(ctx, inputs, output):
    x, b, dim, act, alpha, gain, clamp = inputs
    ctx.needs_y = _needs_output(act, clamp)
    ctx.save_for_backward(output if ctx.needs_y else None)
    ctx.params = (dim, act, alpha, gain, clamp)
    ctx.has_bias = b.numel() > 0
    ctx.ndim = x.ndim


def _bias_act_backward_with(grad_op, ctx, dy):
    """(dx, db) from dy; `grad_op` computes bias_act_grad (the custom op under a compiler, else
    _bias_act_grad_any)."""
    (y,) = ctx.saved_tensors
    dim, act, alpha, gain, clamp = ctx.params
    # y enters only through masks (where the activation bends, where the clamp cuts): its own
    # gradient is zero, so it is detached — otherwise double backward would send zeros back
    # through the whole forward graph.
    dx = grad_op(dy, y.detach(), *ctx.params) if ctx.needs_y else dy * gain
    db = dx.sum([i for i in range(ctx.ndim) if i != dim]) if ctx.has_bias else None
    return dx, db, None, None, None, None, None


bias_act_op.register_autograd(lambda ctx, dy: _bias_act_backward_with(bias_act_grad_op, ctx, dy),
                              setup_context=_bias_act_setup)


def _bias_act_grad_setup(ctx, inputs, output):
    dy, y, *params = inputs
    ctx.save_for_backward(y)
    ctx.params = params


def _bias_act_grad_backward(ctx, ddx):
    (y,) = ctx.saved_tensors
    return bias_act_grad_op(ddx, y, *ctx.params), None, None, None, None, None, None


bias_act_grad_op.register_autograd(_bias_act_grad_backward, setup_context=_bias_act_grad_setup)


class BiasAct(torch.autograd.Function):
    """The eager-mode bias_act with autograd (see the module docstring)."""

    @staticmethod
    def forward(ctx, x, b, *params):
        y = _bias_act_impl(x, b, *params)
        _bias_act_setup(ctx, (x, b, *params), y)
        return y

    @staticmethod
    def backward(ctx, dy):
        return _bias_act_backward_with(_bias_act_grad_any, ctx, dy)


class BiasActGrad(torch.autograd.Function):
    """The eager-mode bias_act_grad: linear in dy, its own backward."""

    @staticmethod
    def forward(ctx, dy, y, *params):
        _bias_act_grad_setup(ctx, (dy, y, *params), None)
        return _bias_act_grad_impl(dy, y, *params)

    @staticmethod
    def backward(ctx, ddx):
        (y,) = ctx.saved_tensors
        return _bias_act_grad_any(ddx, y, *ctx.params), None, None, None, None, None, None


def _bias_act_any(x: Tensor, b: Tensor, *params) -> Tensor:
    return _with_autograd(_bias_act_impl, bias_act_op, BiasAct, (x, b, *params), (x, b))


def _bias_act_grad_any(dy: Tensor, y: Tensor, *params) -> Tensor:
    return _with_autograd(_bias_act_grad_impl, bias_act_grad_op, BiasActGrad, (dy, y, *params), (dy,))


def bias_act(x: Tensor, b: Tensor | None = None, dim: int = 1, act: str = "linear", alpha: float | None = None,
             gain: float | None = None, clamp: float | None = None, inplace: bool = False) -> Tensor:
    """The same call as kernels.bias_act, through the custom op (activations the kernel lacks, and
    non-positive gains, go to the reference). `inplace` is ignored: the op always writes a new tensor."""
    spec = activation(act)
    alpha = float(spec.def_alpha if alpha is None else alpha)
    gain = float(spec.def_gain if gain is None else gain)
    if act not in ACT_CODES or gain <= 0:
        return bias_act_ref(x, b, dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp, inplace=inplace)
    if b is not None and (b.ndim != 1 or b.shape[0] != x.shape[dim]):
        raise ValueError(f"bias of shape {list(b.shape)} does not match dim {dim} of {list(x.shape)}")
    bias = b if b is not None else x.new_empty([0])
    return _bias_act_any(x, bias, dim % x.ndim, ACT_CODES[act], alpha, gain, float(-1 if clamp is None else clamp))


# -------------------------------------------------------------------------------- to_rgba ---

def to_rgba(img: Tensor, zoom: int = 1) -> Tensor:
    """Sample 0 of an NCHW image in [-1, 1] -> [H*zoom, W*zoom, 4] uint8, by the kernel on GPUs."""
    ext = _kernels_for(img)
    if ext is not None:
        try:
            return ext.to_rgba(img, zoom)
        except RuntimeError as exc:
            raise kernel_failed("to_rgba", exc) from None
    return to_rgba_ref(img, zoom)
