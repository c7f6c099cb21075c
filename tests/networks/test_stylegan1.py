"""The StyleGAN1 (AdaIN) flavour: AdaIN semantics and progressive growing with fade-in."""

import pytest
import torch
import torch.nn.functional as F

from core import DiscriminatorConfig, Generator, GeneratorConfig, ProgressiveDiscriminator
from core.noise import NoiseControl
from core.networks.synthesis_stylegan1 import instance_norm


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(arch="stylegan1", z_dim=32, w_dim=32, img_resolution=32,
                                  mapping_layers=2, channel_base=1024, channel_max=32)).eval()
    with torch.no_grad():  # make noise and biases matter
        for name, p in G.named_parameters():
            if "noise_strength" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    return G


@pytest.fixture(scope="module")
def ws(G):
    torch.manual_seed(1)
    return G.mapping(torch.randn(3, G.z_dim))


def test_num_ws_two_per_resolution(G):
    assert G.num_ws == 8 == G.synthesis.num_layers
    assert [i["layers"][0] for i in G.synthesis.layer_info()][:3] == ["b4.input", "b4.conv1", "b8.conv0"]


@pytest.mark.parametrize("res", [4, 8, 16, 32])
def test_output_at_each_stage(G, ws, res):
    img = G.synthesis(ws, noise_mode="const", resolution=res, alpha=1.0)
    assert img.shape == (3, 3, res, res) and torch.isfinite(img).all()


@pytest.mark.parametrize("res", [8, 16, 32])
def test_fade_in_endpoints(G, ws, res):
    prev = G.synthesis(ws, noise_mode="const", resolution=res // 2, alpha=1.0)
    new = G.synthesis(ws, noise_mode="const", resolution=res, alpha=1.0)
    at0 = G.synthesis(ws, noise_mode="const", resolution=res, alpha=0.0)
    at_half = G.synthesis(ws, noise_mode="const", resolution=res, alpha=0.25)
    assert torch.equal(at0, F.interpolate(prev, scale_factor=2, mode="nearest"))
    assert torch.allclose(at_half, 0.75 * at0 + 0.25 * new, atol=1e-6)
    assert not torch.allclose(at0, new, atol=1e-3)


def test_stage_buffers_drive_default_and_travel_in_state_dict(G, ws):
    G.synthesis.set_stage(16, 0.5)
    try:
        assert torch.equal(G.synthesis(ws, noise_mode="const"),
                           G.synthesis(ws, noise_mode="const", resolution=16, alpha=0.5))
        sd = G.state_dict()
        assert int(sd["synthesis.stage_resolution"]) == 16 and float(sd["synthesis.stage_alpha"]) == 0.5
    finally:
        G.synthesis.set_stage(32, 1.0)
    with pytest.raises(ValueError):
        G.synthesis.set_stage(12)


def test_adain_layer_semantics(G, ws):
    """Output of a styled layer = y_s * instance_norm(act(x + noise + b)) + y_b."""
    layer = G.synthesis.b4.input
    x = torch.randn(3, *G.synthesis.b4.const.shape)
    w = ws[:, 0]
    noise = lambda mode, strength=1.0: NoiseControl(mode, strength).source("cpu", G.synthesis.num_layers)  # noqa: E731
    out = layer(x, w, noise=noise("none"))
    assert torch.equal(layer(x, w), out)  # (no noise source: no noise)
    t = F.leaky_relu(x + layer.bias.view(1, -1, 1, 1), 0.2) * 2 ** 0.5
    s, b = layer.affine(w).chunk(2, dim=1)
    assert torch.allclose(out, s[:, :, None, None] * instance_norm(t) + b[:, :, None, None], atol=1e-5)
    # Per-channel noise scaling: only noise modes change the result, through noise_strength.
    assert not torch.allclose(layer(x, w, noise=noise("const")), out)
    assert torch.equal(layer(x, w, noise=noise("const", strength=0.0)), out)


def test_each_layer_uses_its_own_w(G, ws):
    base = G.synthesis(ws, noise_mode="const")
    for i in range(G.num_ws):
        ws2 = ws.clone()
        ws2[:, i] += 1.0
        assert not torch.allclose(G.synthesis(ws2, noise_mode="const"), base), i


def test_progressive_discriminator_fade():
    torch.manual_seed(0)
    D = ProgressiveDiscriminator(DiscriminatorConfig(img_resolution=32, architecture="progressive",
                                                     channel_base=512, channel_max=32))
    img = torch.randn(4, 3, 16, 16)
    # alpha 0 at stage 16 = the stage-8 network on the downsampled images.
    assert torch.allclose(D(img, alpha=0.0), D(F.avg_pool2d(img, 2), alpha=1.0), atol=1e-6)
    assert not torch.allclose(D(img, alpha=1.0), D(img, alpha=0.0))
    for res in (4, 8, 16, 32):
        x = torch.randn(4, 3, res, res, requires_grad=True)
        (g,) = torch.autograd.grad(D(x, alpha=0.5).sum(), x, create_graph=True)
        g.square().sum().backward()
    with pytest.raises(ValueError):
        D(torch.randn(2, 3, 12, 12))


def test_training_step_grows_through_every_stage():
    """A few optimiser steps at each stage: gradients reach the new block's parameters."""
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(arch="stylegan1", z_dim=16, w_dim=16, img_resolution=16,
                                  mapping_layers=2, channel_base=256, channel_max=16))
    for res in (4, 8, 16):
        G.zero_grad()
        img = G(torch.randn(2, 16), resolution=res, alpha=0.5)
        img.square().mean().backward()
        block = getattr(G.synthesis, f"b{res}")
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for n, p in block.named_parameters()
                   if "noise_strength" not in n), res
