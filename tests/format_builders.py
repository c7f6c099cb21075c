"""Write foreign network files in the exact on-disk structure of the real ones (class paths, state
layout, tensor names), from our own networks' weights: NVIDIA's PyTorch pickles (persistence
objects), NVIDIA's TensorFlow pickles (StyleGAN1 and 2), rosinality's checkpoints.

The pickles name the real globals (torch_utils.persistence._reconstruct_persistent_obj,
dnnlib.tflib.network.Network, ...): stand-in modules are registered under those names only while
a file is written.
"""

from __future__ import annotations

import argparse
import io
import math
import pickle
import re
import sys
import types
import warnings
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np
import torch

from core.checkpoints.nvidia_kwargs import generator_config_to_nvidia

SQRT2 = math.sqrt(2)


@contextmanager
def fake_modules(**modules):
    """Register stand-in modules (name -> {attr: value}) for pickling, then remove them."""
    added = []
    for name, attrs in modules.items():
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            sub = ".".join(parts[:i])
            if sub not in sys.modules:
                sys.modules[sub] = types.ModuleType(sub)
                added.append(sub)
        for attr, value in attrs.items():
            if hasattr(value, "__module__"):
                try:
                    value.__module__ = name
                    value.__qualname__ = attr
                except (AttributeError, TypeError):
                    pass
            setattr(sys.modules[name], attr, value)
    try:
        yield
    finally:
        for sub in reversed(added):
            sys.modules.pop(sub, None)


# --------------------------------------------------------------------- NVIDIA PyTorch pickles ---

def _reconstruct_persistent_obj(meta):  # the global the pickles name; never called by our loader
    raise RuntimeError("stand-in")


class _Storage:
    """A tensor storage as old torch pickled it: torch.storage._load_from_bytes(torch.save(...))."""

    def __init__(self, tensor: torch.Tensor):
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TypedStorage is deprecated, and what old files hold
            torch.save(tensor.detach().contiguous().storage(), buf, _use_new_zipfile_serialization=False)
        self.data = buf.getvalue()

    def __reduce__(self):
        return torch.storage._load_from_bytes, (self.data,)


class _Tensor:
    def __init__(self, t: torch.Tensor):
        self.t = t.detach().contiguous().float()

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, (_Storage(self.t), 0, tuple(self.t.shape), tuple(self.t.stride()),
                                                  False, OrderedDict())


class _Parameter(_Tensor):
    def __reduce__(self):
        return torch._utils._rebuild_parameter, (_Tensor(self.t), True, OrderedDict())


class _Persistent:
    def __init__(self, meta):
        self.meta = meta

    def __reduce__(self):
        return sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (self.meta,)


def _persistent_module(module: torch.nn.Module, class_name: str, module_src: str, init_kwargs: dict | None = None):
    params = OrderedDict((k, _Parameter(v) if v is not None else None) for k, v in module._parameters.items())
    buffers = OrderedDict((k, _Tensor(v) if v is not None else None) for k, v in module._buffers.items())
    children = OrderedDict((k, _persistent_module(c, type(c).__name__, module_src)) for k, c in module._modules.items())
    state = {"training": False, "_parameters": params, "_buffers": buffers,
             "_non_persistent_buffers_set": set(module._non_persistent_buffers_set), "_modules": children,
             "_backward_hooks": OrderedDict(), "_forward_hooks": OrderedDict(), "_forward_pre_hooks": OrderedDict(),
             "_state_dict_hooks": OrderedDict(), "_load_state_dict_pre_hooks": OrderedDict(),
             "_init_args": (), "_init_kwargs": init_kwargs or {}}
    return _Persistent({"type": "class", "version": 4, "module_src": module_src, "class_name": class_name,
                        "state": state})


NVIDIA_SRC = "# training/networks.py (stored by torch_utils.persistence; must never be executed)\nimport torch\n"


def discriminator_kwargs(cfg) -> dict:
    """training.networks.Discriminator(**kwargs) of stylegan2-ada-pytorch for our D config."""
    return {"c_dim": cfg.c_dim, "img_resolution": cfg.img_resolution, "img_channels": cfg.img_channels,
            "architecture": cfg.architecture, "channel_base": cfg.channel_base, "channel_max": cfg.channel_max,
            "num_fp16_res": cfg.num_fp16_res, "conv_clamp": cfg.conv_clamp, "cmap_dim": cfg.cmap_dim,
            "block_kwargs": {}, "mapping_kwargs": {}, "epilogue_kwargs": {"mbstd_group_size": cfg.mbstd_group_size}}


def write_nvidia_pkl(G, path, module_src: str = NVIDIA_SRC, stylegan3: bool = False, D=None, G_train=None,
                     ada_p: float | None = None, kwargs: dict | None = None) -> None:
    """stylegan2-ada-pytorch network-snapshot-*.pkl: {'G', 'D', 'G_ema', 'augment_pipe', 'training_set_kwargs'}
    (G is G_ema unless G_train is given; D and augment_pipe only when given; kwargs: the stored
    constructor kwargs, by default stylegan2-ada-pytorch's for G's config)."""
    kwargs = kwargs if kwargs is not None else generator_config_to_nvidia(G.config)
    g = _persistent_module(G, "Generator", module_src, kwargs)
    g_train = _persistent_module(G_train, "Generator", module_src, kwargs) if G_train is not None else g
    d = _persistent_module(D, "Discriminator", module_src, discriminator_kwargs(D.config)) if D is not None else None
    pipe = None
    if ada_p is not None:
        holder = torch.nn.Module()
        holder.register_buffer("p", torch.tensor(float(ada_p)))
        pipe = _persistent_module(holder, "AugmentPipe", module_src, {"xflip": 1, "rotate90": 1})
    if stylegan3:  # a synthesis.input layer with Fourier features marks StyleGAN3 networks
        syn = g.meta["state"]["_modules"]["synthesis"].meta["state"]["_modules"]
        syn["input"] = _persistent_module(torch.nn.Module(), "SynthesisInput", module_src)
        syn["input"].meta["state"]["_buffers"]["freqs"] = _Tensor(torch.randn(4, 2))
    with fake_modules(**{"torch_utils.persistence": {"_reconstruct_persistent_obj": _reconstruct_persistent_obj},
                         "dnnlib": {"EasyDict": type("EasyDict", (dict,), {})}}):
        easy = sys.modules["dnnlib"].EasyDict(class_name="training.dataset.ImageFolderDataset", path="data.zip")
        data = {"G": g_train, "D": d, "G_ema": g, "augment_pipe": pipe, "training_set_kwargs": easy}
        with open(path, "wb") as f:
            pickle.dump(data, f)


# ------------------------------------------------------------------------- NVIDIA TF pickles ---

class _Network:
    """Stand-in for dnnlib.tflib.network.Network: pickles its state dict as the real one does."""

    def __init__(self, state):
        self._state = state

    def __getstate__(self):
        return self._state


def _tf_net(name: str, variables: dict, components=None, static_kwargs=None, version: int = 4,
            func: str = "G_main", src: str = "# networks_stylegan2.py\n"):
    return _Network({"version": version, "name": name, "static_kwargs": dict(static_kwargs or {}),
                     "components": dict(components or {}), "build_module_src": src, "build_func_name": func,
                     "variables": [(k, np.asarray(v, np.float32)) for k, v in variables.items()]})


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def _conv_tf(w: torch.Tensor) -> np.ndarray:  # ours [out, in, kh, kw] -> TF [kh, kw, in, out]
    return _np(w).transpose(2, 3, 1, 0)


def _write_tf(path, Gs, version: int, d=None) -> None:
    with fake_modules(**{"dnnlib.tflib.network": {"Network": _Network}}):
        d = d or _tf_net("D", {"4x4/Dense0/weight": np.zeros((1, 1))}, version=version, func="D_main")
        with open(path, "wb") as f:
            pickle.dump((Gs, d, Gs), f, protocol=pickle.HIGHEST_PROTOCOL)


def tf_stylegan2_discriminator(D):
    """Our (unconditional) StyleGAN2 D as NVIDIA's TF D network: the names and layouts that NVIDIA's
    legacy.py converts from ({r}x{r}/FromRGB, Conv0, Conv1_down, Skip; 4x4/Conv, 4x4/Dense0, Output)."""
    cfg, s = D.config, D.state_dict()
    v = {}
    for k, t in s.items():
        m = re.fullmatch(r"b(\d+)\.(fromrgb|conv0|conv1|skip)\.(weight|bias)", k)
        if m:
            r, layer, kind = m.groups()
            tf = {"fromrgb": "FromRGB", "conv0": "Conv0", "conv1": "Conv1_down", "skip": "Skip"}[layer]
            v[f"{r}x{r}/{tf}/{kind}"] = _conv_tf(t) if kind == "weight" else _np(t)
    v["4x4/Conv/weight"], v["4x4/Conv/bias"] = _conv_tf(s["b4.conv.weight"]), _np(s["b4.conv.bias"])
    v["4x4/Dense0/weight"], v["4x4/Dense0/bias"] = _np(s["b4.fc.weight"]).T, _np(s["b4.fc.bias"])
    v["Output/weight"], v["Output/bias"] = _np(s["b4.out.weight"]).T, _np(s["b4.out.bias"])
    kwargs = {"num_channels": cfg.img_channels, "resolution": cfg.img_resolution, "label_size": 0,
              "fmap_base": cfg.channel_base // 2, "fmap_max": cfg.channel_max, "architecture": cfg.architecture,
              "mbstd_group_size": cfg.mbstd_group_size, "mbstd_num_features": cfg.mbstd_num_channels}
    return _tf_net("D", v, static_kwargs=kwargs, func="D_stylegan2")


def write_tf_stylegan2_pkl(G, path, D=None) -> None:
    cfg, s = G.config, G.state_dict()
    mapping = {}
    for i in range(cfg.mapping_layers):
        mapping[f"Dense{i}/weight"] = _np(s[f"mapping.fc{i}.weight"]).T
        mapping[f"Dense{i}/bias"] = _np(s[f"mapping.fc{i}.bias"])
    syn = {"4x4/Const/const": _np(s["synthesis.b4.const"])[None]}
    res = [2 ** i for i in range(2, int(math.log2(cfg.img_resolution)) + 1)]
    for r in res:
        layers = {"conv1": "4x4/Conv"} if r == 4 else {"conv0": f"{r}x{r}/Conv0_up", "conv1": f"{r}x{r}/Conv1"}
        for ours, tf in layers.items():
            w = _conv_tf(s[f"synthesis.b{r}.{ours}.weight"])
            syn[f"{tf}/weight"] = w[::-1, ::-1] if ours == "conv0" else w
            syn[f"{tf}/bias"] = _np(s[f"synthesis.b{r}.{ours}.bias"])
            syn[f"{tf}/mod_weight"] = _np(s[f"synthesis.b{r}.{ours}.affine.weight"]).T
            syn[f"{tf}/mod_bias"] = _np(s[f"synthesis.b{r}.{ours}.affine.bias"]) - 1
            syn[f"{tf}/noise_strength"] = _np(s[f"synthesis.b{r}.{ours}.noise_strength"])
            layer = 0 if r == 4 else int(math.log2(r)) * 2 - (5 if ours == "conv0" else 4)
            syn[f"noise{layer}"] = _np(s[f"synthesis.b{r}.{ours}.noise_const"])[None, None]
        if f"synthesis.b{r}.torgb.weight" in s:
            name = f"{r}x{r}/ToRGB" if cfg.architecture != "orig" else f"ToRGB_lod{int(math.log2(cfg.img_resolution // r))}"
            syn[f"{name}/weight"] = _conv_tf(s[f"synthesis.b{r}.torgb.weight"])
            syn[f"{name}/bias"] = _np(s[f"synthesis.b{r}.torgb.bias"])
            syn[f"{name}/mod_weight"] = _np(s[f"synthesis.b{r}.torgb.affine.weight"]).T
            syn[f"{name}/mod_bias"] = _np(s[f"synthesis.b{r}.torgb.affine.bias"]) - 1
        if f"synthesis.b{r}.skip.weight" in s:
            syn[f"{r}x{r}/Skip/weight"] = _conv_tf(s[f"synthesis.b{r}.skip.weight"])[::-1, ::-1]
    kwargs = {"latent_size": cfg.z_dim, "dlatent_size": cfg.w_dim, "label_size": 0, "resolution": cfg.img_resolution,
              "num_channels": cfg.img_channels, "mapping_layers": cfg.mapping_layers, "fmap_base": cfg.channel_base // 2,
              "fmap_max": cfg.channel_max, "architecture": cfg.architecture}
    Gs = _tf_net("G", {"dlatent_avg": _np(s["mapping.w_avg"]), "lod": np.zeros(())},
                 {"mapping": _tf_net("G_mapping", mapping, func="G_mapping"),
                  "synthesis": _tf_net("G_synthesis", syn, func="G_synthesis_stylegan2")}, kwargs)
    _write_tf(path, Gs, version=4, d=tf_stylegan2_discriminator(D) if D is not None else None)


def write_tf_stylegan1_pkl(G, path) -> None:
    """NVIDIA's StyleGAN (2019) TF pickle (version 3), the inverse of our conversion: sqrt(2) goes
    back into the biases and noise weights that follow a dense or conv layer (not the 4x4 Const
    layer's), the style's scale bias loses its +1."""
    cfg, s = G.config, G.state_dict()
    mapping = {}
    for i in range(cfg.mapping_layers):
        mapping[f"Dense{i}/weight"] = _np(s[f"mapping.fc{i}.weight"]).T
        mapping[f"Dense{i}/bias"] = _np(s[f"mapping.fc{i}.bias"]) * SQRT2
    syn = {"4x4/Const/const": _np(s["synthesis.b4.const"])[None], "lod": np.zeros(())}
    res = [2 ** i for i in range(2, int(math.log2(cfg.img_resolution)) + 1)]
    noise = 0
    for r in res:
        layers = {"input": "4x4/Const", "conv1": "4x4/Conv"} if r == 4 else \
            {"conv0": f"{r}x{r}/Conv0_up", "conv1": f"{r}x{r}/Conv1"}
        for ours, tf in layers.items():
            p = f"synthesis.b{r}.{ours}"
            if ours != "input":
                syn[f"{tf}/weight"] = _conv_tf(s[p + ".weight"])
            gain = 1.0 if ours == "input" else SQRT2
            syn[f"{tf}/bias"] = _np(s[p + ".bias"]) * gain
            syn[f"{tf}/Noise/weight"] = _np(s[p + ".noise_strength"]) * gain
            style_b = _np(s[p + ".affine.bias"]).copy()
            style_b[: len(style_b) // 2] -= 1
            syn[f"{tf}/StyleMod/weight"] = _np(s[p + ".affine.weight"]).T
            syn[f"{tf}/StyleMod/bias"] = style_b
            syn[f"noise{noise}"] = _np(s[p + ".noise_const"])[None, None]
            noise += 1
        lod = int(math.log2(cfg.img_resolution // r))
        syn[f"ToRGB_lod{lod}/weight"] = _conv_tf(s[f"synthesis.b{r}.torgb.weight"])
        syn[f"ToRGB_lod{lod}/bias"] = _np(s[f"synthesis.b{r}.torgb.bias"])
    kwargs = {"num_channels": cfg.img_channels, "resolution": cfg.img_resolution, "structure": "linear"}
    Gs = _tf_net("G", {"dlatent_avg": _np(s["mapping.w_avg"])},
                 {"mapping": _tf_net("G_mapping", mapping, version=3, func="G_mapping", src="# networks_stylegan.py\n"),
                  "synthesis": _tf_net("G_synthesis", syn, version=3, func="G_synthesis", src="# networks_stylegan.py\n")},
                 kwargs, version=3, func="G_style", src="# networks_stylegan.py\n")
    _write_tf(path, Gs, version=3)


# ---------------------------------------------------------------------------- rosinality ---

def write_rosinality_pt(G, path, with_latent_avg: bool = True) -> None:
    from core.checkpoints.rosinality import rosinality_state
    data = rosinality_state(G)  # (the naming alone: these tests also use layouts rosinality's table lacks)
    args = argparse.Namespace(size=G.img_resolution, n_mlp=G.config.mapping_layers, latent=G.w_dim,
                              channel_multiplier=2, iter=800000)
    out = {"g_ema": data["g_ema"], "g": data["g_ema"], "d": {}, "args": args}
    if with_latent_avg:
        out["latent_avg"] = data["latent_avg"]
    torch.save(out, path)
