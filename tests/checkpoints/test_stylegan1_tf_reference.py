"""A StyleGAN (2019) TF pickle renders what NVIDIA's own graph computes from its variables.

The reference below is networks_stylegan.py's G_style (G_mapping + truncation + G_synthesis,
structure 'linear' at lod 0) written out in plain torch from the pickle's variables alone — no code
of ours in between — so a conversion rule that is its own test builder's inverse cannot hide a
wrong constant (the 4x4 Const layer's bias and noise weight were divided by sqrt(2) like a conv
layer's, changing every image by up to ~1)."""

import math
import pickle

import numpy as np
import torch
import torch.nn.functional as F

from conftest import TOL, max_abs
from core import Generator, GeneratorConfig, load_generator
from format_builders import _Network, fake_modules, write_tf_stylegan1_pkl

SQRT2 = math.sqrt(2)


def tf_variables(path) -> tuple[dict, dict, np.ndarray]:
    """(mapping variables, synthesis variables, dlatent_avg) of a G_style pickle, read with plain
    pickle (the stand-in Network class keeps its state as attributes)."""
    with fake_modules(**{"dnnlib.tflib.network": {"Network": _Network}}):
        with open(path, "rb") as f:
            _, _, Gs = pickle.load(f)
    own = dict(Gs.variables)  # (the default unpickling: the state dict becomes the attributes)
    t = {k: {n: torch.from_numpy(np.asarray(v)) for n, v in c.variables} for k, c in Gs.components.items()}
    return t["mapping"], t["synthesis"], torch.from_numpy(np.asarray(own["dlatent_avg"]))


def dense(x, w, gain, lrmul=1.0):  # get_weight's runtime coefficient: gain / sqrt(fan_in) * lrmul
    return x @ (w * (gain / math.sqrt(w.shape[0]) * lrmul))


def conv(x, w, gain):  # TF [kh, kw, in, out], padding SAME
    k = w.permute(3, 2, 0, 1) * (gain / math.sqrt(w.shape[0] * w.shape[1] * w.shape[2]))
    return F.conv2d(x, k, padding=w.shape[0] // 2)


def blur(x):  # blur2d([1, 2, 1]), normalised, depthwise, padding SAME
    f = torch.tensor([1.0, 2.0, 1.0])
    f = (f[:, None] * f[None, :]) / 16
    return F.conv2d(x, f.expand(x.shape[1], 1, 3, 3), padding=1, groups=x.shape[1])


def upscale_conv(x, w, gain):
    """upscale2d_conv2d: nearest 2x + conv below 128x128 outputs; from 128 up (fused_scale='auto')
    the fused form, literally: [kh, kw, out, in], padded, the sum of its four shifts, as the
    filter of conv2d_transpose (stride 2, SAME) — not the same numbers as the unfused form."""
    if x.shape[2] * 2 < 128:
        return conv(x.repeat_interleave(2, 2).repeat_interleave(2, 3), w, gain)
    w = w * (gain / math.sqrt(w.shape[0] * w.shape[1] * w.shape[2]))
    w = F.pad(w.permute(2, 3, 0, 1), [1, 1, 1, 1])  # torch's transposed-conv layout [in, out, kh, kw]
    w = w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]
    return F.conv_transpose2d(x, w, stride=2, padding=1)


def nvidia_g_style(m: dict, s: dict, dlatent_avg, z, psi=1.0, cutoff=8):
    x = z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8)  # normalize_latents
    for i in range(len([k for k in m if k.endswith("/weight")])):
        x = F.leaky_relu(dense(x, m[f"Dense{i}/weight"], SQRT2, 0.01) + m[f"Dense{i}/bias"] * 0.01, 0.2)
    log2 = int(math.log2(max(v.shape[-1] for k, v in s.items() if k.startswith("noise"))))
    num_layers = 2 * log2 - 2
    ws = x[:, None].repeat(1, num_layers, 1)
    coefs = torch.where(torch.arange(num_layers)[None, :, None] < cutoff, psi, 1.0)
    ws = dlatent_avg + (ws - dlatent_avg) * coefs  # tflib.lerp

    def epilogue(x, scope, i):
        x = x + s[f"noise{i}"] * s[f"{scope}/Noise/weight"].view(1, -1, 1, 1)
        x = F.leaky_relu(x + s[f"{scope}/bias"].view(1, -1, 1, 1), 0.2)
        x = x - x.mean([2, 3], keepdim=True)
        x = x * torch.rsqrt(x.square().mean([2, 3], keepdim=True) + 1e-8)
        style = dense(ws[:, i], s[f"{scope}/StyleMod/weight"], 1.0) + s[f"{scope}/StyleMod/bias"]
        style = style.view(-1, 2, x.shape[1], 1, 1)
        return x * (style[:, 0] + 1) + style[:, 1]

    x = epilogue(s["4x4/Const/const"].expand(z.shape[0], -1, -1, -1), "4x4/Const", 0)
    x = epilogue(conv(x, s["4x4/Conv/weight"], SQRT2), "4x4/Conv", 1)
    for res in range(3, log2 + 1):
        r = 2 ** res
        x = epilogue(blur(upscale_conv(x, s[f"{r}x{r}/Conv0_up/weight"], SQRT2)), f"{r}x{r}/Conv0_up", res * 2 - 4)
        x = epilogue(conv(x, s[f"{r}x{r}/Conv1/weight"], SQRT2), f"{r}x{r}/Conv1", res * 2 - 3)
    return conv(x, s["ToRGB_lod0/weight"], 1.0) + s["ToRGB_lod0/bias"].view(1, -1, 1, 1)


def test_stylegan1_tf_pickle_renders_nvidias_graph(tmp_path):
    torch.manual_seed(1)
    G = Generator(GeneratorConfig(arch="stylegan1", z_dim=32, w_dim=32, img_resolution=256, channel_base=1024,
                                  channel_max=16, mapping_layers=3)).eval()
    with torch.no_grad():  # weights far from their initial values, every bias and noise weight non-zero
        for p in G.parameters():
            p.add_(0.3 * torch.randn_like(p))
        G.mapping.w_avg.normal_()
    path = tmp_path / "karras2019stylegan.pkl"
    write_tf_stylegan1_pkl(G, path)
    m, s, avg = tf_variables(path)
    G2 = load_generator(path)
    z = torch.randn(3, 32)
    with torch.no_grad():
        ref = nvidia_g_style(m, s, avg, z)
        assert ref.abs().max() > 0.1  # (a real image, not a vanishing one)
        assert max_abs(G2(z, noise_mode="const"), ref) <= TOL
        ref = nvidia_g_style(m, s, avg, z, psi=0.7, cutoff=8)
        assert max_abs(G2(z, truncation_psi=0.7, truncation_cutoff=8, noise_mode="const"), ref) <= TOL
