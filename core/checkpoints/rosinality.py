"""rosinality/stylegan2-pytorch checkpoints (g_ema, g, d, latent_avg): reading them, and writing
our generator in rosinality's names (`stylegan-convert --to rosinality`).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
import torch

from core.errors import CheckpointError
from core.networks.config import GeneratorConfig
from core.networks.build import build_discriminator
from core.networks.config import DiscriminatorConfig
from core.checkpoints.network_file import NetworkFile, _fit_channels
from core.checkpoints.network_file import _generator_state, _pack
from core.checkpoints.network_file import _with_filters


def from_rosinality(data: dict) -> NetworkFile:
    """rosinality/stylegan2-pytorch: g_ema (or g) state dict, optional latent_avg."""
    g = data.get("g_ema") or data.get("g")
    g = {k: torch.as_tensor(v) for k, v in dict(g).items()}
    mlp = sorted(int(m.group(1)) for k in g if (m := re.fullmatch(r"style\.(\d+)\.weight", k)))
    n_convs = len({int(m.group(1)) for k in g if (m := re.fullmatch(r"convs\.(\d+)\.conv\.weight", k))})
    res = 4 * 2 ** (n_convs // 2)
    resolutions = [2 ** i for i in range(2, int(math.log2(res)) + 1)]
    channels = {4: g["conv1.conv.weight"].shape[1]}
    for i, r in enumerate(resolutions[1:]):
        channels[r] = g[f"convs.{2 * i + 1}.conv.weight"].shape[1]
    base, cmax = _fit_channels(channels)
    w_dim = g[f"style.{mlp[-1]}.weight"].shape[0]
    lr_mul = 0.01
    config = GeneratorConfig(arch="stylegan2", z_dim=g["style.1.weight"].shape[1], w_dim=w_dim, img_resolution=res,
                             img_channels=g["to_rgb1.conv.weight"].shape[1], mapping_layers=len(mlp),
                             mapping_lr_multiplier=lr_mul, channel_base=base, channel_max=cmax, architecture="skip",
                             resample_filter=[1, 3, 3, 1])
    s = {}
    for i, idx in enumerate(mlp):
        s[f"mapping.fc{i}.weight"] = g[f"style.{idx}.weight"].clone()
        s[f"mapping.fc{i}.bias"] = g[f"style.{idx}.bias"].clone()
    if data.get("latent_avg") is not None:
        s["mapping.w_avg"] = torch.as_tensor(data["latent_avg"]).reshape(-1).float().clone()

    def conv(src: str, dst: str, noise: str | None) -> None:
        s[f"{dst}.weight"] = g[f"{src}.conv.weight"][0].clone()
        s[f"{dst}.affine.weight"] = g[f"{src}.conv.modulation.weight"].clone()
        s[f"{dst}.affine.bias"] = g[f"{src}.conv.modulation.bias"].clone()
        s[f"{dst}.bias"] = g[f"{src}.activate.bias"].reshape(-1).clone()
        s[f"{dst}.noise_strength"] = g[f"{src}.noise.weight"].reshape(()).clone()
        s[f"{dst}.noise_const"] = g[noise][0, 0].clone()

    def torgb(src: str, dst: str) -> None:
        s[f"{dst}.weight"] = g[f"{src}.conv.weight"][0].clone()
        s[f"{dst}.affine.weight"] = g[f"{src}.conv.modulation.weight"].clone()
        s[f"{dst}.affine.bias"] = g[f"{src}.conv.modulation.bias"].clone()
        s[f"{dst}.bias"] = g[f"{src}.bias"].reshape(-1).clone()

    s["synthesis.b4.const"] = g["input.input"][0].clone()
    conv("conv1", "synthesis.b4.conv1", "noises.noise_0")
    torgb("to_rgb1", "synthesis.b4.torgb")
    for i, r in enumerate(resolutions[1:]):
        conv(f"convs.{2 * i}", f"synthesis.b{r}.conv0", f"noises.noise_{2 * i + 1}")
        conv(f"convs.{2 * i + 1}", f"synthesis.b{r}.conv1", f"noises.noise_{2 * i + 2}")
        torgb(f"to_rgbs.{i}", f"synthesis.b{r}.torgb")
    return _with_filters(NetworkFile("rosinality", config, s, needs_w_avg="mapping.w_avg" not in s))


def rosinality_channel_multiplier(cfg: GeneratorConfig) -> int:
    """rosinality's channel_multiplier for this config, or CheckpointError naming what does not fit.

    rosinality's networks hold unconditional StyleGAN2 'skip' generators with 3 output channels,
    the [1,3,3,1] filter, noise inputs, style_dim-wide mapping layers (z_dim = w_dim), no conv clamp,
    and channels {4..32: 512, 64: 256 m, 128: 128 m, ...}: channel_max 512, channel_base 16384 m.
    """
    problems = []
    if cfg.arch != "stylegan2":
        problems.append({"stylegan1": "it is a StyleGAN1 (AdaIN) generator",
                         "stylegan3": "it is a StyleGAN3 (alias-free) generator"}.get(cfg.arch, f"it is a {cfg.arch} generator"))
    if cfg.architecture != "skip":
        problems.append(f"architecture {cfg.architecture!r} (rosinality has 'skip' only)")
    if cfg.c_dim:
        problems.append("it is conditional")
    if cfg.img_channels != 3:
        problems.append(f"{cfg.img_channels} image channels (rosinality's ToRGB makes 3)")
    if list(cfg.resample_filter) != [1, 3, 3, 1]:
        problems.append(f"filter {list(cfg.resample_filter)}")
    if cfg.z_dim != cfg.w_dim or cfg.mapping_layer_features not in (None, cfg.w_dim):
        problems.append(f"z_dim {cfg.z_dim} / w_dim {cfg.w_dim} (rosinality's mapping is style_dim wide throughout)")
    if cfg.conv_clamp is not None:
        problems.append(f"conv_clamp {cfg.conv_clamp:g} (rosinality has no clamp)")
    if not cfg.use_noise:
        problems.append("no noise inputs")
    multiplier = cfg.channel_base // 16384
    if cfg.channel_max != 512 or multiplier < 1 or cfg.channel_base != 16384 * multiplier:
        problems.append(f"channel_base {cfg.channel_base} / channel_max {cfg.channel_max} (rosinality's channels are "
                        "channel_max 512, channel_base 16384 x channel_multiplier)")
    if problems:
        raise CheckpointError("rosinality's format cannot hold this generator: " + "; ".join(problems))
    return multiplier


def to_rosinality(G) -> dict:
    """Our StyleGAN2 generator -> rosinality's checkpoint {"g_ema", "latent_avg"}: every parameter
    and buffer their Generator's strict load_state_dict expects, the fixed FIR kernels included
    (convs.{even}.conv.blur.kernel and to_rgbs.*.upsample.kernel: [1,3,3,1]² / 64 x 4).
    CheckpointError (naming every reason) for a generator rosinality's Generator cannot build."""
    rosinality_channel_multiplier(G.config)
    return rosinality_state(G)


def rosinality_state(G) -> dict:
    """The renaming alone, for any 'skip' StyleGAN2 layout (forks of rosinality's code change the
    channel table); to_rosinality is the export."""
    cfg = G.config
    s = G.state_dict()
    g = {}
    for i in range(cfg.mapping_layers):
        g[f"style.{i + 1}.weight"] = s[f"mapping.fc{i}.weight"]
        g[f"style.{i + 1}.bias"] = s[f"mapping.fc{i}.bias"]
    res = [2 ** i for i in range(2, int(math.log2(cfg.img_resolution)) + 1)]
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    up_kernel = torch.outer(taps, taps) / 64 * 4  # make_kernel(blur_kernel) * factor ** 2

    def conv(src: str, dst: str, noise: str, upsample: bool = False) -> None:
        g[f"{dst}.conv.weight"] = s[f"{src}.weight"][None]
        if upsample:
            g[f"{dst}.conv.blur.kernel"] = up_kernel.clone()
        g[f"{dst}.conv.modulation.weight"] = s[f"{src}.affine.weight"]
        g[f"{dst}.conv.modulation.bias"] = s[f"{src}.affine.bias"]
        g[f"{dst}.noise.weight"] = s[f"{src}.noise_strength"].reshape(1)
        g[f"{dst}.activate.bias"] = s[f"{src}.bias"]
        g[noise] = s[f"{src}.noise_const"][None, None]

    def torgb(src: str, dst: str, upsample: bool = True) -> None:
        if upsample:
            g[f"{dst}.upsample.kernel"] = up_kernel.clone()
        g[f"{dst}.conv.weight"] = s[f"{src}.weight"][None]
        g[f"{dst}.conv.modulation.weight"] = s[f"{src}.affine.weight"]
        g[f"{dst}.conv.modulation.bias"] = s[f"{src}.affine.bias"]
        g[f"{dst}.bias"] = s[f"{src}.bias"].reshape(1, -1, 1, 1)

    g["input.input"] = s["synthesis.b4.const"][None]
    conv("synthesis.b4.conv1", "conv1", "noises.noise_0")
    torgb("synthesis.b4.torgb", "to_rgb1", upsample=False)
    for i, r in enumerate(res[1:]):
        conv(f"synthesis.b{r}.conv0", f"convs.{2 * i}", f"noises.noise_{2 * i + 1}", upsample=True)
        conv(f"synthesis.b{r}.conv1", f"convs.{2 * i + 1}", f"noises.noise_{2 * i + 2}")
        torgb(f"synthesis.b{r}.torgb", f"to_rgbs.{i}")
    return {"g_ema": {k: v.detach().clone() for k, v in g.items()},
            "latent_avg": s["mapping.w_avg"].detach().clone()}


def _from_rosinality(data: dict, path: Path) -> dict:
    f = from_rosinality(data)
    g_ema = _generator_state(f, path)
    G = None
    if data.get("g") is not None and data.get("g_ema") is not None:
        G = _generator_state(from_rosinality({"g_ema": data["g"], "latent_avg": data.get("latent_avg")}), path)
    D = from_rosinality_discriminator(data["d"]) if data.get("d") else None  # ({}: no D saved)
    p = data.get("ada_aug_p")  # rosinality's train.py saves its ADA p under this name
    return _pack(f, path, g_ema, G, D, float(p) if isinstance(p, (int, float)) else None)


def from_rosinality_discriminator(d: dict) -> tuple[DiscriminatorConfig, dict]:
    """rosinality's Discriminator state dict -> (our config, our state dict).

    Theirs: convs.0 (1x1 fromRGB, lrelu), convs.k ResBlocks (conv1 3x3; conv2 blur + 3x3 stride 2;
    skip blur + 1x1 stride 2, no bias; (out + skip) / sqrt 2), minibatch stddev (group 4, 1 feature),
    final_conv 3x3, final_linear (lrelu, then to 1) — NVIDIA's resnet D with the same arithmetic:
    our b{res}.fromrgb / conv0 / conv1 / skip and b4.conv / fc / out.
    """
    d = {k: torch.as_tensor(v) for k, v in dict(d).items()}
    blocks = sorted(int(m.group(1)) for k in d if (m := re.fullmatch(r"convs\.(\d+)\.conv1\.0\.weight", k)))
    if "convs.0.0.weight" not in d or not blocks:
        raise CheckpointError("its discriminator is not rosinality's StyleGAN2 discriminator")
    top = 4 * 2 ** len(blocks)
    s = {f"b{top}.fromrgb.weight": d["convs.0.0.weight"], f"b{top}.fromrgb.bias": d["convs.0.1.bias"]}
    channels = {}
    for i in blocks:
        r = top // 2 ** (i - 1)
        channels[r] = d[f"convs.{i}.conv1.0.weight"].shape[0]
        s[f"b{r}.conv0.weight"] = d[f"convs.{i}.conv1.0.weight"]
        s[f"b{r}.conv0.bias"] = d[f"convs.{i}.conv1.1.bias"]
        s[f"b{r}.conv1.weight"] = d[f"convs.{i}.conv2.1.weight"]
        s[f"b{r}.conv1.bias"] = d[f"convs.{i}.conv2.2.bias"]
        s[f"b{r}.skip.weight"] = d[f"convs.{i}.skip.1.weight"]
    channels[4] = d["final_conv.0.weight"].shape[0]
    s["b4.conv.weight"] = d["final_conv.0.weight"]
    s["b4.conv.bias"] = d["final_conv.1.bias"]
    s["b4.fc.weight"] = d["final_linear.0.weight"]
    s["b4.fc.bias"] = d["final_linear.0.bias"]
    s["b4.out.weight"] = d["final_linear.1.weight"]
    s["b4.out.bias"] = d["final_linear.1.bias"]
    base, cmax = _fit_channels(channels)
    config = DiscriminatorConfig(c_dim=0, img_resolution=top, img_channels=d["convs.0.0.weight"].shape[1],
                                 architecture="resnet", channel_base=base, channel_max=cmax, mbstd_group_size=4,
                                 mbstd_num_channels=1)
    fresh = build_discriminator(config).state_dict()
    for k, v in fresh.items():  # the constant FIR buffers
        if k.endswith("resample_filter"):
            s[k] = v
    s = {k: v.detach().clone().float() for k, v in s.items()}
    if math.isnan(float(sum(v.float().sum() for v in s.values()))):
        raise CheckpointError("its discriminator holds NaN weights")
    return config, s
