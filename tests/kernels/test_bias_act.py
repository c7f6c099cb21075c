"""bias_act reference semantics, gradients, and the CUDA/reference dispatch."""

import math
import warnings

import pytest
import torch

from kernels import ACTIVATIONS, bias_act, dispatch


def test_lrelu_default_gain_and_bias():
    torch.manual_seed(57)  # (this draw has an x + b near 0: the check must not depend on luck)
    x = torch.randn(2, 4, 3, 3)
    b = torch.randn(4)
    y = bias_act(x, b, act="lrelu")
    t = x + b.view(1, -1, 1, 1)
    # The reference computes act(g x + g b): the same up to float32 rounding of the sum (absolute,
    # not relative, where x + b cancels).
    assert torch.allclose(y, torch.where(t >= 0, t, 0.2 * t) * math.sqrt(2), rtol=1e-5, atol=1e-6)


def test_linear_gain_clamp_and_dim():
    x = torch.randn(5, 3) * 10
    b = torch.randn(5)
    y = bias_act(x, b, dim=0, act="linear", gain=3.0, clamp=4.0)
    assert torch.allclose(y, ((x + b[:, None]) * 3).clamp(-4, 4))
    assert y.abs().max() <= 4


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_gradgradcheck(act):
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    fn = lambda x, b: bias_act(x, b, act=act, gain=1.5)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, b))
    if act not in ("relu", "lrelu"):  # piecewise-linear: second derivative is zero, still checked
        assert torch.autograd.gradgradcheck(fn, (x, b))
    else:
        assert torch.autograd.gradgradcheck(fn, (x + 0.01 * torch.sign(x), b))


def test_bad_activation_and_bias():
    with pytest.raises(ValueError, match="unknown activation"):
        bias_act(torch.randn(2, 2), act="nope")
    with pytest.raises(ValueError):
        bias_act(torch.randn(2, 3), torch.randn(4))


def test_dispatch_modes(monkeypatch):
    monkeypatch.setenv("STYLEGAN_KERNELS", "bogus")
    with pytest.raises(ValueError, match="STYLEGAN_KERNELS"):
        dispatch.kernel_mode()
    expected = {"ref": (False, False), "op": (True, True), "cuda": (False, True), "auto": (False, True)}
    for mode, (on_cpu, on_cuda) in expected.items():
        monkeypatch.setenv("STYLEGAN_KERNELS", mode)
        assert dispatch.use_custom_ops(is_cuda=False) is on_cpu, mode
        assert dispatch.use_custom_ops(is_cuda=True) is on_cuda, mode
    for mode in ("ref", "op"):  # never a compiler, whatever the device
        monkeypatch.setenv("STYLEGAN_KERNELS", mode)
        assert dispatch.compiled_kernels() is None


def test_failed_build_warns_once_and_falls_back(monkeypatch):
    import kernels.build
    calls = []

    def failing_loader():
        calls.append(1)
        raise RuntimeError("ninja: build stopped: subcommand failed")

    monkeypatch.setattr(kernels.build, "load_extension", failing_loader)
    dispatch.reset()
    monkeypatch.setenv("STYLEGAN_KERNELS", "auto")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert dispatch.compiled_kernels() is None
        assert dispatch.compiled_kernels() is None
    assert len(calls) == 1 and len(seen) == 1 and "ninja" in str(seen[0].message)
    monkeypatch.setenv("STYLEGAN_KERNELS", "cuda")
    with pytest.raises(dispatch.KernelError, match="building the CUDA kernels failed .*ninja.*STYLEGAN_KERNELS=ref"):
        dispatch.compiled_kernels()
    dispatch.reset()


def test_built_module_is_loaded_once(monkeypatch):
    import kernels.build
    marker, calls = object(), []
    monkeypatch.setattr(kernels.build, "load_extension", lambda: calls.append(1) or marker)
    dispatch.reset()
    monkeypatch.setenv("STYLEGAN_KERNELS", "auto")
    assert dispatch.compiled_kernels() is marker and dispatch.compiled_kernels() is marker
    assert calls == [1]
    dispatch.reset()
