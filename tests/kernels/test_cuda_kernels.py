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
        grads[mode] = {n: p.grad.clone() for n, p in D.named_parameters() if p.grad is not None}
    # R1 reaches only what the input gradient depends on. A bias that only moves an activation's
    # mask (b4.conv, b4.fc: after the minibatch-stddev layer) gets exact zeros through the reference's
    # autograd and no gradient at all through bias_act's (it detaches the mask); the last layer's
    # bias (b4.out) none on either path. Compare values, a missing gradient read as zero.
    zero = torch.zeros(())
    for name in set(grads["ref"]) ^ set(grads["cuda"]):
        assert (grads["ref"].get(name, zero) == 0).all() and (grads["cuda"].get(name, zero) == 0).all(), name
    assert "b4.out.bias" not in grads["ref"] and "b4.out.bias" not in grads["cuda"]
    reached = set(grads["ref"]) & set(grads["cuda"])
    assert len(reached) > len(list(D.parameters())) // 2
    for name in reached:
        assert torch.allclose(grads["cuda"][name], grads["ref"][name], rtol=1e-3, atol=1e-5), name


@pytest.mark.parametrize("arch", ["stylegan2", "stylegan1"])
def test_training_step_on_cuda_default_mode_equals_reference(monkeypatch, arch):
    """The first GPU run crashed here (bias_act's saved output changed in place); the default kernel
    mode must train, and give the reference path's losses and penalties."""
    from conftest import REPO
    from core.training.dataset import ImageDataset
    from core.training.config import TrainConfig
    from core.training.step import Trainer
    from kernels import dispatch
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    mnist = REPO / "tests" / "fixtures" / "mnist_1000.zip"
    stats = {}
    for mode in ("ref", "auto"):
        monkeypatch.setenv("STYLEGAN_KERNELS", mode)
        dispatch.reset()
        cfg = TrainConfig(data=str(mnist), arch=arch, batch=8, z_dim=32, w_dim=32, map_layers=2, cbase=1024, cmax=64,
                          mbstd_group=4, gamma=1.0, pl_weight=2.0, aug="ada", p=0.3, seed=1)
        if arch == "stylegan1":
            cfg.phase_kimg, cfg.start_res = 1e-6, 8
        trainer = Trainer(cfg, ImageDataset(mnist, max_images=64), torch.device("cuda"))
        trainer.step()  # iteration 0: G main, PL, D main, R1, EMA, ADA all run (one step: Adam would
        stats[mode] = trainer.stats.means()  # turn rounding differences into full-size updates)
    for k, v in stats["ref"].items():
        assert stats["auto"][k] == pytest.approx(v, rel=2e-3, abs=1e-4), k


@pytest.mark.parametrize("mode", ["auto", "ref"])
def test_training_phases_never_synchronise(monkeypatch, mode):
    """A step's phases queue kernels without waiting for the GPU (CUDA's own detector raises on any
    synchronising call: a read, a blocking upload); ADA reads its signs once per interval, outside."""
    from conftest import REPO
    from core.training.config import TrainConfig
    from core.training.dataset import ImageDataset
    from core.training.step import Trainer
    from kernels import dispatch
    monkeypatch.setenv("STYLEGAN_KERNELS", mode)
    dispatch.reset()
    mnist = REPO / "tests" / "fixtures" / "mnist_1000.zip"
    cfg = TrainConfig(data=str(mnist), batch=8, batch_gpu=4, z_dim=32, w_dim=32, map_layers=2, cbase=1024, cmax=64,
                      mbstd_group=4, gamma=1.0, pl_weight=2.0, aug="ada", p=0.3, mirror=True, seed=1, cond=True)
    tr = Trainer(cfg, ImageDataset(mnist, max_images=64), torch.device("cuda"))
    tr.step()  # (cuDNN's algorithm search and first allocations synchronise: warm up first)
    phases = ["g_main", "g_path_length", "g_update", "d_main", "d_r1", "d_update", "ema"]
    for name in phases:
        run = getattr(tr, name)

        def strict(run=run):
            torch.cuda.set_sync_debug_mode("error")
            try:
                run()
            finally:
                torch.cuda.set_sync_debug_mode("default")
        setattr(tr, name, strict)
    for _ in range(16):  # every lazy regulariser
        tr.step()
    tr.settle()
    assert tr.iteration == 17 and tr.stats.means()["loss_G"] > 0


@pytest.mark.parametrize("radial", [False, True])
def test_stylegan3_with_the_fused_filtered_lrelu_equals_reference(monkeypatch, radial):
    """StyleGAN3-T and -R on the GPU: the fused filtered_lrelu kernel (STYLEGAN_KERNELS=cuda) gives
    the reference's image; with gradients the composite ops run and the gradients match too."""
    from core import Generator, GeneratorConfig
    from kernels import dispatch
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(arch="stylegan3", img_resolution=64, channel_base=4096, channel_max=128,
                                  z_dim=64, w_dim=64, mapping_layers=2, conv_kernel=1 if radial else 3,
                                  use_radial_filters=radial, use_noise=False)).eval().cuda()
    z = torch.randn(2, 64, device="cuda")
    images, grads = {}, {}
    for mode in ("ref", "cuda"):
        monkeypatch.setenv("STYLEGAN_KERNELS", mode)
        dispatch.reset()
        with torch.no_grad():
            images[mode] = G(z)
        ws = G.mapping(z, None).detach().requires_grad_(True)
        (G.synthesis(ws) ** 2).sum().backward()
        grads[mode] = ws.grad
    assert (images["ref"] - images["cuda"]).abs().max() <= 1e-4
    assert (grads["ref"] - grads["cuda"]).abs().max() <= 1e-3 * grads["ref"].abs().max()


# Last in the file: were a vector kernel to fault on a GPU, the CUDA context would be lost for every
# test after it.
@pytest.mark.parametrize("arch", ["resnet", "skip"])
def test_fp16_channels_last_training_step_equals_nchw(monkeypatch, arch):
    """STYLEGAN_FP16_LAYOUT=nhwc (the fp16 blocks channels-last, no cuDNN transposes): the fp16 blocks
    really run channels-last, and a training step gives NCHW's losses and penalties (fp16 rounding)."""
    from conftest import REPO
    from core.training.config import TrainConfig
    from core.training.dataset import ImageDataset
    from core.training.step import Trainer
    from kernels import dispatch
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    dispatch.reset()
    mnist = REPO / "tests" / "fixtures" / "mnist_1000.zip"
    stats = {}
    for layout in ("nchw", "nhwc"):
        monkeypatch.setenv("STYLEGAN_FP16_LAYOUT", layout)
        cfg = TrainConfig(data=str(mnist), batch=8, z_dim=32, w_dim=32, map_layers=2, cbase=1024, cmax=64,
                          mbstd_group=4, gamma=1.0, pl_weight=2.0, aug="ada", p=0.3, seed=1, num_fp16_res=2,
                          conv_clamp=256.0, g_arch=arch, d_arch=arch)
        trainer = Trainer(cfg, ImageDataset(mnist, max_images=64), torch.device("cuda"))
        seen = []
        for name, m in trainer.D.named_modules():
            if name == "b32.conv0":  # an fp16 block (32² of a 32² D, num_fp16_res 2)
                m.register_forward_pre_hook(lambda _m, a: seen.append((a[0].dtype, a[0].is_contiguous())))
        trainer.step()
        assert seen and all(dtype == torch.float16 for dtype, _ in seen)
        assert all(contiguous == (layout == "nchw") for _, contiguous in seen)
        stats[layout] = trainer.stats.means()
    for k, v in stats["nchw"].items():
        assert stats["nhwc"][k] == pytest.approx(v, rel=2e-2, abs=2e-3), k


@pytest.mark.parametrize("up,down", [(1, 1), (2, 1), (1, 2)])
def test_channels_last_fp16_convolutions_get_channels_last_weights(up, down):
    """In the nhwc layout every convolution gets its weight channels-last too (no per-call weight
    transpose in cuDNN), and gives the NCHW result (fp16 rounding)."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from core.networks.layers import Conv2dLayer

    class Weights(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.formats = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in (torch.ops.aten.convolution.default, torch.ops.aten.cudnn_convolution.default) \
                    and tuple(args[1].shape) == (48, 32, 3, 3):  # the layer's weight, not a resampling filter
                self.formats.append(args[1].is_contiguous(memory_format=torch.channels_last))
            return func(*args, **(kwargs or {}))

    torch.manual_seed(0)
    layer = Conv2dLayer(32, 48, kernel_size=3, activation="lrelu", up=up, down=down).cuda()
    x = torch.randn(4, 32, 16, 16, device="cuda", dtype=torch.float16)
    with torch.no_grad():
        with Weights() as seen:
            y_cl = layer(x.contiguous(memory_format=torch.channels_last))
        y = layer(x)
    if up == 1:  # (a transposed convolution's weight is [I, O, k, k]: transposed from the layer's)
        assert seen.formats and all(seen.formats)
    assert y_cl.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(y_cl.float(), y.float(), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_vector_io_kernels_equal_the_scalar_ones(dtype):
    """The upfirdn2d kernels with 16-byte vector I/O (NCHW tiles; channels_last one thread per channel
    vector) against the scalar-I/O ones on StyleGAN2's resamplings at real sizes: the same sums in the
    same order, so the same bits — on dense tensors, views with longer rows or pixels, views off a
    16-byte boundary (NCHW: vector loads at each row's own boundaries; channels_last: the launcher
    falls back to the tiles), and more planes than a grid holds."""
    from kernels import ops, setup_filter
    ext = ops.extension()
    f = setup_filter([1, 3, 3, 1]).cuda()
    gen = torch.Generator(device="cuda").manual_seed(0)
    cases = [((2, 32, 64, 64), 2, 1, [2, 1, 2, 1], 4.0), ((2, 32, 128, 128), 1, 2, [1, 1, 1, 1], 1.0),
             ((2, 32, 129, 129), 1, 1, [1, 1, 1, 1], 4.0), ((2, 32, 64, 64), 1, 1, [2, 2, 2, 2], 1.0),
             ((2, 32, 128, 128), 1, 2, [1, 2, 1, 2], 1.0)]
    cases.append(((600, 128, 32, 32), 1, 2, [1, 1, 1, 1], 1.0))  # 76800 planes: more than a grid's 65535
    for shape, up, down, (px0, px1, py0, py1), gain in cases:
        n, c, h, w = shape
        nchw = torch.randn(n, c, h, w + 8, device="cuda", generator=gen).to(dtype)
        nhwc = torch.randn(n, h, w, c + 8, device="cuda", generator=gen).to(dtype)
        flat = torch.randn(n * c * h * w + 8, device="cuda", generator=gen).to(dtype)
        inputs = {"NCHW": nchw[..., :w].contiguous(), "NCHW, rows 8 longer": nchw[..., :w],
                  "NCHW, 2-4 bytes in": nchw[..., 1:w + 1],
                  "NHWC": nhwc[..., :c].contiguous().permute(0, 3, 1, 2),
                  "NHWC, pixels 8 longer": nhwc[..., :c].permute(0, 3, 1, 2),
                  "NHWC, 4 elements in": flat[4:4 + n * c * h * w].view(n, h, w, c).permute(0, 3, 1, 2),
                  "NHWC, 2-4 bytes in": flat[1:1 + n * c * h * w].view(n, h, w, c).permute(0, 3, 1, 2)}
        for name, x in inputs.items():
            if shape[0] == 600 and name != "NCHW":
                continue
            args = (f, up, up, down, down, px0, px1, py0, py1, False, gain)
            y_vec = ext.upfirdn2d(x, *args, ops.UFD_4X4)
            y_scalar = ext.upfirdn2d(x, *args, ops.UFD_4X4_SCALAR_IO)
            assert torch.equal(y_vec, y_scalar), (shape, up, down, name)
