"""StyleGAN3 (-T and -R) against NVIDIA's own outputs (tests/fixtures/official_sg3: tiny perturbed
networks, 4 seeds x ψ {1, 0.7}, and a rotate + translate user transform), its filters designed without
scipy against the ones NVIDIA stored, filtered_lrelu against a brute-force definition, and
StyleGAN3 pickles in NVIDIA's on-disk structure."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
import torch

from conftest import REPO
from core.checkpoints.load import load_generator
from core.checkpoints.nvidia_kwargs import generator_config_from_nvidia
from core.errors import CheckpointError
from core.networks.generator import Generator
from kernels.filtered_lrelu_ref import filtered_lrelu_ref

SG3 = REPO / "tests" / "fixtures" / "official_sg3"  # a copy of ../shared/fixtures/official_sg3 (README inside)


def official(kind: str) -> tuple[Generator, dict, dict]:
    z = np.load(SG3 / f"G_tiny_sg3{kind}.npz")
    kwargs = json.loads(str(z["config_json"]))
    G = Generator(generator_config_from_nvidia(kwargs)).eval()
    stored = {k: torch.from_numpy(np.array(z[k])) for k in z.files if k != "config_json"}
    return G, stored, kwargs


@pytest.mark.parametrize("kind", ["T", "R"])
def test_parity_with_nvidia(kind):
    G, stored, _ = official(kind)
    # The filters our layers design (numpy Kaiser sinc, torch's Bessel J1 for -R's radial ones) are
    # the ones NVIDIA designed with scipy and stored.
    designed = G.state_dict()
    filters = [k for k in stored if k.endswith("_filter")]
    assert filters and any(stored[k].ndim == 2 for k in filters) == (kind == "R")
    for k in filters:
        assert torch.allclose(designed[k], stored[k], atol=1e-6), k
    G.load_state_dict(stored)
    out = np.load(SG3 / f"G_tiny_sg3{kind}_out.npz")
    z = torch.from_numpy(out["z"])
    with torch.no_grad():
        for i, psi in enumerate(out["psi"]):
            ws = G.mapping(z, None, truncation_psi=float(psi))
            assert (ws - torch.from_numpy(out["ws"][i])).abs().max() <= 1e-4
            img = G.synthesis(torch.from_numpy(out["ws"][i]))
            assert (img - torch.from_numpy(out["img"][i])).abs().max() <= 1e-4
        G.synthesis.input.transform.copy_(torch.from_numpy(out["transform_buffer"]))
        img = G.synthesis(torch.from_numpy(out["ws"][0]))
        assert (img - torch.from_numpy(out["img_transformed"])).abs().max() <= 1e-4
        assert (img - torch.from_numpy(out["img"][0])).abs().max() > 0.01  # the transform did something


def test_synthesis_refuses_a_wplus_of_another_shape():
    """zip() over the layers truncated silently: 15 rows of 16 gave an 8-channel 'image', 17 dropped one."""
    G, stored, _ = official("T")
    ws = torch.zeros(1, G.num_ws, G.w_dim)
    with torch.no_grad():
        assert G.synthesis(ws).shape[1] == G.img_channels
        for bad in (ws[:, 1:], torch.cat([ws, ws[:, :1]], 1), ws[:, :, 1:], ws[0]):
            with pytest.raises(ValueError, match=rf"ws must be \[N, {G.num_ws}, {G.w_dim}\], got"):
                G.synthesis(bad)


def brute_filtered_lrelu(x, fu, fd, b, up, down, padding, gain, slope, clamp):
    """The definition written out with explicit loops over output pixels (float64)."""
    x = x.double() + b.double()[None, :, None, None]
    n, c, h, w = x.shape
    fu2 = torch.ones(1, 1, dtype=torch.float64) if fu is None else (fu.double() if fu.ndim == 2 else torch.outer(fu, fu).double())
    fd2 = torch.ones(1, 1, dtype=torch.float64) if fd is None else (fd.double() if fd.ndim == 2 else torch.outer(fd, fd).double())
    px0, px1, py0, py1 = padding
    big = torch.zeros(n, c, h * up, w * up, dtype=torch.float64)
    big[:, :, ::up, ::up] = x
    big = torch.nn.functional.pad(big, [px0, px1, py0, py1])
    kh, kw = fu2.shape
    mid = torch.zeros(n, c, big.shape[2] - kh + 1, big.shape[3] - kw + 1, dtype=torch.float64)
    flipped = fu2.flip([0, 1]) * up ** 2
    for i in range(mid.shape[2]):
        for j in range(mid.shape[3]):
            mid[:, :, i, j] = (big[:, :, i:i + kh, j:j + kw] * flipped).sum([2, 3])
    mid = torch.where(mid >= 0, mid, mid * slope) * gain
    if clamp is not None:
        mid = mid.clamp(-clamp, clamp)
    kh, kw = fd2.shape
    flipped = fd2.flip([0, 1])
    out_h, out_w = (mid.shape[2] - kh) // down + 1, (mid.shape[3] - kw) // down + 1
    out = torch.zeros(n, c, out_h, out_w, dtype=torch.float64)
    for i in range(out_h):
        for j in range(out_w):
            out[:, :, i, j] = (mid[:, :, i * down:i * down + kh, j * down:j * down + kw] * flipped).sum([2, 3])
    return out


def test_filtered_lrelu_reference_against_brute_force():
    gen = torch.Generator().manual_seed(0)
    cases = [(2, 2, 12, 12, [5, 5, 5, 5], None),       # a layer: 2x up, 2x down, 12-tap separable filters
             (2, 1, 12, 1, [6, 5, 6, 5], 1.0),         # up only, clamp
             (1, 2, 1, 12, [3, 4, 2, 3], None),        # down only, asymmetric padding
             (2, 2, (8, 8), (8, 8), [4, 3, 4, 3], 2.0),  # 2-D (radial-like) filters
             (1, 1, 1, 1, [0, 0, 0, 0], None)]         # ToRGB: no filters
    for up, down, nu, nd, padding, clamp in cases:
        x = torch.randn(2, 3, 14, 13, generator=gen)
        b = torch.randn(3, generator=gen)
        fu = None if nu == 1 else torch.rand(nu, generator=gen)
        fd = None if nd == 1 else torch.rand(nd, generator=gen)
        y = filtered_lrelu_ref(x, fu, fd, b, up, down, padding, math.sqrt(2), 0.2, clamp)
        ref = brute_filtered_lrelu(x, fu, fd, b, up, down, padding, math.sqrt(2), 0.2, clamp)
        assert y.shape == ref.shape, (up, down, padding)
        assert torch.allclose(y.double(), ref, atol=1e-4, rtol=1e-4), (up, down, padding)


def test_filtered_lrelu_gradients():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, generator=gen, requires_grad=True)
    fu, fd = torch.rand(6, dtype=torch.float64, generator=gen), torch.rand(6, dtype=torch.float64, generator=gen)
    f = lambda x, b: filtered_lrelu_ref(x, fu, fd, b, 2, 2, [3, 3, 3, 3], math.sqrt(2), 0.2, None)  # noqa: E731
    assert torch.autograd.gradcheck(f, (x, b))


def test_filtered_lrelu_through_the_custom_ops_equals_the_reference(monkeypatch):
    """STYLEGAN_KERNELS=op: the resampling and bias+activation custom ops (what CUDA runs), forward
    and backward, equal the plain reference."""
    from kernels import dispatch, filtered_lrelu
    gen = torch.Generator().manual_seed(2)
    x0 = torch.randn(2, 4, 9, 9, generator=gen)
    b = torch.randn(4, generator=gen)
    fu, fd = torch.rand(12, generator=gen), torch.rand(8, 8, generator=gen)
    results = {}
    for mode in ("ref", "op"):
        monkeypatch.setenv("STYLEGAN_KERNELS", mode)
        dispatch.reset()
        x = x0.clone().requires_grad_(True)
        y = filtered_lrelu(x, fu, fd, b, 2, 2, [5, 4, 5, 4], math.sqrt(2), 0.2, 1.5)
        (g,) = torch.autograd.grad(y.square().sum(), x)
        results[mode] = (y.detach(), g)
    dispatch.reset()
    for a, r in zip(results["op"], results["ref"]):
        assert torch.allclose(a, r, atol=1e-5, rtol=1e-5)


def test_nvidia_stylegan3_pickle_loads_and_renders_the_fixture(tmp_path):
    """A pickle in NVIDIA's on-disk structure (persistent objects with class names, stored source and
    init kwargs, as torch_utils.persistence writes them) loads through the safe reader and renders
    the fixture's image; the same with a malicious global is refused by name, and never runs."""
    from format_builders import write_nvidia_pkl
    G, stored, kwargs = official("T")
    G.load_state_dict(stored)
    src = "# training/networks_stylegan3.py (never executed)\nclass SynthesisInput: pass\n"
    write_nvidia_pkl(G, tmp_path / "sg3t.pkl", module_src=src, kwargs=kwargs)
    G2 = load_generator(tmp_path / "sg3t.pkl")
    assert G2.config.arch == "stylegan3" and G2.config.conv_kernel == 3
    out = np.load(SG3 / "G_tiny_sg3T_out.npz")
    with torch.no_grad():
        img = G2.synthesis(torch.from_numpy(out["ws"][1]))
    assert (img - torch.from_numpy(out["img"][1])).abs().max() <= 1e-4

    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            import os
            return os.system, (f"touch {marker}",)

    with open(tmp_path / "sg3t.pkl", "rb") as f:
        data = f.read()
    evil = tmp_path / "evil.pkl"
    with open(evil, "wb") as f:
        f.write(data[:-1])  # the same pickle, its final STOP replaced by a payload that still unpickles
        pickle.dump(Evil(), f)
    with pytest.raises(CheckpointError, match="system") as exc:
        load_generator(evil)
    assert "\n" not in str(exc.value) and not marker.exists()


def test_stylegan3_through_stylegan_generate(tmp_path):
    """stylegan-generate renders a StyleGAN3 network (the NVIDIA-named .npz) as the fixture has it."""
    from conftest import run_cli
    r = run_cli("stylegan-generate", "--pkl", str(SG3 / "G_tiny_sg3R.npz"), "--seeds", "0", "--outdir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    out = np.load(SG3 / "G_tiny_sg3R_out.npz")
    from PIL import Image
    png = np.asarray(Image.open(tmp_path / "seed0000.png")).astype(np.int16)
    want = (torch.from_numpy(out["img"][0][0]) * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.abs(png - want.astype(np.int16)).max() <= 1


@pytest.mark.parametrize("kind", ["T", "R"])
def test_convert_to_pt_and_back_to_nvidia_npz(tmp_path, kind):
    """stylegan-convert: NVIDIA's StyleGAN3 -> our .pt (the architecture recorded) -> NVIDIA-named
    .npz again: the same arrays under the same names, config_json as networks_stylegan3.Generator's
    kwargs, and the result renders the fixture's image."""
    from conftest import run_cli
    pt, npz = tmp_path / "g.pt", tmp_path / "g.npz"
    for src, dst in ((SG3 / f"G_tiny_sg3{kind}.npz", pt), (pt, npz)):
        r = run_cli("stylegan-convert", str(src), str(dst))
        assert r.returncode == 0, r.stderr
        assert "stylegan3 generator" in r.stdout
    assert torch.load(pt, weights_only=True)["G_config"]["arch"] == "stylegan3"
    theirs, ours = np.load(SG3 / f"G_tiny_sg3{kind}.npz"), np.load(npz)
    assert set(ours.files) == set(theirs.files)
    assert all(np.array_equal(ours[k], theirs[k]) for k in theirs.files if k != "config_json")
    kwargs = json.loads(str(ours["config_json"]))
    assert kwargs["use_radial_filters"] == (kind == "R") and kwargs["conv_kernel"] == (1 if kind == "R" else 3)
    assert generator_config_from_nvidia(kwargs) == generator_config_from_nvidia(json.loads(str(theirs["config_json"])))
    if kind == "T":  # what cannot be written is said by name
        r = run_cli("stylegan-convert", str(pt), str(tmp_path / "r.pt"), "--to", "rosinality")
        assert r.returncode == 2 and "it is a StyleGAN3 (alias-free) generator" in r.stderr
        r = run_cli("stylegan-convert", str(pt), str(tmp_path / "g.txt"))
        assert r.returncode == 2 and "give an output ending in .pt (ours) or .npz" in r.stderr
    G = load_generator(npz)
    out = np.load(SG3 / f"G_tiny_sg3{kind}_out.npz")
    with torch.no_grad():
        img = G.synthesis(torch.from_numpy(out["ws"][0]))
    assert (img - torch.from_numpy(out["img"][0])).abs().max() <= 1e-4


def test_generate_translate_and_rotate_as_nvidia(tmp_path):
    """--translate 0.12,-0.07 --rotate 15 sets the input transform as NVIDIA's gen_images.py: the
    fixture's img_transformed; on a StyleGAN2 network they are refused in one line."""
    from conftest import FIXTURES, run_cli
    from PIL import Image
    r = run_cli("stylegan-generate", "--pkl", str(SG3 / "G_tiny_sg3T.npz"), "--seeds", "0", "--translate", "0.12,-0.07",
                "--rotate", "15", "--outdir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    out = np.load(SG3 / "G_tiny_sg3T_out.npz")
    png = np.asarray(Image.open(tmp_path / "seed0000.png")).astype(np.int16)
    want = (torch.from_numpy(out["img_transformed"][0]) * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(1, 2, 0)
    assert np.abs(png - want.numpy().astype(np.int16)).max() <= 1
    r = run_cli("stylegan-generate", "--pkl", str(FIXTURES / "G_tiny_skip.npz"), "--seeds", "0", "--rotate", "15",
                "--outdir", str(tmp_path / "sg2"))
    assert r.returncode == 2 and "StyleGAN3" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_explorer_first_frame_equals_generate(tmp_path):
    """The explorer opens a StyleGAN3 network: its first frame (--screenshot) is stylegan-generate's
    image for the same seed and ψ, byte for byte."""
    import os
    import subprocess
    import sys
    from conftest import run_cli
    from PIL import Image
    pkl = str(SG3 / "G_tiny_sg3R.npz")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYOPENGL_PLATFORM": "egl",
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    r = subprocess.run([sys.executable, "-m", "explorer", "--pkl", pkl, "--seed", "2", "--trunc", "0.7",
                        "--screenshot", str(tmp_path / "shot.png")], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = run_cli("stylegan-generate", "--pkl", pkl, "--seeds", "2", "--trunc", "0.7", "--outdir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "shot.png")), np.asarray(Image.open(tmp_path / "seed0002.png")))
