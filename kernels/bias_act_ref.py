"""Reference bias + activation + gain + clamp, with NVIDIA's activation table and default gains.

    y = clamp(act(x + b) * gain, -clamp, clamp)

`b` is added along `dim` (channels by default). lrelu uses alpha 0.2 and gain sqrt(2) unless told
otherwise, which keeps the activations' variance when weights use the equalised learning rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Activation:
    func: Callable[[torch.Tensor, float], torch.Tensor]
    def_alpha: float
    def_gain: float


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation(lambda x, a: x, 0.0, 1.0),
    "relu": Activation(lambda x, a: F.relu(x), 0.0, math.sqrt(2)),
    "lrelu": Activation(lambda x, a: F.leaky_relu(x, a), 0.2, math.sqrt(2)),
    "tanh": Activation(lambda x, a: torch.tanh(x), 0.0, 1.0),
    "sigmoid": Activation(lambda x, a: torch.sigmoid(x), 0.0, 1.0),
    "elu": Activation(lambda x, a: F.elu(x), 0.0, 1.0),
    "selu": Activation(lambda x, a: F.selu(x), 0.0, 1.0),
    "softplus": Activation(lambda x, a: F.softplus(x), 0.0, 1.0),
    "swish": Activation(lambda x, a: torch.sigmoid(x) * x, 0.0, math.sqrt(2)),
}


_HOMOGENEOUS = ("linear", "relu", "lrelu")  # act(g x) == g act(x) for g > 0


def activation(act: str) -> Activation:
    try:
        return ACTIVATIONS[act]
    except KeyError:
        raise ValueError(f"unknown activation {act!r}; known: {', '.join(ACTIVATIONS)}") from None


def bias_act_ref(x: torch.Tensor, b: torch.Tensor | None = None, dim: int = 1, act: str = "linear",
                 alpha: float | None = None, gain: float | None = None,
                 clamp: float | None = None, inplace: bool = False) -> torch.Tensor:
    """`inplace=True` lets the op overwrite x (for callers that own x, e.g. a fresh conv output
    nothing else has saved for backward); it saves a full-size allocation and pass."""
    spec = activation(act)
    alpha = float(spec.def_alpha if alpha is None else alpha)
    gain = float(spec.def_gain if gain is None else gain)
    if b is not None:
        if b.ndim != 1 or b.shape[0] != x.shape[dim]:
            raise ValueError(f"bias of shape {list(b.shape)} does not match dim {dim} of {list(x.shape)}")
        b = b.reshape([-1 if i == dim else 1 for i in range(x.ndim)])
    if act in _HOMOGENEOUS and gain > 0 and alpha >= 0:
        # act(x + b) * g == act(g x + g b) for these: one pass for bias and gain, then the
        # activation in place on that fresh tensor (autograd-safe, double backward included).
        if inplace:
            if gain != 1:
                x = x.mul_(gain)
            if b is not None:
                x = x.add_(b * gain)
        elif b is not None:
            x = torch.add(b * gain, x, alpha=gain)
        elif gain != 1:
            x = x * gain
        elif act != "linear":
            x = x.clone()
        if act == "lrelu":
            x = F.leaky_relu_(x, alpha)
        elif act == "relu":
            x = F.relu_(x)
    else:
        if b is not None:
            x = x + b
        x = spec.func(x, alpha)
        if gain != 1:
            x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x
