"""The CUDA ops as torch custom operators (torch.library), with autograd and fake (meta) functions,
so they work in eager mode, under torch.compile, and through double backward (R1).

Each op runs the compiled kernel for float32/float16 CUDA tensors and the pure-PyTorch reference
otherwise (CPU, float64) — the reference path is what the CPU tests differentiate and compile.

  stylegan::upfirdn2d       backward = upfirdn2d with up/down swapped and the filter flipped
  stylegan::bias_act        backward = bias_act_grad(dy, y) (and the bias gradient by summing)
  stylegan::bias_act_grad   linear in dy: its backward is itself (lrelu's second derivative is 0)
"""

from __future__ import annotations

import torch
from torch import Tensor

from .bias_act_ref import activation, bias_act_ref
from .upfirdn2d_ref import filter_size, parse_padding, parse_scaling, upfirdn2d_ref

ACT_CODES = {"linear": 0, "relu": 1, "lrelu": 2}
_ACT_NAMES = {v: k for k, v in ACT_CODES.items()}
_KERNEL_DTYPES = (torch.float32, torch.float16)
_extension = None


def extension():
    """The compiled kernel module (built on first call; see kernels/build.py)."""
    global _extension
    if _extension is None:
        from .build import load_extension
        _extension = load_extension()
    return _extension


def _on_kernel(x: Tensor) -> bool:
    return x.is_cuda and x.dtype in _KERNEL_DTYPES


# ------------------------------------------------------------------------------ upfirdn2d ---

@torch.library.custom_op("stylegan::upfirdn2d", mutates_args=())
def upfirdn2d_op(x: Tensor, f: Tensor, upx: int, upy: int, downx: int, downy: int, padx0: int, padx1: int,
                 pady0: int, pady1: int, flip_filter: bool, gain: float) -> Tensor:
    if _on_kernel(x):
        f2 = f if f.ndim == 2 else torch.outer(f, f)  # separable -> 2-D (the gain is applied once)
        return extension().upfirdn2d(x, f2.float().to(x.device), upx, upy, downx, downy, padx0, padx1, pady0,
                                     pady1, flip_filter, gain)
    return upfirdn2d_ref(x, f, up=[upx, upy], down=[downx, downy], padding=[padx0, padx1, pady0, pady1],
                         flip_filter=flip_filter, gain=gain).contiguous()


@upfirdn2d_op.register_fake
def _(x, f, upx, upy, downx, downy, padx0, padx1, pady0, pady1, flip_filter, gain):
    fw, fh = filter_size(f)
    out_h = (x.shape[2] * upy + pady0 + pady1 - fh) // downy + 1
    out_w = (x.shape[3] * upx + padx0 + padx1 - fw) // downx + 1
    return x.new_empty([x.shape[0], x.shape[1], out_h, out_w])


def _upfirdn2d_setup(ctx, inputs, output):
    x, f, *params = inputs
    ctx.save_for_backward(f)
    ctx.params = params
    ctx.in_hw = (x.shape[2], x.shape[3])
    ctx.out_hw = (output.shape[2], output.shape[3])


def _upfirdn2d_backward(ctx, dy):
    (f,) = ctx.saved_tensors
    upx, upy, downx, downy, padx0, padx1, pady0, pady1, flip_filter, gain = ctx.params
    (ih, iw), (oh, ow) = ctx.in_hw, ctx.out_hw
    fw, fh = filter_size(f)
    p = [fw - padx0 - 1, iw * upx - ow * downx + padx0 - upx + 1,
         fh - pady0 - 1, ih * upy - oh * downy + pady0 - upy + 1]
    dx = upfirdn2d_op(dy, f, downx, downy, upx, upy, p[0], p[1], p[2], p[3], not flip_filter, gain)
    return dx, None, None, None, None, None, None, None, None, None, None, None


upfirdn2d_op.register_autograd(_upfirdn2d_backward, setup_context=_upfirdn2d_setup)


def upfirdn2d(x: Tensor, f: Tensor | None, up=1, down=1, padding=0, flip_filter: bool = False, gain: float = 1) -> Tensor:
    """The same call as kernels.upfirdn2d, through the custom op."""
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    upx, upy = parse_scaling(up)
    downx, downy = parse_scaling(down)
    px0, px1, py0, py1 = parse_padding(padding)
    return upfirdn2d_op(x, f.to(x.device), upx, upy, downx, downy, px0, px1, py0, py1, bool(flip_filter), float(gain))


# ------------------------------------------------------------------------------- bias_act ---

def _grad_ref(dy: Tensor, y: Tensor, act: int, alpha: float, gain: float, clamp: float) -> Tensor:
    g = dy * gain
    if act == ACT_CODES["relu"]:
        g = torch.where(y > 0, g, torch.zeros_like(g))
    elif act == ACT_CODES["lrelu"]:
        g = torch.where(y > 0, g, g * alpha)
    if clamp >= 0:
        g = torch.where((y < clamp) & (y > -clamp), g, torch.zeros_like(g))
    return g


@torch.library.custom_op("stylegan::bias_act", mutates_args=())
def bias_act_op(x: Tensor, b: Tensor, dim: int, act: int, alpha: float, gain: float, clamp: float) -> Tensor:
    if _on_kernel(x):
        return extension().bias_act(x, b, dim, act, alpha, gain, clamp)
    return bias_act_ref(x, b if b.numel() else None, dim=dim, act=_ACT_NAMES[act], alpha=alpha, gain=gain,
                        clamp=clamp if clamp >= 0 else None).clone()


@bias_act_op.register_fake
def _(x, b, dim, act, alpha, gain, clamp):
    return torch.empty_like(x)


@torch.library.custom_op("stylegan::bias_act_grad", mutates_args=())
def bias_act_grad_op(dy: Tensor, y: Tensor, dim: int, act: int, alpha: float, gain: float, clamp: float) -> Tensor:
    if _on_kernel(y) and dy.dtype == y.dtype:
        return extension().bias_act_grad(dy, y, dim, act, alpha, gain, clamp)
    return _grad_ref(dy, y, act, alpha, gain, clamp)


@bias_act_grad_op.register_fake
def _(dy, y, dim, act, alpha, gain, clamp):
    return torch.empty_like(y)


def _bias_act_setup(ctx, inputs, output):
    x, b, dim, act, alpha, gain, clamp = inputs
    ctx.save_for_backward(output)
    ctx.params = (dim, act, alpha, gain, clamp)
    ctx.has_bias = b.numel() > 0
    ctx.ndim = x.ndim


def _bias_act_backward(ctx, dy):
    (y,) = ctx.saved_tensors
    dim = ctx.params[0]
    dx = bias_act_grad_op(dy, y, *ctx.params)
    db = dx.sum([i for i in range(ctx.ndim) if i != dim]) if ctx.has_bias else None
    return dx, db, None, None, None, None, None


bias_act_op.register_autograd(_bias_act_backward, setup_context=_bias_act_setup)


def _bias_act_grad_setup(ctx, inputs, output):
    dy, y, *params = inputs
    ctx.save_for_backward(y)
    ctx.params = params


def _bias_act_grad_backward(ctx, ddx):
    (y,) = ctx.saved_tensors
    return bias_act_grad_op(ddx, y, *ctx.params), None, None, None, None, None, None


bias_act_grad_op.register_autograd(_bias_act_grad_backward, setup_context=_bias_act_grad_setup)


def bias_act(x: Tensor, b: Tensor | None = None, dim: int = 1, act: str = "linear", alpha: float | None = None,
             gain: float | None = None, clamp: float | None = None, inplace: bool = False) -> Tensor:
    """The same call as kernels.bias_act, through the custom op (activations the kernel lacks, and
    non-positive gains, go to the reference)."""
    spec = activation(act)
    alpha = float(spec.def_alpha if alpha is None else alpha)
    gain = float(spec.def_gain if gain is None else gain)
    if act not in ACT_CODES or gain <= 0:
        return bias_act_ref(x, b, dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp, inplace=inplace)
    bias = b if b is not None else x.new_empty([0])
    return bias_act_op(x, bias, dim % x.ndim, ACT_CODES[act], alpha, gain, float(-1 if clamp is None else clamp))


# -------------------------------------------------------------------------------- to_rgba ---

def to_rgba(img: Tensor, zoom: int = 1) -> Tensor:
    """Sample 0 of an NCHW image in [-1, 1] -> [H*zoom, W*zoom, 4] uint8, by the kernel on GPUs."""
    if _on_kernel(img):
        return extension().to_rgba(img, zoom)
    from .to_rgba import to_rgba_ref
    return to_rgba_ref(img, zoom)
