"""Bilinear grid_sample whose second derivative w.r.t. the image exists on every device.

Why: ADA's geometric augmentations resample images with `grid_sample`, and R1 differentiates the
discriminator's output twice w.r.t. the real images *before* augmentation (NVIDIA's loss), so the
double backward runs through grid_sample's backward. PyTorch implements that on the CPU but not on
CUDA (`RuntimeError: derivative for aten::grid_sampler_2d_backward is not implemented`, seen on an
H200 at the first R1 step with p > 0). Sampling is linear in the image, so the second derivative
needs no new op: the derivative of the image gradient w.r.t. the output gradient is grid_sample
itself. This is NVIDIA's `grid_sample_gradfix` (stylegan2-ada-pytorch, Karras et al. 2020).

Supported: 4-D input [N, C, H, W], grid [N, Ho, Wo, 2], mode "bilinear", align_corners=False, any
padding mode; the grid may not require a second derivative (ADA's never requires grad).
Forward results are torch's, bit for bit.
"""

from __future__ import annotations

import torch

_PADDING = {"zeros": 0, "border": 1, "reflection": 2}
_BILINEAR = 0


def grid_sample(input: torch.Tensor, grid: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """F.grid_sample(input, grid, mode="bilinear", padding_mode, align_corners=False), twice
    differentiable w.r.t. `input` on CPU and CUDA. input [N, C, H, W], grid [N, Ho, Wo, 2] (x, y in
    [-1, 1]) -> [N, C, Ho, Wo]. ValueError for an unknown padding mode."""
    if padding_mode not in _PADDING:
        raise ValueError(f"grid_sample: padding_mode must be one of {sorted(_PADDING)}, not {padding_mode!r}")
    return _GridSample2dForward.apply(input, grid, _PADDING[padding_mode])


class _GridSample2dForward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, grid, padding):
        assert input.ndim == 4 and grid.ndim == 4
        ctx.padding = padding
        ctx.save_for_backward(input, grid)
        return torch.ops.aten.grid_sampler_2d(input, grid, _BILINEAR, padding, False)

    @staticmethod
    def backward(ctx, grad_output):
        input, grid = ctx.saved_tensors
        grad_input, grad_grid = _GridSample2dBackward.apply(grad_output, input, grid, ctx.padding)
        return grad_input, grad_grid, None


class _GridSample2dBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grad_output, input, grid, padding):
        ctx.padding = padding
        ctx.save_for_backward(grid)
        want_input, want_grid = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        # grid_sampler_2d_backward's output_mask: (input, grid) gradients actually wanted.
        grad_input, grad_grid = torch.ops.aten.grid_sampler_2d_backward(
            grad_output, input, grid, _BILINEAR, padding, False, [want_input, want_grid])
        return grad_input, grad_grid

    @staticmethod
    def backward(ctx, grad2_grad_input, grad2_grad_grid):
        (grid,) = ctx.saved_tensors
        if ctx.needs_input_grad[2]:
            raise RuntimeError("grid_sample_gradfix: no second derivative w.r.t. the grid")
        grad2_grad_output = None
        if ctx.needs_input_grad[0] and grad2_grad_input is not None:
            # d(grad_input)/d(grad_output) is the adjoint of the adjoint: sampling again.
            grad2_grad_output = _GridSample2dForward.apply(grad2_grad_input, grid, ctx.padding)
        # grad_input does not depend on the image (sampling is linear): nothing for `input`.
        return grad2_grad_output, None, None, None
