"""The blocks' activation layout (core/networks/layout.py): which memory format runs where, that the
layout changes no result beyond rounding, and that a bad STYLEGAN_FP16_LAYOUT is one error line."""

import subprocess
import sys

import pytest
import torch

from conftest import REPO

import core.networks.discriminator_stylegan2 as discriminator_module
import core.networks.synthesis_stylegan2 as synthesis_module
from core import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, NoiseControl
from core.networks.layout import activation_layout

CPU, CUDA = torch.device("cpu"), torch.device("cuda")  # (a device object needs no GPU)


def test_layout_policy(monkeypatch):
    monkeypatch.delenv("STYLEGAN_FP16_LAYOUT", raising=False)
    assert activation_layout(CPU, torch.float32) == torch.channels_last
    assert activation_layout(CUDA, torch.float32) == torch.contiguous_format
    assert activation_layout(CUDA, torch.float16) == torch.contiguous_format  # nchw until measured faster
    monkeypatch.setenv("STYLEGAN_FP16_LAYOUT", "NHWC")
    assert activation_layout(CUDA, torch.float16) == torch.channels_last
    assert activation_layout(CUDA, torch.float32) == torch.contiguous_format  # fp32: cuDNN's NCHW kernels
    monkeypatch.setenv("STYLEGAN_FP16_LAYOUT", "nchw")
    assert activation_layout(CUDA, torch.float16) == torch.contiguous_format
    monkeypatch.setenv("STYLEGAN_FP16_LAYOUT", "hwc")
    with pytest.raises(ValueError, match="STYLEGAN_FP16_LAYOUT must be nchw or nhwc, not 'hwc'"):
        activation_layout(CPU, torch.float32)  # checked on every device


def test_conv_weights_follow_channels_last_only_on_gpus():
    from core.networks.layout import conv_weight
    w = torch.randn(8, 4, 3, 3)
    x = torch.randn(2, 4, 6, 6).contiguous(memory_format=torch.channels_last)
    out = conv_weight(w, x.double())
    assert out.dtype == torch.float64 and out.is_contiguous()  # CPU: oneDNN reorders weights itself
    assert conv_weight(w, x) is w


def _conv_input_formats(module: torch.nn.Module) -> list[bool]:
    """Run-time record: for each 3x3 conv layer's input, whether it is channels-last."""
    seen = []
    for name, m in module.named_modules():
        if name.endswith(("conv0", "conv1")) and not name.startswith("b4"):
            m.register_forward_pre_hook(lambda _m, args: seen.append(
                args[0].dim() == 4 and args[0].shape[1] > 1 and not args[0].is_contiguous()
                and args[0].is_contiguous(memory_format=torch.channels_last)))
    return seen


@pytest.mark.parametrize("architecture", ["resnet", "skip", "orig"])
def test_discriminator_in_either_layout_gives_the_same_logits_and_r1_gradients(monkeypatch, architecture):
    """D's blocks run channels-last on the CPU; forced to NCHW they give the same logits, input
    gradients and R1 parameter gradients up to float rounding."""
    torch.manual_seed(0)
    D = Discriminator(DiscriminatorConfig(img_resolution=32, channel_base=1024, channel_max=32,
                                          architecture=architecture))
    formats = _conv_input_formats(D)
    x0 = torch.randn(4, 3, 32, 32)
    results = {}
    for layout in ("default", "nchw"):
        if layout == "nchw":
            monkeypatch.setattr(discriminator_module, "activation_layout", lambda device, dtype: torch.contiguous_format)
        formats.clear()
        D.zero_grad()
        x = x0.clone().requires_grad_(True)
        logits = D(x)
        (g,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
        g.square().sum().backward()
        results[layout] = (logits.detach(), g.detach(),
                           {n: p.grad.clone() for n, p in D.named_parameters() if p.grad is not None})
        assert formats and all(formats) == (layout == "default") and any(formats) == (layout == "default")
    (la, ga, pa), (lb, gb, pb) = results["default"], results["nchw"]
    assert torch.allclose(la, lb, rtol=1e-5, atol=1e-6) and torch.allclose(ga, gb, rtol=1e-4, atol=1e-7)
    assert pa.keys() == pb.keys() and len(pa) > 4
    for name in pa:
        assert torch.allclose(pa[name], pb[name], rtol=1e-3, atol=1e-5 * float(pb[name].abs().max())), name


def test_generator_in_either_layout_gives_the_same_image(monkeypatch):
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(z_dim=32, w_dim=32, mapping_layers=2, img_resolution=32, channel_base=1024,
                                  channel_max=32)).eval()
    formats = _conv_input_formats(G)
    z = torch.randn(2, 32)
    with torch.no_grad():
        a = G(z, noise=NoiseControl("const"))
        assert len(formats) == 7 and all(formats)  # b4.conv1, then conv0 and conv1 of b8, b16, b32
        formats.clear()
        monkeypatch.setattr(synthesis_module, "activation_layout", lambda device, dtype: torch.contiguous_format)
        b = G(z, noise=NoiseControl("const"))
        assert len(formats) == 7 and not any(formats)
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("prog,command", [
    ("stylegan-train", ["core.cli.train", "--data", str(REPO / "tests" / "fixtures" / "mnist_1000.zip"), "--kimg", "0.004"]),
    ("stylegan-generate", ["core.cli.generate", "--seeds", "0"]),
    ("stylegan-explorer", ["explorer", "--screenshot", "shot.png"])])
def test_a_bad_switch_is_one_line_before_anything_is_written(tmp_path, prog, command):
    import os
    env = {**os.environ, "PYTHONPATH": str(REPO), "STYLEGAN_FP16_LAYOUT": "planar"}
    r = subprocess.run([sys.executable, "-m", *command, "--outdir", str(tmp_path / "out")], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [f"{prog}: error: STYLEGAN_FP16_LAYOUT must be nchw or nhwc, not 'planar'"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_commands_without_networks_ignore_the_switches(tmp_path):
    import os
    env = {**os.environ, "PYTHONPATH": str(REPO), "STYLEGAN_FP16_LAYOUT": "planar", "STYLEGAN_KERNELS": "gpu"}
    for module in ("core.cli.dataset", "core.cli.convert"):
        r = subprocess.run([sys.executable, "-m", module, "--help"], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "usage:" in r.stdout, r.stderr
