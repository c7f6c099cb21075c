"""Training options: one dataclass, filled from a preset (like NVIDIA's --cfg) and then overridden
knob by knob from the command line. Stored in every run folder and snapshot."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from core.networks.config import _from_dict

ARCHS = ("stylegan2", "stylegan1")
PRESETS = ("auto", "stylegan2", "paper256", "paper512", "paper1024", "cifar", "stylegan1")
AUG_MODES = ("ada", "noaug", "fixed")


@dataclass
class TrainConfig:
    """Every option of a training run (NVIDIA's train.py options and the loss/augment kwargs it
    builds, under our names: glr/dlr, gamma, r1_interval, pl_weight, ...): filled from a preset,
    then from the command line; validate() refuses combinations that cannot run. Stored as
    training_options.json and in every snapshot, so that --resume continues with the same ones."""
    # What and how long.
    data: str = ""  # the dataset's absolute path, resolved when the run starts
    data_fingerprint: str = ""  # ImageDataset.fingerprint() of the prepared pixels ("" in older runs)
    resolution: int = 0  # 0: the dataset's own
    max_megapixels: float = 89.5  # image files larger than this are named and skipped
    cond: bool = False  # condition on the dataset's labels
    arch: str = "stylegan2"
    preset: str = "auto"
    kimg: float = 25000.0  # total thousands of real images to show D
    batch: int = 32  # global batch over all processes
    batch_gpu: int = 0  # per process and round (0: batch / processes); smaller means more rounds
    seed: int = 0
    mirror: bool = False  # x-flip: every image also shown mirrored (NVIDIA's --mirror)
    # Networks.
    z_dim: int = 512
    w_dim: int = 512
    map_layers: int = 8
    cbase: int = 32768  # channel_base: channels at resolution r are min(cbase / r, cmax)
    cmax: int = 512
    d_cbase: int = 0  # 0: same as cbase
    d_cmax: int = 0
    g_arch: str = "skip"
    d_arch: str = "resnet"
    mbstd_group: int = 4
    num_fp16_res: int = 0  # on GPUs: highest resolutions in fp16 (mixed precision)
    conv_clamp: float | None = None
    freezed: int = 0  # D's first layers (from the image side) kept as they are: transfer learning
    # Optimisation.
    glr: float = 0.0025
    dlr: float = 0.0025
    betas: list = field(default_factory=lambda: [0.0, 0.99])
    gamma: float = 1.0  # R1 weight
    r1_interval: int = 16
    pl_weight: float = 2.0
    pl_interval: int = 4
    pl_decay: float = 0.01
    pl_batch_shrink: int = 2
    style_mixing: float = 0.9
    ema_kimg: float = 10.0
    ema_rampup: float | None = 0.05
    # Augmentation.
    aug: str = "ada"
    augpipe: str = "bgc"
    p: float = 0.0  # initial (ada) or constant (fixed) augmentation probability
    target: float = 0.6
    ada_interval: int = 4
    ada_kimg: float = 500.0
    # Progressive growing (stylegan1).
    start_res: int = 4
    phase_kimg: float = 600.0  # images per fade-in and per stabilisation phase
    # Bookkeeping.
    tick_kimg: float = 4.0
    snap: int = 50  # ticks between snapshots (and sample grids)
    snap_minutes: float = 30.0  # also a snapshot once this much training time passed since the last; 0: off
    minutes: float = 0.0  # stop (with a snapshot) after this much training time; 0: no limit
    metrics: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return _from_dict(cls, d)

    def validate(self, resolution: int | None = None) -> None:
        """ValueError naming the first option that cannot work; `resolution`: the training
        resolution, when known, for the options that depend on it."""
        from core.training.augment import PIPELINES
        if self.arch not in ARCHS:
            raise ValueError(f"--arch must be one of {', '.join(ARCHS)}")
        if self.aug not in AUG_MODES:
            raise ValueError(f"--aug must be one of {', '.join(AUG_MODES)}")
        if self.batch < 1 or self.kimg <= 0:
            raise ValueError("--batch and --kimg must be positive")
        if self.batch_gpu < 0 or (self.batch_gpu and self.batch % self.batch_gpu):
            raise ValueError("--batch must be a multiple of --batch-gpu")
        for name in ("r1_interval", "pl_interval", "ada_interval", "snap"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if not 0 <= self.style_mixing <= 1 or not 0 <= self.p <= 1:
            raise ValueError("--mixing and --p must be within 0..1")
        if (self.d_arch == "progressive") != (self.arch == "stylegan1") and self.arch == "stylegan2":
            raise ValueError("--d-arch progressive belongs to --arch stylegan1")
        if self.tick_kimg <= 0 or self.phase_kimg <= 0:
            raise ValueError("--tick and --phase-kimg must be positive")
        if self.freezed and self.arch != "stylegan2":
            raise ValueError("--freezed works with --arch stylegan2 (a progressive D grows its layers)")
        if self.augpipe not in PIPELINES:
            raise ValueError(f"--augpipe must be one of {', '.join(PIPELINES)}, not {self.augpipe!r}")
        if resolution and self.arch == "stylegan1":
            starts = [2 ** k for k in range(2, resolution.bit_length()) if 2 ** k <= resolution]
            if self.start_res not in starts:
                raise ValueError(f"--start-res must be one of {', '.join(map(str, starts))} for "
                                 f"{resolution}x{resolution} images, not {self.start_res}")


def preset(name: str, resolution: int, processes: int = 1) -> dict:
    """Option values of a preset (NVIDIA stylegan2-ada-pytorch's --cfg specs, plus 'stylegan1')."""
    res = resolution
    specs = {
        "cifar": dict(batch=64, mbstd_group=32, fmaps=1, lr=0.0025, gamma=0.01, ema=500, ramp=0.05, map=2),
        "paper256": dict(batch=64, mbstd_group=8, fmaps=0.5, lr=0.0025, gamma=1, ema=20, ramp=None, map=8),
        "paper512": dict(batch=64, mbstd_group=8, fmaps=1, lr=0.0025, gamma=0.5, ema=20, ramp=None, map=8),
        "paper1024": dict(batch=32, mbstd_group=4, fmaps=1, lr=0.002, gamma=2, ema=10, ramp=None, map=8),
        "stylegan2": dict(batch=32, mbstd_group=4, fmaps=1, lr=0.002, gamma=10, ema=10, ramp=None, map=8),
    }
    if name == "auto" or name == "stylegan1":
        batch = max(min(processes * min(4096 // max(res, 1), 32), 64), processes)
        spec = dict(batch=batch, mbstd_group=min(batch // processes, 4), fmaps=1 if res >= 512 else 0.5,
                    lr=0.002 if res >= 1024 else 0.0025, gamma=0.0002 * res ** 2 / batch,
                    ema=batch * 10 / 32, ramp=0.05, map=2)
    elif name in specs:
        spec = specs[name]
    else:
        raise ValueError(f"--preset must be one of {', '.join(PRESETS)}")
    out = dict(batch=spec["batch"], mbstd_group=spec["mbstd_group"], cbase=int(spec["fmaps"] * 32768),
               cmax=512, glr=spec["lr"], dlr=spec["lr"], gamma=spec["gamma"], ema_kimg=spec["ema"],
               ema_rampup=spec["ramp"], map_layers=spec["map"])
    if name == "cifar":
        out.update(pl_weight=0.0, style_mixing=0.0, d_arch="orig")
    if name == "stylegan1":  # the StyleGAN (2019) recipe: AdaIN G, progressive D, no path-length reg
        out.update(arch="stylegan1", glr=0.0015, dlr=0.0015, gamma=10.0, pl_weight=0.0, cbase=16384,
                   map_layers=8, d_arch="progressive")
    return out
