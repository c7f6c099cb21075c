"""NVIDIA's PyTorch network pickles (stylegan2-ada-pytorch; stylegan3: -T, -R and --cfg=stylegan2):
the generator (from_nvidia_pytorch) and, for --init, whole networks (G, D, G_ema, augment_pipe's p).
Read through core/checkpoints/safe_unpickle.py: no code from the pickle runs; the init kwargs it
stores are checked against the tensors' shapes.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
import torch

from core.errors import first_line
from core.errors import CheckpointError
from core.networks.config import GeneratorConfig
from core.checkpoints.nvidia_kwargs import generator_config_from_nvidia, stylegan3_config_from_nvidia
from core.networks.generator import Generator
from core.checkpoints.safe_unpickle import PersistentObject
from core.networks.config import DiscriminatorConfig
from core.checkpoints.network_file import NetworkFile, _fit_channels
from core.checkpoints.nvidia_kwargs import discriminator_config_from_nvidia
from core.checkpoints.network_file import _generator_state, _pack


def _module_state(obj, prefix: str = "") -> dict:
    """Parameters and persistent buffers of a pickled nn.Module tree under dotted names."""
    state = obj.state if isinstance(obj, PersistentObject) else getattr(obj, "__dict__", {})
    out = {}
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for kind in ("_parameters", "_buffers"):
        for name, value in (state.get(kind) or {}).items():
            if value is not None and name not in skip:
                out[prefix + name] = torch.as_tensor(value).detach().clone()
    for name, child in (state.get("_modules") or {}).items():
        if child is not None:
            out.update(_module_state(child, f"{prefix}{name}."))
    return out


def from_nvidia_pytorch(G: PersistentObject) -> NetworkFile:
    state = _module_state(G)
    kwargs = dict(G.state.get("_init_kwargs") or {})
    kwargs.pop("class_name", None)
    if any(k.startswith("synthesis.input.") for k in state) or "SynthesisInput" in G.module_src:
        return _from_stylegan3(state, kwargs)
    inferred = infer_demod_config(state)
    if "z_dim" not in kwargs:
        return NetworkFile("nvidia-pytorch", inferred, state)
    try:
        config = generator_config_from_nvidia(kwargs)
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"its stored settings are unreadable ({first_line(exc)})") from None
    check_against_tensors(config, inferred)
    return NetworkFile("nvidia-pytorch", config, state)


def _from_stylegan3(state: dict, kwargs: dict) -> NetworkFile:
    """StyleGAN3 (-T/-R, training/networks_stylegan3.py): its stored init kwargs give the config
    (the layer schedule cannot be read off the tensors alone); every tensor must then have the name
    and shape our network gives it."""
    if "z_dim" not in kwargs:
        raise CheckpointError("a StyleGAN3 network without its stored settings (init kwargs): cannot rebuild it")
    try:
        config = stylegan3_config_from_nvidia(kwargs)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"its stored settings are unreadable ({first_line(exc)})") from None
    ours = {k: v.shape for k, v in Generator(config).state_dict().items()}
    wrong = sorted(k for k in set(ours) | set(state) if k not in state or k not in ours or ours[k] != state[k].shape)
    if wrong:
        k = wrong[0]
        have = list(state[k].shape) if k in state else "missing"
        need = list(ours[k]) if k in ours else "not in the network"
        raise CheckpointError(f"its stored settings do not fit its weights: {k} is {have}, the settings give {need}"
                              + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""))
    return NetworkFile("nvidia-pytorch-stylegan3", config, state)


def check_against_tensors(stored: GeneratorConfig, inferred: GeneratorConfig) -> None:
    """Every stored setting that the tensors determine must agree with them (one CheckpointError
    naming the first disagreements): sizes, layers, architecture, the channels at each resolution."""
    wrong = [f"{name} {getattr(stored, name)!r} (its tensors: {getattr(inferred, name)!r})"
             for name in ("z_dim", "w_dim", "c_dim", "img_resolution", "img_channels", "mapping_layers",
                          "architecture", "use_noise")
             if getattr(stored, name) != getattr(inferred, name)]
    for res in (2 ** i for i in range(2, int(math.log2(inferred.img_resolution)) + 1)):
        if stored.channels(res) != inferred.channels(res):
            wrong.append(f"channel_base {stored.channel_base} / channel_max {stored.channel_max}, which give "
                         f"{stored.channels(res)} channels at {res}x{res} (its tensors: {inferred.channels(res)})")
            break
    if wrong:
        raise CheckpointError(f"its stored settings do not fit its weights: {'; '.join(wrong[:3])}")


def infer_demod_config(state: dict) -> GeneratorConfig:
    """A StyleGAN2 generator's config from NVIDIA-named tensors."""
    fcs = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"mapping\.fc(\d+)\.weight", k)))
    res = sorted({int(m.group(1)) for k in state if (m := re.match(r"synthesis\.b(\d+)\.", k))})
    if not fcs or not res:
        raise CheckpointError("cannot infer the architecture: no mapping.fc*/synthesis.b* tensors")
    c_dim = state["mapping.embed.weight"].shape[1] if "mapping.embed.weight" in state else 0
    embed = state["mapping.embed.weight"].shape[0] if c_dim else 0
    channels = {r: state[f"synthesis.b{r}.conv1.weight"].shape[0] for r in res}
    base, cmax = _fit_channels(channels)
    has_skip = any(k.endswith(".skip.weight") for k in state if k.startswith("synthesis."))
    torgbs = [r for r in res if f"synthesis.b{r}.torgb.weight" in state]
    arch = "resnet" if has_skip else ("skip" if len(torgbs) == len(res) else "orig")
    last = res[-1]
    return GeneratorConfig(
        arch="stylegan2", z_dim=state["mapping.fc0.weight"].shape[1] - embed,
        w_dim=state[f"mapping.fc{fcs[-1]}.weight"].shape[0], c_dim=c_dim, img_resolution=last,
        img_channels=state[f"synthesis.b{last}.torgb.weight"].shape[0], mapping_layers=len(fcs),
        mapping_embed_features=embed or None, channel_base=base, channel_max=cmax, architecture=arch,
        use_noise=f"synthesis.b{last}.conv1.noise_strength" in state)


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
