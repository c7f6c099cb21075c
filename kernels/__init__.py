"""Low-level ops of the StyleGAN networks: FIR resampling (upfirdn2d), bias + activation, and
convolutions whose derivatives stay convolutions (for R1 and path length).

Each op has a pure-PyTorch reference (the spec, used on CPU) and a dispatch function that will use a
compiled CUDA kernel for CUDA tensors when one is available (never built at import time).
"""

from .bias_act import ACTIVATIONS, activation, bias_act
from .conv2d_gradfix import conv2d, conv_transpose2d, no_weight_gradients
from .dispatch import kernel_mode
from .filtered_lrelu import filtered_lrelu
from .to_rgba import to_rgba
from .upfirdn2d import downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d

__all__ = ["upfirdn2d", "upsample2d", "downsample2d", "filter2d", "setup_filter",
           "bias_act", "activation", "ACTIVATIONS", "kernel_mode", "to_rgba",
           "conv2d", "conv_transpose2d", "no_weight_gradients", "filtered_lrelu"]
