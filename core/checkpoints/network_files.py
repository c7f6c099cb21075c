"""Whole networks — G, G_ema, D and ADA's p — from every file format, for `stylegan-train --init`
(transfer learning, NVIDIA's `--resume=PKL`) and `stylegan-convert --to networks`.

    ours                a snapshot (G, D, ADA p), a networks file, or a generator-only file
    nvidia-pytorch      stylegan2-ada-pytorch / stylegan3 (--cfg=stylegan2) network pickles:
                        G, D, G_ema and augment_pipe's p
    nvidia-tf           StyleGAN2 TensorFlow pickles (G, D, Gs), e.g. NVIDIA's published FFHQ model:
                        G, D and Gs, as NVIDIA's legacy.py converts them
    rosinality          train.py checkpoints: g, d, g_ema (and latent_avg)
    any other --pkl     (StyleGAN1 TensorFlow pickles, NVIDIA .npz): the generator; D starts from scratch

Everything goes through the same safe readers as `--pkl` (core/formats.py, core/safe_unpickle.py).
The result has the shape of our own networks file (checkpoint.read_checkpoint), so the training
loop takes one kind of input.
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import torch

from core.checkpoints.ours import FORMAT, VERSION, CheckpointError, build_discriminator, build_generator, estimate_w_avg, read_checkpoint
from core.networks.config import DiscriminatorConfig
from core.checkpoints.formats import (NetworkFile, _fit_channels, _module_state, _read_data, _tf_conv, _tf_params, _t,
                      from_nvidia_pytorch, from_nvidia_tf, from_rosinality, read_network)
from core.checkpoints.nvidia_kwargs import discriminator_config_from_nvidia
from core.checkpoints.safe_unpickle import PersistentObject, TFNetwork, UnsafeFileError


def read_networks(path: str | Path) -> dict:
    """-> {"format", "version", "G_config", "G_ema", optional "D_config" and "networks": {"G", "D",
    "ada_p"}, "meta": {"source_format", "notes"}} (tensors on the CPU). Raises CheckpointError."""
    path = Path(path)
    try:
        return read_checkpoint(path)  # ours: snapshots, networks files, generator-only files
    except CheckpointError:
        if not path.is_file() or path.stat().st_size == 0:
            raise  # (no such file, a folder, an empty file: said as for our own format)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = _read_data(path)
    except CheckpointError:
        raise
    except UnsafeFileError as exc:
        raise CheckpointError(f"{path}: {exc} (nothing from the file was run)") from None
    except Exception as exc:
        raise CheckpointError(f"{path}: cannot read ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})") from None
    try:
        if isinstance(data, dict) and isinstance(data.get("G_ema"), PersistentObject):
            return _from_nvidia_pytorch(data, path)
        if isinstance(data, dict) and ("g_ema" in data or "g" in data):
            return _from_rosinality(data, path)
        if isinstance(data, tuple) and len(data) == 3 and all(isinstance(n, TFNetwork) for n in data) \
                and not any(k.endswith("/StyleMod/weight") for k, _ in data[2].variables):  # (not StyleGAN1)
            return _from_tf(data, path)
    except CheckpointError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise CheckpointError(f"{path}: {exc}") from None
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise CheckpointError(f"{path}: not a network this toolkit understands ({str(exc)[:120]})") from None
    f = read_network(path)  # a generator-only format
    return _pack(f, path, G_ema=_generator_state(f, path), notes=f.notes + ["the file holds no discriminator that "
                                                                             "this toolkit reads: D starts from scratch"])


def _generator_state(f: NetworkFile, path: Path) -> dict:
    """The file's generator state with every buffer filled in (w_avg estimated when missing)."""
    G = build_generator(f.config, f.state, str(path))
    if f.needs_w_avg:
        with torch.no_grad():
            G.mapping.w_avg.copy_(estimate_w_avg(G))
        f.notes.append("the file has no W average: computed it from 10,000 samples")
    return {k: v.detach().clone() for k, v in G.state_dict().items()}


def _pack(f: NetworkFile, path: Path, G_ema: dict, G: dict | None = None, D: tuple | None = None,
          ada_p: float | None = None, notes: list | None = None) -> dict:
    out = {"format": FORMAT, "version": VERSION, "G_config": f.config.to_dict(), "G_ema": G_ema,
           "meta": {"source_format": f.kind, "converted_from": path.name, "notes": list(notes or f.notes)}}
    if D is not None:
        d_config, d_state = D
        g_cfg = f.config
        if (d_config.img_resolution, d_config.img_channels, d_config.c_dim) != \
                (g_cfg.img_resolution, g_cfg.img_channels, g_cfg.c_dim):
            raise CheckpointError(f"its D takes {d_config.img_resolution}x{d_config.img_resolution}x"
                                  f"{d_config.img_channels} images (labels {d_config.c_dim}), its G makes "
                                  f"{g_cfg.img_resolution}x{g_cfg.img_resolution}x{g_cfg.img_channels} (labels {g_cfg.c_dim})")
        D_net = build_discriminator(d_config, d_state, f"{path} (discriminator)")  # every shape checked
        out["D_config"] = d_config.to_dict()
        out["networks"] = {"G": G if G is not None else G_ema,
                           "D": {k: v.detach().clone() for k, v in D_net.state_dict().items()}}
        if ada_p is not None:
            out["networks"]["ada_p"] = float(ada_p)
    return out


# ----------------------------------------------------------------------- NVIDIA PyTorch ---

def _from_nvidia_pytorch(data: dict, path: Path) -> dict:
    f = from_nvidia_pytorch(data["G_ema"])
    g_ema = _generator_state(f, path)
    G = None
    if isinstance(data.get("G"), PersistentObject):
        fg = from_nvidia_pytorch(data["G"])
        if fg.config != f.config:
            raise CheckpointError("its G and G_ema are built differently")
        G = _generator_state(fg, path)
    D = None
    if isinstance(data.get("D"), PersistentObject):
        kwargs = dict(data["D"].state.get("_init_kwargs") or {})
        kwargs.pop("class_name", None)
        d_state = _module_state(data["D"])
        try:
            d_config = discriminator_config_from_nvidia(kwargs) if "img_resolution" in kwargs \
                else infer_discriminator_config(d_state)
        except ValueError as exc:
            raise CheckpointError(f"its discriminator: {exc}") from None
        D = (d_config, d_state)
    p = None
    pipe = data.get("augment_pipe")
    if isinstance(pipe, PersistentObject):
        buffers = pipe.state.get("_buffers") or {}
        if buffers.get("p") is not None:
            p = float(torch.as_tensor(buffers["p"]).reshape(-1)[0])
    return _pack(f, path, g_ema, G, D, p)


def infer_discriminator_config(state: dict) -> DiscriminatorConfig:
    """A StyleGAN2 discriminator's config from NVIDIA-named tensors."""
    res = sorted({int(m.group(1)) for k in state if (m := re.match(r"b(\d+)\.", k))}, reverse=True)
    top = res[0]
    channels = {r: state[f"b{r}.conv0.weight"].shape[0] for r in res if r > 4}
    channels[4] = state["b4.conv.weight"].shape[0]
    base, cmax = _fit_channels(channels)
    arch = "resnet" if any(k.endswith(".skip.weight") for k in state) else \
        ("skip" if any(k.startswith("b4.fromrgb") for k in state) else "orig")
    return DiscriminatorConfig(c_dim=state["mapping.embed.weight"].shape[1] if "mapping.embed.weight" in state else 0,
                               img_resolution=top, img_channels=state[f"b{top}.fromrgb.weight"].shape[1],
                               architecture=arch, channel_base=base, channel_max=cmax)


# --------------------------------------------------------------------------- rosinality ---

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


# ------------------------------------------------------------------------ NVIDIA TensorFlow ---

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
