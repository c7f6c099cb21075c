"""The memory layout of the StyleGAN2 blocks' activations: NCHW, or channels-last (NHWC).

The layout never changes a result's meaning, only where each element lies in memory and so which
convolution algorithms run (their float rounding may differ in the last bits).

- CPU: channels-last. oneDNN's convolutions, transposed and depthwise above all, are several
  times faster on it (the generator since #21, the discriminator since #18: `benchmarks/train.py`,
  3 runs each in one session, 6.77 -> 6.37 s/kimg with D main 3.27 -> 2.95; at 64² RGB batch 16,
  15.6 -> 14.0 s/kimg).
- CUDA, float32 layers: NCHW (cuDNN's float32 kernels work on it directly).
- CUDA, float16 layers: `STYLEGAN_FP16_LAYOUT` = `nchw` (default) | `nhwc`. cuDNN's float16
  convolutions on sm80+ are NHWC kernels: an NCHW tensor is transposed in and out of every
  convolution and its gradients (the H200 training profile: `nchwToNhwcKernel` + `nhwcToNchwKernel`
  were 11 of D main's 58 ms of GPU time per step). `nhwc` removes those transposes but sends the
  resampling through the channels-last kernels; which wins is measured by `benchmarks/gpu_check.sh`
  (training both ways) before it becomes the default. NVIDIA's networks have the same switch
  (`fp16_channels_last`, off in their configs).
"""

from __future__ import annotations

import os

import torch

from kernels.ops import is_channels_last

FP16_LAYOUTS = ("nchw", "nhwc")


def fp16_layout() -> str:
    """`STYLEGAN_FP16_LAYOUT` ("nchw" when unset); ValueError for any other value."""
    layout = os.environ.get("STYLEGAN_FP16_LAYOUT", "nchw").strip().lower() or "nchw"
    if layout not in FP16_LAYOUTS:
        raise ValueError(f"STYLEGAN_FP16_LAYOUT must be nchw or nhwc, not {layout!r}")
    return layout


def conv_weight(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A convolution weight [O, I, kh, kw] cast to x's dtype, and channels-last too when x is a
    channels-last CUDA tensor: cuDNN's NHWC kernels would otherwise transpose the weight on every call
    and copy its gradient back (NVIDIA's fp16_channels_last does the same). One kernel, like the cast
    alone. On the CPU the weight keeps its layout (oneDNN reorders weights itself; same bits)."""
    if x.is_cuda and x.dim() == 4 and is_channels_last(x):
        return w.to(dtype=x.dtype, memory_format=torch.channels_last)
    return w.to(x.dtype)


def activation_layout(device: torch.device, dtype: torch.dtype) -> torch.memory_format:
    """The memory format a block's activations of `dtype` on `device` should have (see above).
    ValueError (one line) for a bad `STYLEGAN_FP16_LAYOUT`, on every device."""
    fp16 = fp16_layout()
    if device.type == "cpu" or (device.type == "cuda" and dtype == torch.float16 and fp16 == "nhwc"):
        return torch.channels_last
    return torch.contiguous_format
