"""Translate NVIDIA stylegan2-ada-pytorch constructor kwargs into our configs (and back)."""

from __future__ import annotations

from core.networks.config import DiscriminatorConfig, GeneratorConfig

_UNSUPPORTED = "this network uses {what}={value!r}, which this toolkit does not support"


def _require(cond: bool, what: str, value) -> None:
    if not cond:
        raise ValueError(_UNSUPPORTED.format(what=what, value=value))


# Synthesis settings that NVIDIA's stylegan3 repository (training/networks_stylegan2.py, trained with
# `train.py --cfg=stylegan2`) passes to Generator(**kwargs) flat, where stylegan2-ada-pytorch nests
# them under synthesis_kwargs.
SYNTHESIS_KEYS = ("channel_base", "channel_max", "num_fp16_res", "conv_clamp", "architecture", "resample_filter",
                  "use_noise", "activation", "kernel_size", "fp16_channels_last", "fused_modconv_default")


# Settings only StyleGAN3's generator (training/networks_stylegan3.py) takes, flat in its kwargs.
STYLEGAN3_KEYS = ("conv_kernel", "use_radial_filters", "magnitude_ema_beta", "num_layers", "num_critical",
                  "first_cutoff", "first_stopband", "last_stopband_rel", "margin_size", "output_scale",
                  "filter_size", "lrelu_upsampling", "channel_base", "channel_max", "num_fp16_res", "conv_clamp")
_STYLEGAN3_FIXED = {"num_layers": 14, "num_critical": 2, "first_cutoff": 2, "first_stopband": 2 ** 2.1,
                    "last_stopband_rel": 2 ** 0.3, "margin_size": 10, "output_scale": 0.25, "filter_size": 6,
                    "lrelu_upsampling": 2}


def is_stylegan3_kwargs(kw: dict) -> bool:
    """Whether Generator(**kw) is StyleGAN3's (training/networks_stylegan3.py)."""
    sk = {**kw, **dict(kw.get("synthesis_kwargs") or {})}
    return any(k in sk for k in ("conv_kernel", "use_radial_filters", "magnitude_ema_beta"))


def stylegan3_config_from_nvidia(kw: dict) -> GeneratorConfig:
    """Generator(**kw) of the stylegan3 repository's training/networks_stylegan3.py (synthesis
    settings flat or under synthesis_kwargs) -> GeneratorConfig (arch 'stylegan3')."""
    mk = dict(kw.get("mapping_kwargs") or {})
    sk = {**{k: kw[k] for k in STYLEGAN3_KEYS if k in kw}, **dict(kw.get("synthesis_kwargs") or {})}
    for k, default in _STYLEGAN3_FIXED.items():
        _require(abs(float(sk.get(k, default)) - float(default)) < 1e-9, k, sk.get(k))
    return GeneratorConfig(
        arch="stylegan3",
        z_dim=int(kw["z_dim"]), w_dim=int(kw["w_dim"]), c_dim=int(kw.get("c_dim", 0)),
        img_resolution=int(kw["img_resolution"]), img_channels=int(kw["img_channels"]),
        mapping_layers=int(mk.get("num_layers", 2)),
        mapping_lr_multiplier=float(mk.get("lr_multiplier", 0.01)),
        w_avg_beta=float(mk.get("w_avg_beta", 0.998)),
        channel_base=int(sk.get("channel_base", 32768)), channel_max=int(sk.get("channel_max", 512)),
        num_fp16_res=int(sk.get("num_fp16_res", 4)), conv_clamp=sk.get("conv_clamp", 256),
        use_noise=False, conv_kernel=int(sk.get("conv_kernel", 3)),
        use_radial_filters=bool(sk.get("use_radial_filters", False)),
        magnitude_ema_beta=float(sk.get("magnitude_ema_beta", 0.999)))


def generator_config_from_nvidia(kw: dict) -> GeneratorConfig:
    """Generator(**kw) of stylegan2-ada-pytorch's training/networks.py, or of the stylegan3
    repository's training/networks_stylegan2.py (synthesis settings flat) or networks_stylegan3.py
    -> GeneratorConfig."""
    if is_stylegan3_kwargs(kw):
        return stylegan3_config_from_nvidia(kw)
    mk = dict(kw.get("mapping_kwargs") or {})
    sk = {**{k: kw[k] for k in SYNTHESIS_KEYS if k in kw}, **dict(kw.get("synthesis_kwargs") or {})}
    _require(mk.get("activation", "lrelu") == "lrelu", "mapping activation", mk.get("activation"))
    _require(sk.get("activation", "lrelu") == "lrelu", "synthesis activation", sk.get("activation"))
    _require(sk.get("kernel_size", 3) == 3, "kernel_size", sk.get("kernel_size"))
    return GeneratorConfig(
        arch="stylegan2",
        z_dim=int(kw["z_dim"]), w_dim=int(kw["w_dim"]), c_dim=int(kw.get("c_dim", 0)),
        img_resolution=int(kw["img_resolution"]), img_channels=int(kw["img_channels"]),
        mapping_layers=int(mk.get("num_layers", 8)),
        mapping_lr_multiplier=float(mk.get("lr_multiplier", 0.01)),
        mapping_embed_features=mk.get("embed_features"),
        mapping_layer_features=mk.get("layer_features"),
        w_avg_beta=float(mk.get("w_avg_beta", 0.995)),
        channel_base=int(sk.get("channel_base", 32768)), channel_max=int(sk.get("channel_max", 512)),
        architecture=sk.get("architecture", "skip"), num_fp16_res=int(sk.get("num_fp16_res", 0)),
        conv_clamp=sk.get("conv_clamp"), use_noise=bool(sk.get("use_noise", True)),
        resample_filter=list(sk.get("resample_filter", [1, 3, 3, 1])))


def discriminator_config_from_nvidia(kw: dict) -> DiscriminatorConfig:
    """Discriminator(**kw) of training/networks.py -> DiscriminatorConfig."""
    bk = dict(kw.get("block_kwargs") or {})
    ek = dict(kw.get("epilogue_kwargs") or {})
    _require(bk.get("activation", "lrelu") == "lrelu", "block activation", bk.get("activation"))
    return DiscriminatorConfig(
        c_dim=int(kw.get("c_dim", 0)), img_resolution=int(kw["img_resolution"]),
        img_channels=int(kw["img_channels"]), architecture=kw.get("architecture", "resnet"),
        channel_base=int(kw.get("channel_base", 32768)), channel_max=int(kw.get("channel_max", 512)),
        num_fp16_res=int(kw.get("num_fp16_res", 0)), conv_clamp=kw.get("conv_clamp"),
        cmap_dim=kw.get("cmap_dim"), mbstd_group_size=ek.get("mbstd_group_size", 4),
        mbstd_num_channels=int(ek.get("mbstd_num_channels", 1)),
        resample_filter=list(bk.get("resample_filter", [1, 3, 3, 1])))


def stylegan3_config_to_nvidia(cfg: GeneratorConfig) -> dict:
    """GeneratorConfig (arch 'stylegan3') -> the kwargs of the stylegan3 repository's
    networks_stylegan3.Generator, flat as its train.py stores them (init_kwargs)."""
    return {
        "z_dim": cfg.z_dim, "c_dim": cfg.c_dim, "w_dim": cfg.w_dim,
        "img_resolution": cfg.img_resolution, "img_channels": cfg.img_channels,
        "mapping_kwargs": {"num_layers": cfg.mapping_layers, "lr_multiplier": cfg.mapping_lr_multiplier,
                           "w_avg_beta": cfg.w_avg_beta},
        "channel_base": cfg.channel_base, "channel_max": cfg.channel_max, "num_fp16_res": cfg.num_fp16_res,
        "conv_clamp": cfg.conv_clamp, "conv_kernel": cfg.conv_kernel, "use_radial_filters": cfg.use_radial_filters,
        "magnitude_ema_beta": cfg.magnitude_ema_beta,
    }


def generator_config_to_nvidia(cfg: GeneratorConfig) -> dict:
    """GeneratorConfig -> NVIDIA's Generator kwargs: stylegan2-ada-pytorch's networks.py for
    StyleGAN2, the stylegan3 repository's networks_stylegan3.py for StyleGAN3. StyleGAN1 networks
    have no NVIDIA PyTorch equivalent (ValueError)."""
    if cfg.arch == "stylegan3":
        return stylegan3_config_to_nvidia(cfg)
    if cfg.arch != "stylegan2":
        raise ValueError("StyleGAN1 generators have no NVIDIA PyTorch equivalent (NVIDIA's StyleGAN1 is TensorFlow); "
                         "convert to .pt")
    return {
        "z_dim": cfg.z_dim, "c_dim": cfg.c_dim, "w_dim": cfg.w_dim,
        "img_resolution": cfg.img_resolution, "img_channels": cfg.img_channels,
        "mapping_kwargs": {"num_layers": cfg.mapping_layers, "embed_features": cfg.mapping_embed_features,
                           "layer_features": cfg.mapping_layer_features, "activation": "lrelu",
                           "lr_multiplier": cfg.mapping_lr_multiplier, "w_avg_beta": cfg.w_avg_beta},
        "synthesis_kwargs": {"channel_base": cfg.channel_base, "channel_max": cfg.channel_max,
                             "num_fp16_res": cfg.num_fp16_res, "conv_clamp": cfg.conv_clamp,
                             "architecture": cfg.architecture, "resample_filter": cfg.resample_filter,
                             "use_noise": cfg.use_noise, "activation": "lrelu", "kernel_size": 3,
                             "fp16_channels_last": False},
    }
