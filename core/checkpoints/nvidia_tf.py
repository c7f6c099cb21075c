"""NVIDIA's TensorFlow pickles (stylegan, stylegan2, stylegan2-ada: G, D, Gs) mapped onto our
networks as NVIDIA's own legacy.py converts them: StyleGAN2's generator and discriminator and
StyleGAN1's generator (its biases and noise strengths carry the old sqrt(2) gain).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
import numpy as np
import torch

from core.errors import CheckpointError
from core.networks.config import GeneratorConfig
from core.checkpoints.safe_unpickle import TFNetwork
from core.networks.build import build_discriminator
from core.networks.config import DiscriminatorConfig
from core.checkpoints.network_file import NetworkFile, _fit_channels
from core.checkpoints.network_file import _generator_state, _pack
from core.checkpoints.network_file import _with_filters


SQRT2 = math.sqrt(2)


def _tf_params(net: TFNetwork, prefix: str = "") -> dict:
    params = {prefix + name: np.asarray(value) for name, value in net.variables}
    for name, comp in net.components.items():
        if isinstance(comp, TFNetwork):
            params.update(_tf_params(comp, prefix + name + "/"))
    return params


def from_nvidia_tf(G: TFNetwork) -> NetworkFile:
    p = _tf_params(G)
    if any(k.endswith("/StyleMod/weight") for k in p):
        return _from_tf_stylegan1(G, p)
    if G.version is not None and G.version < 4:
        raise CheckpointError(f"TensorFlow pickle version {G.version} without StyleGAN1 layers")
    return _from_tf_stylegan2(G, p)


def _t(a) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float32))  # (ascontiguousarray would make 0-d arrays 1-d)


def _tf_conv(w) -> torch.Tensor:  # [kh, kw, in, out] -> [out, in, kh, kw]
    return _t(np.asarray(w).transpose(3, 2, 0, 1))


def _from_tf_stylegan2(G: TFNetwork, p: dict) -> NetworkFile:
    kw = G.static_kwargs
    res = int(kw.get("resolution") or max(int(m.group(1)) for k in p if (m := re.match(r"synthesis/(\d+)x\1/", k))))
    for name, value in list(p.items()):  # 'orig' pickles name the last ToRGB by lod
        m = re.fullmatch(r"synthesis/ToRGB_lod(\d+)/(.*)", name)
        if m:
            r = res // 2 ** int(m.group(1))
            p[f"synthesis/{r}x{r}/ToRGB/{m.group(2)}"] = value
    layers = sorted(int(m.group(1)) for k in p if (m := re.fullmatch(r"mapping/Dense(\d+)/weight", k)))
    c_dim = int(kw.get("label_size") or 0)
    has_skip = any(re.fullmatch(r"synthesis/\d+x\d+/Skip/weight", k) for k in p)
    torgb_all = all(f"synthesis/{r}x{r}/ToRGB/weight" in p for r in (2 ** i for i in range(2, int(math.log2(res)) + 1)))
    arch = kw.get("architecture") or ("resnet" if has_skip else "skip" if torgb_all else "orig")
    channels = {r: p[f"synthesis/{r}x{r}/Conv1/weight"].shape[3] if r > 4 else p["synthesis/4x4/Conv/weight"].shape[3]
                for r in (2 ** i for i in range(2, int(math.log2(res)) + 1))}
    base, cmax = (int(kw["fmap_base"]) * 2, int(kw.get("fmap_max", 512))) if "fmap_base" in kw else _fit_channels(channels)
    config = GeneratorConfig(
        arch="stylegan2", z_dim=int(kw.get("latent_size") or p["mapping/Dense0/weight"].shape[0]),
        w_dim=int(kw.get("dlatent_size") or p[f"mapping/Dense{layers[-1]}/weight"].shape[1]), c_dim=c_dim,
        img_resolution=res, img_channels=int(kw.get("num_channels") or p[f"synthesis/{res}x{res}/ToRGB/weight"].shape[3]),
        mapping_layers=len(layers), mapping_lr_multiplier=float(kw.get("mapping_lrmul", 0.01)),
        mapping_embed_features=(p["mapping/LabelEmbed/weight"].shape[1] if c_dim else None),
        channel_base=base, channel_max=cmax, architecture=arch,
        resample_filter=list(kw.get("resample_kernel") or [1, 3, 3, 1]))
    s = {}
    if "dlatent_avg" in p:
        s["mapping.w_avg"] = _t(p["dlatent_avg"])
    if c_dim:
        s["mapping.embed.weight"] = _t(p["mapping/LabelEmbed/weight"].T)
        s["mapping.embed.bias"] = _t(p["mapping/LabelEmbed/bias"])
    for i in layers:
        s[f"mapping.fc{i}.weight"] = _t(p[f"mapping/Dense{i}/weight"].T)
        s[f"mapping.fc{i}.bias"] = _t(p[f"mapping/Dense{i}/bias"])
    s["synthesis.b4.const"] = _t(p["synthesis/4x4/Const/const"][0])
    for r in channels:
        tf_layers = {"conv1": "4x4/Conv"} if r == 4 else {"conv0": f"{r}x{r}/Conv0_up", "conv1": f"{r}x{r}/Conv1"}
        for ours, tf in tf_layers.items():
            w = p[f"synthesis/{tf}/weight"]
            if ours == "conv0":
                w = w[::-1, ::-1]  # TF's upsampling conv is a transposed conv
            s[f"synthesis.b{r}.{ours}.weight"] = _tf_conv(w)
            s[f"synthesis.b{r}.{ours}.bias"] = _t(p[f"synthesis/{tf}/bias"])
            s[f"synthesis.b{r}.{ours}.affine.weight"] = _t(p[f"synthesis/{tf}/mod_weight"].T)
            s[f"synthesis.b{r}.{ours}.affine.bias"] = _t(p[f"synthesis/{tf}/mod_bias"] + 1)
            if f"synthesis/{tf}/noise_strength" in p:
                layer = 0 if r == 4 else int(math.log2(r)) * 2 - (5 if ours == "conv0" else 4)
                s[f"synthesis.b{r}.{ours}.noise_strength"] = _t(p[f"synthesis/{tf}/noise_strength"])
                s[f"synthesis.b{r}.{ours}.noise_const"] = _t(p[f"synthesis/noise{layer}"][0, 0])
        if f"synthesis/{r}x{r}/ToRGB/weight" in p:
            for k, tf in (("weight", "weight"), ("bias", "bias")):
                v = p[f"synthesis/{r}x{r}/ToRGB/{tf}"]
                s[f"synthesis.b{r}.torgb.{k}"] = _tf_conv(v) if k == "weight" else _t(v)
            s[f"synthesis.b{r}.torgb.affine.weight"] = _t(p[f"synthesis/{r}x{r}/ToRGB/mod_weight"].T)
            s[f"synthesis.b{r}.torgb.affine.bias"] = _t(p[f"synthesis/{r}x{r}/ToRGB/mod_bias"] + 1)
        if f"synthesis/{r}x{r}/Skip/weight" in p:
            s[f"synthesis.b{r}.skip.weight"] = _tf_conv(p[f"synthesis/{r}x{r}/Skip/weight"][::-1, ::-1])
    return _with_filters(NetworkFile("nvidia-tf-stylegan2", config, s, needs_w_avg="mapping.w_avg" not in s))


def _from_tf_stylegan1(G: TFNetwork, p: dict) -> NetworkFile:
    """NVIDIA's StyleGAN (2019) TF pickles (networks_stylegan.py). Their dense and conv layers carry
    the sqrt(2) gain in the weight and apply lrelu without one; ours apply the gain after lrelu, so
    the biases and noise weights that follow a dense or conv layer are divided by sqrt(2) (exact,
    lrelu being positively homogeneous). The 4x4 Const layer has no conv: NVIDIA computes
    lrelu(const + noise + bias) and instance-normalises it, which our layer's gain cannot change (the
    normalisation removes it), so its bias and noise weight are taken as they are."""
    kw = G.static_kwargs
    res_list = sorted({int(m.group(1)) for k in p if (m := re.match(r"synthesis/(\d+)x\1/", k))})
    res = res_list[-1]
    layers = sorted(int(m.group(1)) for k in p if (m := re.fullmatch(r"mapping/Dense(\d+)/weight", k)))
    channels = {r: p[f"synthesis/{r}x{r}/Conv1/weight" if r > 4 else "synthesis/4x4/Conv/weight"].shape[3]
                for r in res_list}
    base, cmax = _fit_channels(channels)
    torgb = {res // 2 ** int(m.group(1)): m.group(0).split("/")[1] for k in p
             if (m := re.fullmatch(r"synthesis/ToRGB_lod(\d+)/weight", k))}
    config = GeneratorConfig(
        arch="stylegan1", z_dim=p["mapping/Dense0/weight"].shape[0], w_dim=p[f"mapping/Dense{layers[-1]}/weight"].shape[1],
        img_resolution=res, img_channels=p[f"synthesis/{torgb[res]}/weight"].shape[3], mapping_layers=len(layers),
        mapping_lr_multiplier=float(kw.get("mapping_lrmul", 0.01)), channel_base=base, channel_max=cmax,
        use_noise="synthesis/4x4/Const/Noise/weight" in p)
    s = {}
    if "dlatent_avg" in p:
        s["mapping.w_avg"] = _t(p["dlatent_avg"])
    for i in layers:
        s[f"mapping.fc{i}.weight"] = _t(p[f"mapping/Dense{i}/weight"].T)
        s[f"mapping.fc{i}.bias"] = _t(p[f"mapping/Dense{i}/bias"] / SQRT2)
    s["synthesis.b4.const"] = _t(p["synthesis/4x4/Const/const"][0])
    noise = 0
    for r in res_list:
        tf_layers = {"input": "4x4/Const", "conv1": "4x4/Conv"} if r == 4 else \
            {"conv0": f"{r}x{r}/Conv0_up", "conv1": f"{r}x{r}/Conv1"}
        for ours, tf in tf_layers.items():
            prefix = f"synthesis.b{r}.{ours}"
            if ours != "input":
                s[prefix + ".weight"] = _tf_conv(p[f"synthesis/{tf}/weight"])
            gain = 1.0 if ours == "input" else SQRT2  # (see the docstring)
            s[prefix + ".bias"] = _t(p[f"synthesis/{tf}/bias"] / gain)
            style_w, style_b = p[f"synthesis/{tf}/StyleMod/weight"], p[f"synthesis/{tf}/StyleMod/bias"].copy()
            style_b[: len(style_b) // 2] += 1  # TF scales by (style + 1)
            s[prefix + ".affine.weight"] = _t(style_w.T)
            s[prefix + ".affine.bias"] = _t(style_b)
            if config.use_noise:
                s[prefix + ".noise_strength"] = _t(p[f"synthesis/{tf}/Noise/weight"] / gain)
                s[prefix + ".noise_const"] = _t(p[f"synthesis/noise{noise}"][0, 0])
            noise += 1
        s[f"synthesis.b{r}.torgb.weight"] = _tf_conv(p[f"synthesis/{torgb[r]}/weight"])
        s[f"synthesis.b{r}.torgb.bias"] = _t(p[f"synthesis/{torgb[r]}/bias"])
    s["synthesis.stage_resolution"] = torch.tensor(res, dtype=torch.int64)
    s["synthesis.stage_alpha"] = torch.tensor(1.0)
    return _with_filters(NetworkFile("nvidia-tf-stylegan1", config, s, needs_w_avg="mapping.w_avg" not in s))


def _from_tf(data: tuple, path: Path) -> dict:
    G_tf, D_tf, Gs = data
    f = from_nvidia_tf(Gs)
    g_ema = _generator_state(f, path)
    G = _generator_state(from_nvidia_tf(G_tf), path)
    return _pack(f, path, g_ema, G, from_tf_discriminator(D_tf))


def from_tf_discriminator(D: TFNetwork) -> tuple[DiscriminatorConfig, dict]:
    """NVIDIA's TensorFlow StyleGAN2 discriminator -> (our config, our state), with the names and
    transposes of NVIDIA's legacy.py: {r}x{r}/FromRGB, Conv0, Conv1_down, Skip; 4x4/Conv, 4x4/Dense0,
    Output; LabelEmbed and Mapping{i} for conditional ones."""
    p = _tf_params(D)
    kw = D.static_kwargs
    res = sorted({int(m.group(1)) for k in p if (m := re.match(r"(\d+)x\1/", k))}, reverse=True)
    if not res or "Output/weight" not in p or "4x4/Conv/weight" not in p:
        raise CheckpointError("its discriminator is not a StyleGAN2 TensorFlow discriminator")
    top = res[0]
    s, channels = {}, {}
    for r in res:
        if f"{r}x{r}/FromRGB/weight" in p:
            s[f"b{r}.fromrgb.weight"] = _tf_conv(p[f"{r}x{r}/FromRGB/weight"])
            s[f"b{r}.fromrgb.bias"] = _t(p[f"{r}x{r}/FromRGB/bias"])
        if r == 4:
            continue
        for i, tf in ((0, "Conv0"), (1, "Conv1_down")):
            s[f"b{r}.conv{i}.weight"] = _tf_conv(p[f"{r}x{r}/{tf}/weight"])
            s[f"b{r}.conv{i}.bias"] = _t(p[f"{r}x{r}/{tf}/bias"])
        if f"{r}x{r}/Skip/weight" in p:
            s[f"b{r}.skip.weight"] = _tf_conv(p[f"{r}x{r}/Skip/weight"])
        channels[r] = s[f"b{r}.conv0.weight"].shape[0]
    channels[4] = p["4x4/Conv/weight"].shape[3]
    s["b4.conv.weight"] = _tf_conv(p["4x4/Conv/weight"])
    s["b4.conv.bias"] = _t(p["4x4/Conv/bias"])
    s["b4.fc.weight"] = _t(p["4x4/Dense0/weight"].T)
    s["b4.fc.bias"] = _t(p["4x4/Dense0/bias"])
    s["b4.out.weight"] = _t(p["Output/weight"].T)
    s["b4.out.bias"] = _t(p["Output/bias"])
    c_dim = int(kw.get("label_size") or 0)
    if c_dim:
        s["mapping.embed.weight"] = _t(p["LabelEmbed/weight"].T)
        s["mapping.embed.bias"] = _t(p["LabelEmbed/bias"])
        for k in sorted(k for k in p if re.fullmatch(r"Mapping\d+/weight", k)):
            i = int(k[7:-7])
            s[f"mapping.fc{i}.weight"] = _t(p[f"Mapping{i}/weight"].T)
            s[f"mapping.fc{i}.bias"] = _t(p[f"Mapping{i}/bias"])
    base, cmax = _fit_channels(channels)
    arch = kw.get("architecture") or ("resnet" if any(k.endswith("/Skip/weight") for k in p) else
                                      "skip" if "4x4/FromRGB/weight" in p else "orig")
    mbstd = kw.get("mbstd_group_size", 4)
    config = DiscriminatorConfig(c_dim=c_dim, img_resolution=top, img_channels=s[f"b{top}.fromrgb.weight"].shape[1],
                                 architecture=arch, channel_base=base, channel_max=cmax,
                                 cmap_dim=s["b4.out.weight"].shape[0] if c_dim else None,
                                 mbstd_group_size=int(mbstd) if mbstd else None,
                                 mbstd_num_channels=int(kw.get("mbstd_num_features", 1)),
                                 resample_filter=list(kw.get("resample_kernel") or [1, 3, 3, 1]))
    for k, v in build_discriminator(config).state_dict().items():  # the constant FIR buffers
        if k.endswith("resample_filter"):
            s[k] = v
    return config, s
