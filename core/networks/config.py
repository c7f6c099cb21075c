"""Network configurations: plain dataclasses from which the networks are rebuilt.

A checkpoint stores `asdict(config)`; loading rebuilds the network from it, so no code is ever read
from a file. Unknown keys are an error (they mean a file from a newer version or a typo).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

ARCHS = ("stylegan2", "stylegan1", "stylegan3")  # which StyleGAN (the synthesis network); see GeneratorConfig
_OLD_FLAVOURS = {"demod": "stylegan2", "adain": "stylegan1"}  # configs saved before the rename
G_ARCHITECTURES = ("orig", "skip", "resnet")
D_ARCHITECTURES = ("orig", "skip", "resnet", "progressive")


def _check_types(config) -> None:
    """Every field holds a value of its annotated kind, made the plain Python type (a file's numpy
    integer becomes an int): ValueError naming the field otherwise. A config read from a file
    ('256' for conv_clamp, a float z_dim) would otherwise fail deep inside the network, or not at
    all and compute something else."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        kinds = [k.strip() for k in str(f.type).split("|")]
        if value is None and "None" in kinds:
            continue
        kind = kinds[0]
        ok = False
        if kind == "bool":
            ok = isinstance(value, (bool, np.bool_))
            value = bool(value) if ok else value
        elif kind == "int":
            ok = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
            value = int(value) if ok else value
        elif kind == "float":
            ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)
            value = float(value) if ok else value
        elif kind == "str":
            ok = isinstance(value, str)
        elif kind == "list":
            ok = isinstance(value, (list, tuple)) and all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in value)
            value = [float(v) if not isinstance(v, numbers.Integral) else int(v) for v in value] if ok else value
        if not ok:
            want = {"bool": "true or false", "int": "a whole number", "float": "a finite number", "str": "a string",
                    "list": "a list of numbers"}[kind] + (" or None" if "None" in kinds else "")
            raise ValueError(f"{type(config).__name__}.{f.name} must be {want}, got {value!r}"[:200])
        setattr(config, f.name, value)


def _from_dict(cls, d: dict):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {', '.join(unknown)}")
    return cls(**d)


def _check_resolution(res: int) -> None:
    if res < 4 or 2 ** int(round(math.log2(res))) != res:
        raise ValueError(f"img_resolution must be a power of two >= 4, got {res}")


@dataclass
class GeneratorConfig:
    """Generator hyper-parameters. `arch` picks the synthesis network: 'stylegan2' (modulated conv +
    demodulation; Karras et al. 2020), 'stylegan1' (AdaIN, progressive growing; Karras et al. 2019)
    or 'stylegan3' (alias-free; Karras et al. 2021: -T with conv_kernel 3, -R with conv_kernel 1 and
    radial filters).
    `architecture` is NVIDIA's orig / skip / resnet choice within StyleGAN2. Configs saved with the
    old `flavour` key ('demod' / 'adain') still load (from_dict)."""

    arch: str = "stylegan2"
    z_dim: int = 512
    w_dim: int = 512
    c_dim: int = 0
    img_resolution: int = 1024
    img_channels: int = 3
    # Mapping network.
    mapping_layers: int = 8
    mapping_lr_multiplier: float = 0.01
    mapping_embed_features: int | None = None
    mapping_layer_features: int | None = None
    w_avg_beta: float = 0.995
    # Synthesis network.
    channel_base: int = 32768
    channel_max: int = 512
    architecture: str = "skip"  # demod only: orig | skip | resnet
    num_fp16_res: int = 0  # highest resolutions that run in fp16 on GPUs (never on CPU)
    conv_clamp: float | None = None
    use_noise: bool = True
    resample_filter: list = field(default_factory=lambda: [1, 3, 3, 1])
    # StyleGAN3 only.
    conv_kernel: int = 3  # 3: StyleGAN3-T, 1: StyleGAN3-R
    use_radial_filters: bool = False  # StyleGAN3-R
    magnitude_ema_beta: float = 0.999

    def __post_init__(self):
        _check_types(self)
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.architecture not in G_ARCHITECTURES:
            raise ValueError(f"architecture must be one of {G_ARCHITECTURES}, got {self.architecture!r}")
        _check_resolution(self.img_resolution)
        for name in ("z_dim", "w_dim", "img_channels", "mapping_layers", "channel_base", "channel_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    def channels(self, res: int) -> int:
        """Feature maps at resolution res: min(channel_base // res, channel_max), as NVIDIA's."""
        return min(self.channel_base // res, self.channel_max)

    @property
    def num_ws(self) -> int:
        """Number of W+ rows. StyleGAN1: one per styled layer (two per resolution). StyleGAN2: one
        per conv layer plus one for the last ToRGB — the same count, 2*log2(res) - 2. StyleGAN3: the
        input, 14 layers and ToRGB — 16 at every resolution."""
        if self.arch == "stylegan3":
            return 16
        return 2 * int(math.log2(self.img_resolution)) - 2

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GeneratorConfig":
        d = dict(d)
        if "flavour" in d and "arch" not in d:  # written before StyleGAN1/StyleGAN2 became the names
            flavour = d.pop("flavour")
            if flavour not in _OLD_FLAVOURS:
                raise ValueError(f"flavour must be one of {tuple(_OLD_FLAVOURS)}, got {flavour!r}")
            d["arch"] = _OLD_FLAVOURS[flavour]
        return _from_dict(cls, d)


@dataclass
class DiscriminatorConfig:
    """Discriminator hyper-parameters; architecture 'progressive' is the StyleGAN1 discriminator."""

    c_dim: int = 0
    img_resolution: int = 1024
    img_channels: int = 3
    architecture: str = "resnet"
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 0
    conv_clamp: float | None = None
    cmap_dim: int | None = None
    mbstd_group_size: int | None = 4
    mbstd_num_channels: int = 1
    resample_filter: list = field(default_factory=lambda: [1, 3, 3, 1])

    def __post_init__(self):
        _check_types(self)
        if self.architecture not in D_ARCHITECTURES:
            raise ValueError(f"architecture must be one of {D_ARCHITECTURES}, got {self.architecture!r}")
        _check_resolution(self.img_resolution)

    def channels(self, res: int) -> int:
        """Feature maps at resolution res: min(channel_base // res, channel_max), as NVIDIA's."""
        return min(self.channel_base // res, self.channel_max)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DiscriminatorConfig":
        return _from_dict(cls, d)
