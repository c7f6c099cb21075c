"""Adaptive discriminator augmentation (Karras et al. 2020, "Training GANs with limited data").

The discriminator sees every image — real and generated — through the same random augmentations,
each applied to a sample with probability p. Because they are applied to both and are
differentiable, the generator still learns the clean distribution ("non-leaking"), while the
discriminator cannot memorise a small dataset. p is tuned during training (see AdaController).

The standard 'bgc' pipeline: x-flip, 90° rotations, integer translation (blit), isotropic scaling,
rotation, anisotropic scaling, fractional translation (geometric), brightness, contrast, luma flip,
hue rotation, saturation (colour). Geometric transforms are combined into one affine matrix per
sample and applied with one bilinear resampling (reflection padding); colour into one 4x4 matrix.
The matrices are tiny: they are built on the CPU and uploaded without waiting for the GPU, so an
augmented batch costs the GPU two resamplings, not a hundred small kernels and a synchronisation each.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from core.devices import upload
from kernels.grid_sample_gradfix import grid_sample

PIPELINES = {
    "bgc": dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
                brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1),
    "bg": dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1),
    "b": dict(xflip=1, rotate90=1, xint=1),
    "c": dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1),
}

LUMA = torch.tensor([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3)  # the luma axis in RGB


def _translate2(tx, ty):
    m = torch.eye(3, device=tx.device).repeat(len(tx), 1, 1)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def _scale2(sx, sy):
    m = torch.eye(3, device=sx.device).repeat(len(sx), 1, 1)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def _rotate2(theta):
    m = torch.eye(3, device=theta.device).repeat(len(theta), 1, 1)
    c, s = torch.cos(theta), torch.sin(theta)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
    return m


def _translate3(t):
    m = torch.eye(4, device=t.device).repeat(len(t), 1, 1)
    m[:, :3, 3] = t
    return m


def _scale3(s):
    m = torch.eye(4, device=s.device).repeat(len(s), 1, 1)
    m[:, :3, :3] *= s[:, :, None]
    return m


def _rotate3(axis, theta):
    """Rotation by theta around a unit axis (Rodrigues), as a 4x4 matrix."""
    ax = axis[:3]  # (CPU tensors: the pipe builds its matrices on the CPU)
    k = torch.tensor([[0, -ax[2], ax[1]], [ax[2], 0, -ax[0]], [-ax[1], ax[0], 0]])
    c, s = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    r = torch.eye(3, device=theta.device) + s * k + (1 - c) * (k @ k)
    m = torch.eye(4, device=theta.device).repeat(len(theta), 1, 1)
    m[:, :3, :3] = r
    return m


class AugmentPipe:
    def __init__(self, pipeline: str = "bgc", xint_max: float = 0.125, scale_std: float = 0.2,
                 rotate_max: float = 1.0, aniso_std: float = 0.2, xfrac_std: float = 0.125,
                 brightness_std: float = 0.2, contrast_std: float = 0.5, hue_max: float = 1.0,
                 saturation_std: float = 1.0):
        if pipeline not in PIPELINES:
            raise ValueError(f"augmentation pipeline must be one of {', '.join(PIPELINES)}")
        self.pipeline = pipeline
        self.enabled = PIPELINES[pipeline]
        self.xint_max, self.scale_std, self.rotate_max = xint_max, scale_std, rotate_max
        self.aniso_std, self.xfrac_std = aniso_std, xfrac_std
        self.brightness_std, self.contrast_std = brightness_std, contrast_std
        self.hue_max, self.saturation_std = hue_max, saturation_std

    def __call__(self, images: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """images [N, C, H, W] (any device) -> augmented images. The per-sample matrices are drawn and
        combined on the CPU (from `generator`, so the same on every device) and uploaded once,
        without waiting for the GPU: only the two resamplings run where the images are."""
        if p <= 0:
            return images
        n, c, h, w = images.shape
        en = self.enabled

        def rand(*shape):
            return torch.rand(*shape, generator=generator)

        def randn(*shape):
            return torch.randn(*shape, generator=generator)

        def chance(prob):
            return rand(n) < prob

        # ---- geometric: one 3x3 matrix per sample, mapping output pixels to input pixels ----
        g = torch.eye(3).repeat(n, 1, 1)
        if en.get("xflip"):
            flip = torch.where(chance(p), torch.floor(rand(n) * 2), torch.zeros(n))
            g = g @ _scale2(1 - 2 * flip, torch.ones(n))
        if en.get("rotate90"):
            k = torch.where(chance(p), torch.floor(rand(n) * 4), torch.zeros(n))
            g = g @ _rotate2(-math.pi / 2 * k)
        if en.get("xint"):
            t = (rand(n, 2) * 2 - 1) * self.xint_max
            t = torch.where(chance(p)[:, None], t, torch.zeros_like(t))
            g = g @ _translate2(torch.round(t[:, 0] * w) / w * 2, torch.round(t[:, 1] * h) / h * 2)
        if en.get("scale"):
            s = torch.where(chance(p), torch.exp2(randn(n) * self.scale_std), torch.ones(n))
            g = g @ _scale2(s, s)
        p_rot = 1 - math.sqrt(max(1 - p, 0))  # rotation is applied twice (before and after aniso)
        if en.get("rotate"):
            theta = torch.where(chance(p_rot), (rand(n) * 2 - 1) * math.pi * self.rotate_max, torch.zeros(n))
            g = g @ _rotate2(-theta)
        if en.get("aniso"):
            s = torch.where(chance(p), torch.exp2(randn(n) * self.aniso_std), torch.ones(n))
            g = g @ _scale2(s, 1 / s)
        if en.get("rotate"):
            theta = torch.where(chance(p_rot), (rand(n) * 2 - 1) * math.pi * self.rotate_max, torch.zeros(n))
            g = g @ _rotate2(-theta)
        if en.get("xfrac"):
            t = torch.where(chance(p)[:, None], randn(n, 2) * self.xfrac_std, torch.zeros(n, 2))
            g = g @ _translate2(t[:, 0] * 2, t[:, 1] * 2)
        if not torch.equal(g, torch.eye(3).expand_as(g)):
            theta = upload(g[:, :2, :].contiguous(), images.device).to(images.dtype)
            grid = F.affine_grid(theta, [n, c, h, w], align_corners=False)
            images = grid_sample(images, grid, padding_mode="reflection")  # R1 differentiates through it twice

        # ---- colour: one 4x4 matrix per sample on homogeneous RGB ----
        m = torch.eye(4).repeat(n, 1, 1)
        if en.get("brightness"):
            b = torch.where(chance(p), randn(n) * self.brightness_std, torch.zeros(n))
            m = _translate3(b[:, None].expand(n, 3)) @ m
        if en.get("contrast"):
            s = torch.where(chance(p), torch.exp2(randn(n) * self.contrast_std), torch.ones(n))
            m = _scale3(s[:, None].expand(n, 3)) @ m
        if en.get("lumaflip"):
            i = torch.where(chance(p), torch.floor(rand(n) * 2), torch.zeros(n))
            m = (torch.eye(4) - 2 * torch.outer(LUMA, LUMA) * i[:, None, None]) @ m
        if en.get("hue") and c == 3:
            theta = torch.where(chance(p), (rand(n) * 2 - 1) * math.pi * self.hue_max, torch.zeros(n))
            m = _rotate3(LUMA, theta) @ m
        if en.get("saturation") and c == 3:
            s = torch.where(chance(p), torch.exp2(randn(n) * self.saturation_std), torch.ones(n))
            ll = torch.outer(LUMA, LUMA)
            m = (ll + (torch.eye(4) - ll) * s[:, None, None]) @ m
        if not torch.equal(m, torch.eye(4).expand_as(m)):
            m = upload(m, images.device).to(images.dtype)
            if c == 3:
                images = torch.einsum("nij,njhw->nihw", m[:, :3, :3], images) + m[:, :3, 3, None, None]
            elif c == 1:  # grey: the mean of the RGB rows acting on (v, v, v)
                gain = m[:, :3, :3].sum(dim=2).mean(dim=1)
                images = images * gain[:, None, None, None] + m[:, :3, 3].mean(dim=1)[:, None, None, None]
        return images


class AdaController:
    """Tunes p so that the discriminator's overfitting heuristic r_t = E[sign(D(real))] stays at
    the target (0.6): every `interval` steps p moves by (batch * interval) / (ada_kimg * 1000) in
    the direction of sign(r_t - target) — from 0 to 1 in `ada_kimg` thousand images at the fastest."""

    def __init__(self, target: float = 0.6, interval: int = 4, ada_kimg: float = 500, p: float = 0.0):
        self.target, self.interval, self.ada_kimg = target, interval, ada_kimg
        self.p = p
        self.sign_sum = 0.0
        self.count = 0
        self.rt = 0.0

    def accumulate(self, real_logits_sign_sum: float, count: int) -> None:
        self.sign_sum += real_logits_sign_sum
        self.count += count

    def update(self, batch: int) -> None:
        if self.count == 0:
            return
        self.rt = self.sign_sum / self.count
        step = float(np.sign(self.rt - self.target)) * batch * self.interval / (self.ada_kimg * 1000)
        self.p = float(min(max(self.p + step, 0.0), 1.0))
        self.sign_sum, self.count = 0.0, 0

    def state(self) -> dict:
        return {"p": self.p, "sign_sum": self.sign_sum, "count": self.count, "rt": self.rt}

    def load(self, state: dict) -> None:
        self.p, self.sign_sum, self.count, self.rt = (float(state["p"]), float(state["sign_sum"]),
                                                      int(state["count"]), float(state["rt"]))
