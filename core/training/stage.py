"""Where a run is in StyleGAN1's progressive growing (Karras et al. 2018/2019): the resolution being
trained and the fade-in alpha of its newest block. StyleGAN2 runs are always at full resolution with
alpha 1. Generators and discriminators take a stage the same way (`g_kwargs`, `d_kwargs`: nothing for
StyleGAN2), so the training code has no branches on the architecture."""

from __future__ import annotations

import math
from dataclasses import dataclass


def progressive_stage(nimg: float, start_res: int, final_res: int, phase_kimg: float) -> tuple[int, float]:
    """StyleGAN1's schedule: stabilise at start_res for one phase, then for each new resolution a
    fade-in phase (alpha 0 -> 1) and a stabilisation phase; stay at final_res afterwards."""
    t = nimg / (phase_kimg * 1000)
    steps = int(round(math.log2(final_res / start_res)))
    if t < 1 or steps == 0:
        return start_res, 1.0
    k = int((t - 1) // 2) + 1  # which new resolution
    if k > steps:
        return final_res, 1.0
    into = (t - 1) - 2 * (k - 1)
    return start_res * 2 ** k, float(min(into, 1.0))


@dataclass(frozen=True)
class Stage:
    resolution: int
    alpha: float = 1.0
    progressive: bool = False

    @classmethod
    def at(cls, nimg: float, final_res: int, progressive: bool, start_res: int = 4, phase_kimg: float = 600) -> "Stage":
        """The stage after `nimg` training images (StyleGAN2: always the full resolution)."""
        if not progressive:
            return cls(final_res)
        return cls(*progressive_stage(nimg, start_res, final_res, phase_kimg), progressive=True)

    @property
    def g_kwargs(self) -> dict:
        """Keyword arguments of a synthesis network's forward for this stage."""
        return dict(resolution=self.resolution, alpha=self.alpha) if self.progressive else {}

    @property
    def d_kwargs(self) -> dict:
        """Keyword arguments of a discriminator's forward for this stage."""
        return dict(alpha=self.alpha) if self.progressive else {}

    def set_on(self, *generators) -> None:
        """Make this stage the generators' default (a StyleGAN1 synthesis network stores it in its
        state dict, so a snapshot renders at the stage it was saved at)."""
        if self.progressive:
            for G in generators:
                G.synthesis.set_stage(self.resolution, self.alpha)

    def to_list(self) -> list:
        return [self.resolution, self.alpha]
