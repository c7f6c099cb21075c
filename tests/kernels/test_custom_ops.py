"""The custom-op path (kernels/ops.py: the ops with hand-written autograd) run on the CPU
with STYLEGAN_KERNELS=op, against the plain reference path: a whole training step of each flavour
(G main, path length, D main, R1, EMA, ADA) and the networks' forward, backward and double backward
give the same losses and gradients. This is the wrapper a GPU runs around its kernels, so a bug in
it (the in-place crash of the first GPU run, say) shows up here first."""

import pytest
import torch

from conftest import REPO
from kernels import dispatch

MNIST = REPO / "tests" / "fixtures" / "mnist_1000.zip"


@pytest.fixture
def kernel_mode(monkeypatch):
    def use(mode: str):
        monkeypatch.setenv("STYLEGAN_KERNELS", mode)
        dispatch.reset()
    yield use
    dispatch.reset()


def close(a: torch.Tensor, b: torch.Tensor, what: str, rtol=1e-4, atol=1e-6):
    err = float((a - b).abs().max()) if a.numel() else 0.0
    scale = float(b.abs().max()) if b.numel() else 0.0
    assert err <= atol + rtol * scale, f"{what}: max |diff| {err:.3g} (scale {scale:.3g})"


def one_step(arch: str, g_arch: str, d_arch: str) -> dict:
    """Losses, statistics and every gradient after one training step (iteration 0: PL and R1 run;
    intervals of 1, so that they are part of the main steps and every gradient is in p.grad)."""
    from core.training.dataset import ImageDataset
    from core.training.config import TrainConfig
    from core.training.step import Trainer
    cfg = TrainConfig(data=str(MNIST), arch=arch, batch=8, z_dim=16, w_dim=16, map_layers=1, cbase=256, cmax=16,
                      g_arch=g_arch, d_arch=d_arch, mbstd_group=4, conv_clamp=256.0, gamma=1.0, pl_weight=2.0,
                      pl_interval=1, r1_interval=1,
                      aug="ada", p=0.5, ada_interval=1, seed=3)
    if arch == "stylegan1":
        cfg.phase_kimg, cfg.start_res = 1e-6, 8  # straight to the last stage's fade-in
        # StyleGAN1's recipe has no path-length term (the stylegan2 cases cover it): through a 4x4
        # input of near-constant maps and instance norm its gradient is rounding noise that Adam
        # turns into full-size steps, moving D's next gradients on either path.
        cfg.pl_weight = 0.0
        # The biases before an instance norm get gradients that are zero in exact arithmetic:
        # rounding noise, which Adam's first step turns into full-size steps, so G (and the fakes
        # D main sees) would differ between the paths by far more than rounding. G is compared by
        # its gradients; it is not stepped here.
        cfg.glr = 0.0
    dataset = ImageDataset(MNIST, max_images=64)
    trainer = Trainer(cfg, dataset, torch.device("cpu"))
    if arch == "stylegan1":
        # At init the 4x4 input is a constant map (NVIDIA's ones) and noise strengths are 0, so its
        # instance norm divides ~1e-7 rounding differences by sqrt(1e-8): the gradient there is
        # rounding noise on any path. A little noise makes the comparison meaningful.
        with torch.no_grad():
            for name, p in trainer.G.named_parameters():
                if name.endswith("noise_strength"):
                    p.fill_(0.1)
    trainer.step()
    return {
        "stats": trainer.stats.means(),
        "pl_mean": trainer.pl_mean,
        "ada_p": trainer.ada.p,
        "G_grads": {n: p.grad.clone() for n, p in trainer.G.named_parameters() if p.grad is not None},
        "D_grads": {n: p.grad.clone() for n, p in trainer.D.named_parameters() if p.grad is not None},
        "G_ema": {n: p.clone() for n, p in trainer.G_ema.named_parameters()},
    }


@pytest.mark.parametrize("arch,g_arch,d_arch", [("stylegan2", "skip", "resnet"), ("stylegan2", "resnet", "resnet"),
                                                ("stylegan2", "orig", "skip"), ("stylegan1", "skip", "resnet")])
def test_training_step_through_custom_ops_equals_reference(kernel_mode, arch, g_arch, d_arch):
    kernel_mode("ref")
    ref = one_step(arch, g_arch, d_arch)
    kernel_mode("op")
    got = one_step(arch, g_arch, d_arch)
    assert set(got["stats"]) == set(ref["stats"]) >= {"loss_G", "loss_D_real", "loss_D_fake", "r1_penalty"}
    if arch == "stylegan2":
        assert "pl_penalty" in ref["stats"]
    for k, v in ref["stats"].items():
        assert got["stats"][k] == pytest.approx(v, rel=1e-4, abs=1e-6), k
    assert got["pl_mean"] == pytest.approx(ref["pl_mean"], rel=1e-4)
    assert got["ada_p"] == pytest.approx(ref["ada_p"])
    gmax = max(float(t.abs().max()) for t in ref["G_grads"].values())
    for name, g in ref["G_grads"].items():  # Adam turns rounding noise into full-size steps
        if float(g.abs().max()) < 1e-5 * gmax:
            del ref["G_ema"][name], got["G_ema"][name]
    for net in ("G_grads", "D_grads", "G_ema"):
        assert set(got[net]) == set(ref[net]) and ref[net], net
        # Per tensor, relative to the tensor's scale — but no finer than 1e-6 of the network's
        # largest gradient: a gradient that is zero in exact arithmetic (a bias just before an
        # instance norm) is rounding noise on either path.
        floor = 1e-6 * max(float(t.abs().max()) for t in ref[net].values())
        for name in ref[net]:
            close(got[net][name], ref[net][name], f"{net} {name}", rtol=2e-4, atol=floor)


@pytest.mark.parametrize("arch,architecture", [("stylegan2", "skip"), ("stylegan2", "resnet"), ("stylegan1", "skip")])
def test_generator_forward_backward_through_custom_ops(kernel_mode, arch, architecture):
    from core import Generator, GeneratorConfig, NoiseControl
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(arch=arch, z_dim=32, w_dim=32, img_resolution=32, channel_base=512,
                                  channel_max=32, architecture=architecture, conv_clamp=64.0, mapping_layers=2)).train()
    with torch.no_grad():  # (a constant input map into an instance norm: see one_step)
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.1)
    z = torch.randn(4, 32)
    out = {}
    for mode in ("ref", "op"):
        kernel_mode(mode)
        G.zero_grad(set_to_none=True)
        ws = G.mapping(z, None).detach().requires_grad_(True)
        img = G.synthesis(ws, noise=NoiseControl("const"))
        (dws,) = torch.autograd.grad((img * torch.linspace(-1, 1, img.numel()).view_as(img)).sum(), ws, create_graph=True)
        dws.square().sum().backward()  # the path-length pattern: double backward into the weights
        out[mode] = (img.detach(), dws.detach(), {n: p.grad.clone() for n, p in G.named_parameters() if p.grad is not None})
    close(out["op"][0], out["ref"][0], "image")
    close(out["op"][1], out["ref"][1], "d image / d ws")
    assert set(out["op"][2]) == set(out["ref"][2])
    floor = 1e-6 * max(float(g.abs().max()) for g in out["ref"][2].values())
    for name, g in out["ref"][2].items():
        close(out["op"][2][name], g, name, rtol=2e-4, atol=floor)


def test_custom_ops_really_run_in_op_mode(kernel_mode):
    """The op mode must not quietly take the reference path: the networks' graph holds the ops' nodes."""
    from core import Generator, GeneratorConfig, NoiseControl
    G = Generator(GeneratorConfig(z_dim=16, w_dim=16, img_resolution=16, channel_base=256, channel_max=16,
                                  mapping_layers=1))
    names = {}
    for mode in ("ref", "op"):
        kernel_mode(mode)
        img = G(torch.randn(2, 16), noise=NoiseControl("const"))
        seen, stack = set(), [img.grad_fn]
        while stack:
            node = stack.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            stack.extend(n for n, _ in node.next_functions)
        names[mode] = {type(n).__name__ for n in seen}
    assert not any("stylegan" in n.lower() for n in names["ref"])
    assert any("upfirdn2d" in n.lower() for n in names["op"]) and any("biasact" in n.lower() for n in names["op"])
    assert "_ConvBackward" in names["op"] and "_ConvBackward" not in names["ref"]


def test_activated_output_changed_in_place_is_refused_not_wrong(kernel_mode):
    """The saved-tensor contract: a linear, unclamped bias_act output may be changed in place (the
    residual sums do); an activated one may not — on both paths autograd refuses instead of
    returning wrong gradients."""
    from kernels import bias_act
    for mode in ("ref", "op"):
        kernel_mode(mode)
        x = torch.randn(2, 3, 4, 4, requires_grad=True)
        y = bias_act(x * 1, None, act="linear")
        y.add_(1).sum().backward()
        assert torch.equal(x.grad, torch.ones_like(x))
        y = bias_act(x * 1, None, act="lrelu")
        y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_kernel_failure_is_one_line_naming_the_op(kernel_mode, monkeypatch):
    """A kernel that fails at run time surfaces as one KernelError line with the escape hatch."""
    from kernels import ops

    class Broken:
        def upfirdn2d(self, *args):
            raise RuntimeError("upfirdn2d kernel failed: an illegal memory access was encountered\nmore C++ context")

    kernel_mode("auto")
    monkeypatch.setattr(ops, "_kernels_for", lambda x: Broken())
    with pytest.raises(dispatch.KernelError) as info:
        ops.upfirdn2d(torch.randn(1, 2, 8, 8), torch.ones(4, 4) / 16, up=2, padding=[2, 1, 2, 1], gain=4)
    msg = str(info.value)
    assert "\n" not in msg and "upfirdn2d" in msg and "illegal memory access" in msg and "STYLEGAN_KERNELS=ref" in msg


def test_commands_print_a_kernel_failure_as_one_line(capsys):
    from core.cli.common import cli_entry

    @cli_entry("stylegan-generate")
    def main(argv):
        raise dispatch.kernel_failed("bias_act", RuntimeError("bias_act kernel failed: no kernel image is available"))

    assert main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CUDA kernel bias_act failed" in err and "STYLEGAN_KERNELS=ref" in err


@pytest.mark.parametrize("transpose,stride,padding,groups", [(False, 1, 1, 1), (False, 2, 0, 1), (True, 2, 0, 1),
                                                             (False, 1, 1, 2), (True, 2, 1, 2)])
def test_conv_derivatives_of_every_order(kernel_mode, transpose, stride, padding, groups):
    """kernels.conv2d / conv_transpose2d: torch's forward bit for bit; first and second derivatives
    against finite differences; no_weight_gradients skips exactly the weight gradient."""
    import torch.nn.functional as F
    import kernels.conv2d_gradfix as cm
    from kernels import conv2d, conv_transpose2d, no_weight_gradients
    kernel_mode("op")
    torch.manual_seed(0)
    x = torch.randn(2, 4, 7, 6, dtype=torch.float64, requires_grad=True)
    shape = (4, 6 // groups, 3, 3) if transpose else (6, 4 // groups, 3, 3)
    w = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    ours = (lambda a, b: conv_transpose2d(a, b, stride=stride, padding=padding, groups=groups)) if transpose else \
        (lambda a, b: conv2d(a, b, stride=stride, padding=padding, groups=groups))
    torch_fn = (lambda a, b: F.conv_transpose2d(a, b, stride=stride, padding=padding, groups=groups)) if transpose else \
        (lambda a, b: F.conv2d(a, b, stride=stride, padding=padding, groups=groups))
    assert torch.equal(ours(x, w), torch_fn(x, w))
    assert torch.autograd.gradcheck(ours, (x, w))
    assert torch.autograd.gradgradcheck(ours, (x, w))
    # The regulariser pattern: input gradient with the weight gradient switched off, then its norm's
    # gradient into the weights — as torch computes it, and with no weight-gradient op in the first pass.
    calls = []
    forward = cm._ConvWeightGrad.forward
    cm._ConvWeightGrad.forward = staticmethod(lambda *a: calls.append(1) or forward(*a))
    try:
        grads = {}
        for name, fn in (("ours", ours), ("torch", torch_fn)):
            w.grad = None
            with no_weight_gradients():
                (gx,) = torch.autograd.grad(fn(x, w).tanh().sum(), x, create_graph=True)
            first_pass_calls = len(calls)
            gx.square().sum().backward()
            grads[name] = w.grad.clone()
            if name == "ours":
                assert first_pass_calls == 0 and len(calls) > 0
    finally:
        cm._ConvWeightGrad.forward = forward
    assert torch.allclose(grads["ours"], grads["torch"], rtol=1e-10, atol=1e-12)


def test_gpu_check_dry_run(tmp_path):
    """benchmarks/gpu_check.sh, the one command a GPU machine runs, goes through every step on the
    CPU (small sizes, STYLEGAN_KERNELS=op) and writes its report — so a GPU session never spends its
    minutes on a broken script."""
    import json
    import subprocess
    r = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--dry-run", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert set(report["steps"]) == {"selftest", "cuda_tests", "stylegan_train", "stylegan_generate", "train_kernels",
                                    "train_kernels_nhwc", "train_reference", "kernels", "stylegan3_reference"}
    assert all(s["status"] == "ok" for s in report["steps"].values())
    assert report["stylegan_train"]["generated_pngs"] == 8
    assert report["train"]["kernels"]["kernels"] == "op" and report["train"]["reference"]["kernels"] == "ref"
    assert [report["train"][k]["fp16_layout"] for k in ("kernels", "kernels_nhwc", "reference")] == ["nchw", "nhwc", "nchw"]
    assert report["summary"]["fp16_layout_faster"] in ("nchw", "nhwc") and "train_nhwc_sec_per_kimg" in report["summary"]
    assert {"G reg (PL)", "D reg (R1)"} <= set(report["train"]["kernels"]["profile"])
    profile = report["train"]["kernels"]["profile"]  # what says whether the GPU or the launch rate bounds a step
    assert all(profile[k]["launches"] > 0 and profile[k]["wall_ms"] >= profile[k]["total_ms"] * 0.5
               for k in ("G main", "G reg (PL)", "D main", "D reg (R1)"))
    assert report["summary"]["train_launches_per_step"] > 0 and report["train"]["kernels"]["device_ms_per_step"] > 0
    assert {row["op"] for row in report["kernels"]["upfirdn2d"]} == {"up2", "down2", "fir"}
    assert "| training (s/kimg) |" in (tmp_path / "gpu_check.md").read_text()
    assert report["stylegan3"]["reference"]["results"][0]["arch"] == "stylegan3-t"  # (#21's GPU figure)
    assert "| StyleGAN3-T generator, batch 1 |" in (tmp_path / "gpu_check.md").read_text()
    # Out of time: an optional step left out is not a failure, a required one is.
    import importlib.util
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    deadline = "skipped (overall deadline)"
    assert gpu_check.passed("train_kernels_nhwc", deadline) and gpu_check.passed("stylegan3_fused", deadline)
    assert not gpu_check.passed("kernels", deadline) and not gpu_check.passed("train_kernels", deadline)
    assert not gpu_check.passed("train_reference", "failed (exit 1)") and gpu_check.passed("selftest", "ok")
    # The device machine returns at most 8 files: the report is three, every log inside the tarball.
    assert sorted(f.name for f in tmp_path.iterdir()) == ["gpu_check.json", "gpu_check.md", "logs.tar.gz"]
    import tarfile
    with tarfile.open(tmp_path / "logs.tar.gz") as tar:
        assert {"logs/selftest.log", "logs/train_kernels.json", "logs/kernels.json"} <= set(tar.getnames())
