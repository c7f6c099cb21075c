"""Our generator with the official fixture weights reproduces the official outputs (fp32, CPU)."""

import pytest
import torch

from conftest import TOL, fixture_generator, load_npz, max_abs
from core.latents import wplus

ARCHS = ["skip", "resnet", "orig"]


@pytest.fixture(scope="module", params=ARCHS)
def arch(request):
    return request.param, fixture_generator(request.param), load_npz(f"G_tiny_{request.param}_out.npz")


def test_mapping_and_truncation(arch):
    _, G, out = arch
    z = torch.from_numpy(out["z"])
    assert max_abs(wplus.zs_from_seeds(list(map(int, out["seeds"])), G.z_dim), z) == 0
    for p, psi in enumerate(out["truncation_psi"]):
        assert max_abs(G.mapping(z, truncation_psi=float(psi)), out["ws"][p]) <= TOL
        cutoff = int(out["truncation_cutoff"])
        assert max_abs(G.mapping(z, truncation_psi=float(psi), truncation_cutoff=cutoff),
                       out["ws_cutoff2"][p]) <= TOL
        # The W+ function gives the same as the mapping's built-in truncation.
        ws1 = G.mapping(z)
        assert max_abs(wplus.truncate(ws1, G.mapping.w_avg, float(psi), cutoff), out["ws_cutoff2"][p]) <= TOL


@pytest.mark.parametrize("mode", ["const", "none"])
def test_images_one_at_a_time(arch, mode):
    _, G, out = arch
    for p, psi in enumerate(out["truncation_psi"]):
        for s in range(len(out["seeds"])):
            img = G(torch.from_numpy(out["z"][s: s + 1]), truncation_psi=float(psi), noise_mode=mode)
            assert max_abs(img[0], out[f"img_{mode}"][p, s]) <= TOL


def test_images_batched(arch):
    """The batched path (unfused modulation) gives the same images as batch 1."""
    _, G, out = arch
    img = G(torch.from_numpy(out["z"]), truncation_psi=0.7, noise_mode="const")
    assert max_abs(img, out["img_const"][1]) <= TOL
    img = G(torch.from_numpy(out["z"]), truncation_psi=0.7, truncation_cutoff=2, noise_mode="const")
    assert max_abs(img, out["img_const_cutoff2"]) <= TOL


def test_style_mixing(arch):
    _, G, out = arch
    ws = G.mapping(torch.from_numpy(out["z"][:2]))
    mixed = wplus.mix(ws[:1], ws[1:2], wplus.layer_weights(range(int(out["mix_layers"]), G.num_ws), G.num_ws)[None])
    assert max_abs(mixed, out["mix_ws"]) <= TOL
    assert max_abs(G.synthesis(mixed, noise_mode="const"), out["mix_img"]) <= TOL


def test_fp16_settings_stay_fp32_on_cpu():
    from core.networks.build import build_generator
    G = fixture_generator("skip")
    cfg = G.config.to_dict() | {"num_fp16_res": 2}
    G16 = build_generator(cfg, G.state_dict()).eval().requires_grad_(False)
    with torch.no_grad():
        ws = G.mapping(torch.randn(2, G.z_dim))
        assert torch.equal(G.synthesis(ws, noise_mode="const"), G16.synthesis(ws, noise_mode="const"))


def test_conv_clamp_limits_activations():
    from core.networks.build import build_generator
    G = fixture_generator("skip")
    Gc = build_generator(G.config.to_dict() | {"conv_clamp": 0.5}, G.state_dict()).eval()
    img = Gc(torch.randn(1, G.z_dim), noise_mode="const")
    # skip architecture: the image is a sum of 4 upsampled ToRGB outputs, each clamped to 0.5
    assert img.abs().max() <= 4 * 0.5 + 1e-5


def test_batched_cpu_paths_agree():
    """Batched inference mixes execution paths (unfused at low resolution, per-sample fused once
    activations outgrow the weights); every path must give the batch-1 images."""
    from core import Generator, GeneratorConfig
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(z_dim=32, w_dim=32, img_resolution=64, mapping_layers=2,
                                  channel_base=512, channel_max=16)).eval()
    assert any(b.in_channels and b.weights_smaller_than_input() for b in G.synthesis.blocks)
    with torch.no_grad():
        for p in G.parameters():  # make noise strengths matter
            if p.ndim == 0:
                p.fill_(0.3)
        ws = G.mapping(torch.randn(3, 32))
        single = torch.cat([G.synthesis(ws[i: i + 1], noise_mode="const") for i in range(3)])
        for fused in (None, True, False):
            assert max_abs(G.synthesis(ws, noise_mode="const", fused_modconv=fused), single) <= 1e-5, fused
