"""conv2d and conv_transpose2d whose derivatives of every order are again convolutions.

Why: R1 and the path-length penalty differentiate the networks twice. PyTorch's own second
derivative of a convolution (`_convolution_double_backward`) writes the weight gradient as a
convolution with the batch and channel axes swapped, the gradient map as the kernel and the stride
as a dilation — shapes for which cuDNN has no fast algorithm, so a strided or transposed 3x3 conv's
double backward can fall back to slow paths on GPUs. This module keeps every derivative on cuDNN's
three native operations (forward, backward-data, backward-weight), the approach of NVIDIA's
`conv2d_gradfix` in stylegan2-ada-pytorch (Karras et al. 2020):

    y        = conv(x, w)
    dL/dx    = conv_transpose(dy, w)          (another op of this module)
    dL/dw    = weight_grad(dy, x)             (aten.convolution_backward, weight only)
    and weight_grad's own derivatives: conv(x, ggw) for dy, conv_transpose(dy, ggw) for x.

`no_weight_gradients()` skips weight gradients during the regularisers' first pass (the gradient
of the image w.r.t. W+ or of D's output w.r.t. its input), where only input gradients are wanted.

Used for CUDA tensors by default and for every tensor with STYLEGAN_KERNELS=op (kernels/dispatch.py);
otherwise these are torch.nn.functional's own. Forward results are torch's, bit for bit.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .dispatch import use_custom_ops

_weight_gradients_disabled = False


@contextlib.contextmanager
def no_weight_gradients(disable: bool = True):
    """Inside: backward passes through this module's convolutions compute input gradients only."""
    global _weight_gradients_disabled
    old = _weight_gradients_disabled
    _weight_gradients_disabled = disable or old
    try:
        yield
    finally:
        _weight_gradients_disabled = old


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


@dataclass(frozen=True)
class _Spec:
    """One convolution's configuration (the weight's shape included)."""
    transpose: bool
    weight_shape: tuple
    stride: tuple
    padding: tuple
    output_padding: tuple
    groups: int

    def run(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.transpose:
            return F.conv_transpose2d(x, w, stride=self.stride, padding=self.padding,
                                      output_padding=self.output_padding, groups=self.groups)
        return F.conv2d(x, w, stride=self.stride, padding=self.padding, groups=self.groups)

    def input_grad(self, x_shape, y_shape) -> "_Spec":
        """The op that maps dy to dx: the transposed convolution of this one (output padding chosen
        so that dx has x's size)."""
        if self.transpose:
            return _Spec(False, self.weight_shape, self.stride, self.padding, (0, 0), self.groups)
        kh, kw = self.weight_shape[2:]
        op = tuple(int(x_shape[i + 2]) - ((int(y_shape[i + 2]) - 1) * self.stride[i] - 2 * self.padding[i] + k)
                   for i, k in enumerate((kh, kw)))
        return _Spec(True, self.weight_shape, self.stride, self.padding, op, self.groups)


class _Conv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, spec: _Spec):
        ctx.spec = spec
        ctx.x_shape = tuple(x.shape)
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, w if ctx.needs_input_grad[0] else None)
        y = spec.run(x, w)
        ctx.y_shape = tuple(y.shape)
        return y

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        spec = ctx.spec
        dx = dw = None
        if ctx.needs_input_grad[0]:
            dx = _Conv.apply(dy, w, spec.input_grad(ctx.x_shape, ctx.y_shape))
        if ctx.needs_input_grad[1] and not _weight_gradients_disabled:
            dw = _ConvWeightGrad.apply(dy, x, spec)
        return dx, dw, None


class _ConvWeightGrad(torch.autograd.Function):
    """dL/dw of conv(x, w) from dy and x — linear in each, so its derivatives are convolutions."""

    @staticmethod
    def forward(ctx, dy, x, spec: _Spec):
        ctx.spec = spec
        ctx.shapes = (tuple(x.shape), tuple(dy.shape))
        ctx.save_for_backward(dy if ctx.needs_input_grad[1] else None, x if ctx.needs_input_grad[0] else None)
        w = x.new_empty(spec.weight_shape)  # only its shape and format are read
        return torch.ops.aten.convolution_backward(dy, x, w, None, list(spec.stride), list(spec.padding), [1, 1],
                                                   spec.transpose, list(spec.output_padding), spec.groups,
                                                   [False, True, False])[1]

    @staticmethod
    def backward(ctx, ddw):
        dy, x = ctx.saved_tensors
        spec = ctx.spec
        x_shape, y_shape = ctx.shapes
        d_dy = _Conv.apply(x, ddw, spec) if ctx.needs_input_grad[0] else None
        d_x = _Conv.apply(dy, ddw, spec.input_grad(x_shape, y_shape)) if ctx.needs_input_grad[1] else None
        return d_dy, d_x, None


def conv2d(x: torch.Tensor, w: torch.Tensor, stride=1, padding=0, groups: int = 1) -> torch.Tensor:
    """torch.nn.functional.conv2d (no bias, no dilation) with convolution-only derivatives.
    x [N, C, H, W], w [O, C / groups, kh, kw]."""
    if not (use_custom_ops(x.is_cuda) and torch.is_grad_enabled() and (x.requires_grad or w.requires_grad)):
        return F.conv2d(x, w, stride=stride, padding=padding, groups=groups)
    spec = _Spec(False, tuple(w.shape), _pair(stride), _pair(padding), (0, 0), int(groups))
    return _Conv.apply(x, w, spec)


def conv_transpose2d(x: torch.Tensor, w: torch.Tensor, stride=1, padding=0, output_padding=0,
                     groups: int = 1) -> torch.Tensor:
    """torch.nn.functional.conv_transpose2d (no bias, no dilation) with convolution-only
    derivatives. x [N, C, H, W], w [C, O / groups, kh, kw]."""
    if not (use_custom_ops(x.is_cuda) and torch.is_grad_enabled() and (x.requires_grad or w.requires_grad)):
        return F.conv_transpose2d(x, w, stride=stride, padding=padding, output_padding=output_padding, groups=groups)
    spec = _Spec(True, tuple(w.shape), _pair(stride), _pair(padding), _pair(output_padding), int(groups))
    return _Conv.apply(x, w, spec)
