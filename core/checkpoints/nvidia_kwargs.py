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


def generator_config_from_nvidia(kw: dict) -> GeneratorConfig:
    """Generator(**kw) of stylegan2-ada-pytorch's training/networks.py, or of the stylegan3
    repository's training/networks_stylegan2.py (synthesis settings flat) -> GeneratorConfig."""
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


def generator_config_to_nvidia(cfg: GeneratorConfig) -> dict:
    if cfg.arch != "stylegan2":
        raise ValueError("only StyleGAN2 ('demod') generators have an NVIDIA PyTorch equivalent")
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
