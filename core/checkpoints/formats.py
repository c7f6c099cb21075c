"""Every StyleGAN generator file people have, read safely and mapped onto our networks.

    ours                  .pt, {"format": "stylegan-toolkit", ...} (torch.load weights_only)
    nvidia-npz            NVIDIA-named state dict + config_json (.npz)
    nvidia-pytorch        stylegan2-ada-pytorch / stylegan3 network pickle (.pkl; StyleGAN3 refused)
    nvidia-tf-stylegan2   TensorFlow pickle (G, D, Gs) of NVIDIA's stylegan2 / stylegan2-ada
    nvidia-tf-stylegan1   TensorFlow pickle (G, D, Gs) of NVIDIA's stylegan (version 3 pickles)
    rosinality            rosinality/stylegan2-pytorch checkpoint (.pt with g_ema)

Pickles go through core.checkpoints.safe_unpickle (an allowlist; no code from the file ever runs). Where a file
does not state the architecture, it is inferred from the tensors' names and shapes.
"""

from __future__ import annotations

import math
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.checkpoints.ours import CheckpointError, read_checkpoint
from core.networks.config import GeneratorConfig
from core.checkpoints.nvidia_kwargs import generator_config_from_nvidia
from core.checkpoints.safe_unpickle import PersistentObject, TFNetwork, UnsafeFileError, load_pickle, load_torch

SQRT2 = math.sqrt(2)


@dataclass
class NetworkFile:
    kind: str
    config: GeneratorConfig
    state: dict  # our parameter names -> tensors (w_avg may be missing: see needs_w_avg)
    notes: list[str] = field(default_factory=list)
    needs_w_avg: bool = False


# ----------------------------------------------------------------------------------- reading ---

def read_network(path: str | Path) -> NetworkFile:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a network file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _read(path)
    except CheckpointError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise CheckpointError(f"{path}: {exc}") from None
    except UnsafeFileError as exc:
        raise CheckpointError(f"{path}: {exc} (nothing from the file was run)") from None
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise CheckpointError(f"{path}: not a network this toolkit understands ({_first_line(exc)})") from None
    except Exception as exc:  # unpickling arbitrary bytes can raise almost anything
        raise CheckpointError(f"{path}: cannot read ({_first_line(exc)}; truncated or not a network file?)") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]


def _read(path: Path) -> NetworkFile:
    if _is_npz(path):
        from core.checkpoints.nvidia_npz import read_nvidia_npz
        from core.checkpoints.safe_unpickle import check_zip
        check_zip(path)
        config, state = read_nvidia_npz(path, expect="generator")
        return NetworkFile("nvidia-npz", config, state)
    return _from_data(path, _read_data(path))


def _is_npz(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    return any(n.endswith(".npy") for n in names) and not any(n.endswith("data.pkl") for n in names)


def _read_data(path: Path):
    """The unpickled contents of a torch file or a pickle (through the allowlist); None for an .npz."""
    with open(path, "rb") as f:
        head = f.read(8)
    if zipfile.is_zipfile(path):
        return None if _is_npz(path) else _torch_zip(path)
    if head[:4] == b"PK\x03\x04":
        raise CheckpointError(f"{path}: truncated or corrupt (a zip archive without its directory)")
    if head[:1] == b"\x80":
        return _plain_or_legacy_pickle(path)
    raise CheckpointError(f"{path}: not a network file (neither a pickle nor a zip archive)")


def _torch_zip(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return load_torch(path)  # e.g. rosinality's argparse.Namespace, through the allowlist


def _plain_or_legacy_pickle(path: Path):
    """torch's legacy (pre-1.6) format, or a plain pickle (NVIDIA's .pkl)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        pass
    try:
        return load_torch(path)  # legacy torch files with other objects, through the allowlist
    except UnsafeFileError:
        raise
    except Exception:
        pass  # not a torch file ("invalid magic number"): a plain pickle
    try:
        return load_pickle(path)
    except EOFError:
        raise CheckpointError(f"{path}: the pickle ends early (truncated file)") from None


def _from_data(path: Path, data) -> NetworkFile:
    if isinstance(data, dict) and data.get("format") == "stylegan-toolkit":
        d = read_checkpoint(path)
        return NetworkFile("ours", GeneratorConfig.from_dict(d["G_config"]), d["G_ema"])
    if isinstance(data, dict) and isinstance(data.get("G_ema"), PersistentObject):
        return from_nvidia_pytorch(data["G_ema"])
    if isinstance(data, tuple) and len(data) == 3 and all(isinstance(n, TFNetwork) for n in data):
        return from_nvidia_tf(data[2])
    if isinstance(data, TFNetwork):
        return from_nvidia_tf(data)
    if isinstance(data, dict) and ("g_ema" in data or "g" in data):
        return from_rosinality(data)
    kind = type(data).__name__
    keys = f" with keys {', '.join(map(str, list(data)[:6]))}" if isinstance(data, dict) else ""
    raise CheckpointError(f"{path}: not a StyleGAN generator file (a {kind}{keys})")


# ---------------------------------------------------------------------------- NVIDIA PyTorch ---

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
    if any(k.startswith("synthesis.input.") for k in state) or "SynthesisInput" in G.module_src:
        raise CheckpointError("this is a StyleGAN3 (-T/-R) network: recognised, but not supported yet")
    kwargs = dict(G.state.get("_init_kwargs") or {})
    kwargs.pop("class_name", None)
    inferred = infer_demod_config(state)
    if "z_dim" not in kwargs:
        return NetworkFile("nvidia-pytorch", inferred, state)
    try:
        config = generator_config_from_nvidia(kwargs)
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"its stored settings are unreadable ({_first_line(exc)})") from None
    check_against_tensors(config, inferred)
    return NetworkFile("nvidia-pytorch", config, state)


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


# ---------------------------------------------------------------------------- inference ---

def _fit_channels(channels: dict[int, int]) -> tuple[int, int]:
    """channel_base and channel_max such that min(base // res, max) gives these channels."""
    cmax = max(channels.values())
    below = [(res, c) for res, c in channels.items() if c < cmax]
    base = below[0][0] * below[0][1] if below else cmax * max(channels)
    if any(min(base // res, cmax) != c for res, c in channels.items()):
        raise CheckpointError(f"unsupported channel layout {dict(sorted(channels.items()))}")
    return base, cmax


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
        flavour="demod", z_dim=state["mapping.fc0.weight"].shape[1] - embed,
        w_dim=state[f"mapping.fc{fcs[-1]}.weight"].shape[0], c_dim=c_dim, img_resolution=last,
        img_channels=state[f"synthesis.b{last}.torgb.weight"].shape[0], mapping_layers=len(fcs),
        mapping_embed_features=embed or None, channel_base=base, channel_max=cmax, architecture=arch,
        use_noise=f"synthesis.b{last}.conv1.noise_strength" in state)


# ---------------------------------------------------------------------------- NVIDIA TF ---

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
        flavour="demod", z_dim=int(kw.get("latent_size") or p["mapping/Dense0/weight"].shape[0]),
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
    """NVIDIA's StyleGAN (2019) TF pickles. Their convolutions carry the sqrt(2) gain in the weight
    and apply lrelu without one; ours apply the gain after lrelu, so biases and noise weights are
    divided by sqrt(2) (exact, lrelu being positively homogeneous)."""
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
        flavour="adain", z_dim=p["mapping/Dense0/weight"].shape[0], w_dim=p[f"mapping/Dense{layers[-1]}/weight"].shape[1],
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
            s[prefix + ".bias"] = _t(p[f"synthesis/{tf}/bias"] / SQRT2)
            style_w, style_b = p[f"synthesis/{tf}/StyleMod/weight"], p[f"synthesis/{tf}/StyleMod/bias"].copy()
            style_b[: len(style_b) // 2] += 1  # TF scales by (style + 1)
            s[prefix + ".affine.weight"] = _t(style_w.T)
            s[prefix + ".affine.bias"] = _t(style_b)
            if config.use_noise:
                s[prefix + ".noise_strength"] = _t(p[f"synthesis/{tf}/Noise/weight"] / SQRT2)
                s[prefix + ".noise_const"] = _t(p[f"synthesis/noise{noise}"][0, 0])
            noise += 1
        s[f"synthesis.b{r}.torgb.weight"] = _tf_conv(p[f"synthesis/{torgb[r]}/weight"])
        s[f"synthesis.b{r}.torgb.bias"] = _t(p[f"synthesis/{torgb[r]}/bias"])
    s["synthesis.stage_resolution"] = torch.tensor(res, dtype=torch.int64)
    s["synthesis.stage_alpha"] = torch.tensor(1.0)
    return _with_filters(NetworkFile("nvidia-tf-stylegan1", config, s, needs_w_avg="mapping.w_avg" not in s))


# ---------------------------------------------------------------------------- rosinality ---

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
    config = GeneratorConfig(flavour="demod", z_dim=g["style.1.weight"].shape[1], w_dim=w_dim, img_resolution=res,
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
    if cfg.flavour != "demod":
        problems.append("it is a StyleGAN1 (AdaIN) generator")
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


# ------------------------------------------------------------------------------- helpers ---

def _with_filters(f: NetworkFile) -> NetworkFile:
    """Add the constant buffers (resample filters) our modules register, from a fresh network."""
    from core.networks.generator import Generator
    fresh = Generator(f.config).state_dict()
    for k, v in fresh.items():
        if k.endswith("resample_filter") and k not in f.state:
            f.state[k] = v
        if k.startswith("synthesis.") and k.endswith("noise_const") and k not in f.state:
            f.state[k] = v  # files without stored noise: fresh constants (noticed in notes)
            if "constant noise" not in " ".join(f.notes):
                f.notes.append("the file stores no constant noise; fixed random noise was made for it")
    if f.needs_w_avg:
        f.state["mapping.w_avg"] = torch.zeros(f.config.w_dim)
    return f
