"""GPU checks (run on a CUDA machine; skipped elsewhere): the same numbers on CUDA as on CPU, and the
fp16 blocks with conv clamping staying close to fp32."""

import pytest
import torch

from conftest import TOL, fixture_discriminator, fixture_generator, load_npz, max_abs

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("arch", ["skip", "resnet", "orig"])
def test_generator_on_cuda_matches_fixture(arch):
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    G = fixture_generator(arch).cuda()
    out = load_npz(f"G_tiny_{arch}_out.npz")
    z = torch.from_numpy(out["z"]).cuda()
    for batch in (1, 4):
        img = torch.cat([G(z[i: i + batch], truncation_psi=0.7, noise_mode="const") for i in range(0, 4, batch)])
        assert max_abs(img, out["img_const"][1]) <= TOL


def test_discriminator_and_r1_on_cuda():
    torch.backends.cudnn.allow_tf32 = False
    D = fixture_discriminator().cuda()
    out = load_npz("D_tiny_resnet_out.npz")
    x = torch.from_numpy(out["img_noise"]).cuda().requires_grad_(True)
    logits = D(x)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    assert max_abs(logits, out["logits_noise"]) <= TOL and max_abs(grad, out["grad_noise"]) <= TOL
    grad.square().sum().backward()
    ref = out["r1_param_grad.b32.fromrgb.weight"]
    assert max_abs(D.b32.fromrgb.weight.grad, ref) <= TOL * max(1, abs(ref).max())


def test_fp16_blocks_close_to_fp32():
    from core import Generator, GeneratorConfig
    torch.manual_seed(0)
    cfg = GeneratorConfig(img_resolution=256, channel_base=16384, channel_max=512, conv_clamp=256)
    G32 = Generator(cfg).eval().cuda()
    G16 = Generator(GeneratorConfig(**{**cfg.to_dict(), "num_fp16_res": 4})).eval().cuda()
    G16.load_state_dict(G32.state_dict())
    with torch.no_grad():
        ws = G32.mapping(torch.randn(4, 512, device="cuda"))
        a = G32.synthesis(ws, noise_mode="const")
        b = G16.synthesis(ws, noise_mode="const")
    assert b.dtype == torch.float32 and torch.isfinite(b).all()
    assert float((a - b).abs().mean()) < 2e-2 * float(a.abs().mean())
