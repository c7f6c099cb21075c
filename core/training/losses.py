"""The four losses of StyleGAN2's training (Karras et al. 2020, and NVIDIA's training/loss.py):

    G main   non-saturating logistic loss        softplus(-D(G(z)))
    D main   logistic loss                       softplus(D(G(z))) + softplus(-D(x))
    D reg    R1 (Mescheder et al. 2018)          |d D(x) / d x|², x the real images before augmentation
    G reg    path-length regularisation          (|J_w^T y| - a)², y ~ N(0, I) / sqrt(H W)

Each takes logits or images and returns a scalar (the mean over the batch) — the weights (gamma/2,
pl_weight) and the lazy intervals are the training step's (core/training/step.py). The penalties'
first derivative skips weight gradients (`no_weight_gradients`): only the input gradient is wanted
there, the weights' come when the penalty itself is backpropagated.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from core.devices import upload
from kernels import no_weight_gradients


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """[N, 1] logits of D on generated images -> mean softplus(-logits) (G wants D to say 'real')."""
    return F.softplus(-fake_logits).mean()


def d_logistic_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (mean softplus(fake), mean softplus(-real)): D's loss on generated and on real images."""
    return F.softplus(fake_logits).mean(), F.softplus(-real_logits).mean()


def r1_penalty(real_logits: torch.Tensor, reals: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of |d sum(D(x)) / d x|² (x: `reals`, [N, C, H, W], requires grad; the
    logits computed from it, augmentation included). Differentiable (create_graph) for D's update."""
    with no_weight_gradients():
        (grads,) = torch.autograd.grad(real_logits.sum(), reals, create_graph=True)
    return grads.square().sum([1, 2, 3]).mean()


def path_length_penalty(img: torch.Tensor, ws: torch.Tensor, pl_mean: float | torch.Tensor,
                        gen: torch.Generator, decay: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Path-length regularisation (StyleGAN2 sec. 3.2): the lengths |J_w^T y| of the image's
    Jacobian w.r.t. W+ applied to a random image-space direction y (N(0, 1) / sqrt(H W), drawn from
    `gen`), averaged over W+ layers, and the penalty mean((length - a)²) with a = pl_mean moved
    towards this batch's mean length by `decay`, the gradient flowing through that mean too (NVIDIA's
    loss: pl_mean.lerp(pl_lengths.mean(), pl_decay), used before it is stored). img [N, C, H, W]
    made from ws [N, num_ws, w_dim] (which requires grad), pl_mean a float or a 0-dim tensor on
    img's device -> (penalty, lengths [N]); the caller stores the new pl_mean from lengths."""
    noise = upload(torch.randn(img.shape, generator=gen), img.device) / math.sqrt(img.shape[2] * img.shape[3])
    with no_weight_gradients():  # only d img / d ws here; the weights' come from penalty.backward()
        (grads,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
    lengths = grads.square().sum(2).mean(1).sqrt()
    if isinstance(pl_mean, torch.Tensor):
        pl_mean = pl_mean.to(lengths.dtype)
    target = pl_mean + (lengths.mean() - pl_mean) * decay
    return (lengths - target).square().mean(), lengths
