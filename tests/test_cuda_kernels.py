"""The CUDA kernels on a GPU (run on a GPU machine; skipped elsewhere)."""

import pytest
import torch

pytestmark = pytest.mark.cuda


def test_selftest_passes():
    from kernels.selftest import check_ops
    results = check_ops(torch.device("cuda"))
    failed = [(name, msg) for name, ok, msg in results if not ok]
    assert not failed, failed


def test_generator_with_cuda_ops_equals_reference(monkeypatch):
    from core import Generator, GeneratorConfig, NoiseControl
    from kernels import dispatch
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(img_resolution=64, channel_base=8192, channel_max=256)).eval().cuda()
    z = torch.randn(4, 512, device="cuda")
    images = {}
    for mode in ("ref", "cuda"):
        monkeypatch.setenv("STYLEGAN_KERNELS", mode)
        dispatch.reset()
        with torch.no_grad():
            images[mode] = G(z, noise=NoiseControl("const"))
    assert (images["ref"] - images["cuda"]).abs().max() <= 1e-4


def test_r1_double_backward_through_cuda_ops(monkeypatch):
    from core import Discriminator, DiscriminatorConfig
    from kernels import dispatch
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    D = Discriminator(DiscriminatorConfig(img_resolution=32, channel_base=2048, channel_max=64)).cuda()
    x0 = torch.randn(4, 3, 32, 32, device="cuda")
    grads = {}
    for mode in ("ref", "cuda"):
        monkeypatch.setenv("STYLEGAN_KERNELS", mode)
        dispatch.reset()
        D.zero_grad()
        x = x0.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
        g.square().sum().backward()
        grads[mode] = torch.cat([p.grad.flatten() for p in D.parameters()])
    assert torch.allclose(grads["ref"], grads["cuda"], rtol=1e-3, atol=1e-5)
