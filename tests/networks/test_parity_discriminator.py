"""Our discriminator with the official weights: logits, input gradients and R1 double backward."""

import pytest
import torch

from conftest import TOL, fixture_discriminator, load_npz, max_abs

OUT = load_npz("D_tiny_resnet_out.npz")


@pytest.fixture(scope="module")
def D():
    return fixture_discriminator()


@pytest.mark.parametrize("name,images", [("fake", ["img_fake"]), ("noise", ["img_noise"]),
                                         ("all", ["img_fake", "img_noise"]), ("pair", ["img_fake"])])
def test_logits_and_input_gradients(D, name, images):
    x = torch.cat([torch.from_numpy(OUT[k]) for k in images])
    if name == "pair":
        x = x[:2]
    x.requires_grad_(True)
    logits = D(x)
    (grad,) = torch.autograd.grad(logits.sum(), x)
    assert max_abs(logits, OUT[f"logits_{name}"]) <= TOL
    assert max_abs(grad, OUT[f"grad_{name}"]) <= TOL


def test_r1_double_backward(D):
    x = torch.from_numpy(OUT["img_noise"]).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    r1 = grad.square().sum([1, 2, 3])
    assert max_abs(r1, OUT["r1_penalty_noise"]) <= TOL * max(1, float(r1.detach().abs().max()))
    params = dict(D.named_parameters())
    names = [k[len("r1_param_grad."):] for k in OUT if k.startswith("r1_param_grad.")]
    grads = torch.autograd.grad(r1.sum(), [params[n] for n in names])
    for n, g in zip(names, grads):
        ref = OUT[f"r1_param_grad.{n}"]
        assert max_abs(g, ref) <= TOL * max(1, float(abs(ref).max())), n


def test_minibatch_std_groups_interleave():
    from core.networks.discriminator_stylegan2 import MinibatchStdLayer
    x = torch.randn(8, 4, 2, 2)
    y = MinibatchStdLayer(group_size=4)(x)
    # group j = samples {j, j+2, j+4, j+6}
    grp = x[[0, 2, 4, 6]]
    expect = (grp.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
    assert torch.allclose(y[0, 4], expect.expand(2, 2), atol=1e-6)
    assert torch.allclose(y[6, 4], y[0, 4])
    # batches not divisible by the group size still work
    assert MinibatchStdLayer(group_size=4)(torch.randn(6, 4, 2, 2)).shape == (6, 5, 2, 2)


@pytest.mark.parametrize("arch", ["orig", "skip", "resnet"])
def test_architectures_build_and_backprop(arch):
    from core import Discriminator, DiscriminatorConfig
    D = Discriminator(DiscriminatorConfig(img_resolution=16, architecture=arch, channel_base=256, channel_max=16))
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    logits = D(x)
    (g,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    (logits.sum() + g.square().sum()).backward()
    assert all(p.grad is not None for p in D.parameters())


def test_conditional_discriminator():
    from core import Discriminator, DiscriminatorConfig
    D = Discriminator(DiscriminatorConfig(c_dim=3, img_resolution=8, channel_base=64, channel_max=8))
    c = torch.eye(3)[[0, 1, 2, 0]]
    assert D(torch.randn(4, 3, 8, 8), c).shape == (4, 1)


def test_rejects_wrong_image_size(D):
    with pytest.raises(ValueError, match="D expects"):
        D(torch.randn(2, 3, 16, 16))
