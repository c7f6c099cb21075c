"""modulated_conv2d against the official outputs, both execution paths."""

import pytest
import torch

from conftest import TOL, load_npz, max_abs
from core.networks.modulated_conv import modulated_conv2d

FIX = load_npz("modulated_conv2d_cases.npz")


def case(i):
    p = f"case{i:02d}_"
    return {k[len(p):]: v for k, v in FIX.items() if k.startswith(p)}


@pytest.mark.parametrize("i", range(int(FIX["num_cases"])))
def test_matches_official(i):
    c = case(i)
    f = torch.from_numpy(c["resample_filter"]) if "resample_filter" in c else None
    kwargs = dict(up=int(c["up"]), down=int(c["down"]), padding=int(c["padding"]), resample_filter=f,
                  demodulate=bool(c["demodulate"]), flip_weight=bool(c["flip_weight"]))
    x, w, s = (torch.from_numpy(c[k]) for k in ("x", "weight", "styles"))
    # Both paths must give the official result, whichever the fixture used.
    for fused in (True, False):
        y = modulated_conv2d(x, w, s, fused_modconv=fused, **kwargs)
        assert max_abs(y, c["y"]) <= TOL, (str(FIX["case_names"][i]), fused)


def test_demodulation_normalises_output_scale():
    torch.manual_seed(0)
    x = torch.randn(4, 64, 16, 16)
    w = torch.randn(32, 64, 3, 3)
    small = modulated_conv2d(x, w, torch.full([4, 64], 0.01), padding=1)
    large = modulated_conv2d(x, w, torch.full([4, 64], 100.0), padding=1)
    assert torch.allclose(small, large, atol=1e-4)  # a uniform style scale is removed
    assert 0.5 < modulated_conv2d(x, w, torch.ones(4, 64), padding=1).std() < 2


def test_bad_style_shape():
    with pytest.raises(ValueError, match="styles"):
        modulated_conv2d(torch.randn(2, 3, 4, 4), torch.randn(5, 3, 3, 3), torch.randn(2, 4))


@pytest.mark.parametrize("with_noise", [False, True])
def test_training_path_keeps_no_copy_of_the_activations(with_noise):
    """While autograd records, the unfused path demodulates (and adds the noise) out of place, in one
    multiply-add: an in-place x *= d would make autograd copy the conv output for d's gradient. Values
    and gradients equal the inference path's in-place form up to rounding."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Copies(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.sizes = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in (torch.ops.aten.clone.default, torch.ops.aten.copy_.default):
                self.sizes.append(args[0].numel())
            return func(*args, **(kwargs or {}))

    torch.manual_seed(0)
    x = torch.randn(4, 16, 12, 12).contiguous(memory_format=torch.channels_last)
    w = torch.randn(24, 16, 3, 3, requires_grad=True)
    s = torch.randn(4, 16, requires_grad=True)
    noise = torch.randn(4, 1, 12, 12, requires_grad=True) if with_noise else None
    with Copies() as copies:
        y = modulated_conv2d(x, w, s, noise=noise, padding=1, fused_modconv=False)
        grads = torch.autograd.grad(y.square().sum(), [w, s] + ([noise] if with_noise else []))
    assert max(copies.sizes, default=0) < y.numel()  # no activation-size copy, forward or backward
    with torch.no_grad():  # the inference form: in place
        y0 = modulated_conv2d(x, w, s, noise=noise, padding=1, fused_modconv=False)
    assert torch.allclose(y, y0, rtol=1e-5, atol=1e-5)
    # The gradients against autograd through plain out-of-place ops in float64.
    xd, wd, sd = x.double(), w.detach().double().requires_grad_(), s.detach().double().requires_grad_()
    nd = noise.detach().double().requires_grad_() if with_noise else None
    d = ((sd.square() @ wd.square().sum([2, 3]).t()) + 1e-8).rsqrt()
    ref = torch.nn.functional.conv2d(xd * sd[:, :, None, None], wd, padding=1) * d[:, :, None, None]
    ref = ref + nd if with_noise else ref
    ref_grads = torch.autograd.grad(ref.square().sum(), [wd, sd] + ([nd] if with_noise else []))
    for g, r in zip(grads, ref_grads):
        assert torch.allclose(g.double(), r, rtol=1e-4, atol=1e-4 * float(r.abs().max())), g.shape
