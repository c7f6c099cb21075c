"""stylegan-train's time-based ticks and snapshots, the CPU speed report, the progress bar of a
resumed run, and NVIDIA's --mirror / --freezed / --dry-run (#22 items 8, 12, 14)."""

import io
import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO
from core.cli import train as train_cli
from core.training import run as run_module
from core.training.config import TrainConfig
from core.training.dataset import ImageDataset
from core.training.step import Trainer

MNIST = REPO / "tests" / "fixtures" / "mnist_1000.zip"
TINY = ["--cbase", "256", "--cmax", "16", "--z-dim", "16", "--w-dim", "16", "--map", "1", "--batch", "8",
        "--tick", "0.032", "--mbstd-group", "4"]


def only_run(outdir):
    (run,) = [p for p in outdir.iterdir() if p.is_dir()]
    return run


def stats(run):
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def asymmetric(tmp_path_factory):
    """Four 8x8 images, each a bright column at a different place: a mirrored one is told apart."""
    folder = tmp_path_factory.mktemp("asym")
    for i in range(4):
        a = np.zeros((8, 8), np.uint8)
        a[:, i] = 255
        Image.fromarray(a).save(folder / f"img{i}.png")
    return ImageDataset(folder)


def tiny_cfg(**kw) -> TrainConfig:
    return TrainConfig(batch=4, cbase=64, cmax=8, z_dim=8, w_dim=8, map_layers=1, mbstd_group=2, aug="noaug",
                       pl_weight=0, **kw)


def test_mirror_shows_every_image_also_flipped(asymmetric):
    tr = Trainer(tiny_cfg(mirror=True), asymmetric, torch.device("cpu"))
    assert tr.num_reals == 8
    epoch = []
    while len(epoch) < 8:  # one epoch: each of the 8 (image, flip) pairs once
        epoch += tr.batch_indices().tolist()
        tr.nimg += 4
    assert sorted(epoch) == list(range(8))
    x, _ = tr.real_images(torch.tensor([1, 5]))
    assert torch.equal(x[1], x[0].flip(-1)) and not torch.equal(x[0], x[1])
    plain = Trainer(tiny_cfg(), asymmetric, torch.device("cpu"))
    assert plain.num_reals == 4 and max(plain.batch_indices().tolist()) < 4


def test_freezed_keeps_ds_first_layers_as_they_are(asymmetric):
    tr = Trainer(tiny_cfg(freezed=3, gamma=1.0, r1_interval=1), asymmetric, torch.device("cpu"))
    assert tr.frozen == ["b8.fromrgb", "b8.conv0", "b8.conv1"]  # NVIDIA's order from the image side
    before = {k: v.clone() for k, v in tr.D.state_dict().items()}
    optimised = {id(p) for group in tr.opt_D.param_groups for p in group["params"]}
    tr.step()
    after = tr.D.state_dict()
    for name, param in tr.D.named_parameters():
        frozen = name.split(".")[0] + "." + name.split(".")[1] in tr.frozen
        assert (id(param) in optimised) != frozen, name
        assert torch.equal(before[name], after[name]) == frozen, name
    with pytest.raises(ValueError, match="has 4 layers \\(at most 4\\)"):  # b8: fromrgb, conv0, conv1, skip
        Trainer(tiny_cfg(freezed=5), asymmetric, torch.device("cpu"))


def test_dry_run_prints_options_and_sizes_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "runs"
    assert train_cli.main(["--data", str(MNIST), "--outdir", str(out), "--dry-run", "--mirror", "--freezed", "2",
                           *TINY]) == 0
    text = capsys.readouterr().out
    assert json.loads(text[text.index("{"): text.index("\n}") + 2])["mirror"] is True
    assert "1000 images x2 mirrored" in text and "Generator:" in text and "M parameters" in text
    assert "--freezed 2: b32.fromrgb, b32.conv0" in text and "Dry run" in text
    assert not out.exists()
    assert train_cli.main(["--data", str(MNIST), "--outdir", str(out), "--dry-run", "--freezed", "99", *TINY]) == 2
    assert "--freezed 99: this D has 10 layers (at most 10)" in capsys.readouterr().err
    # Without --dry-run the same refusal leaves no empty run folder behind.
    assert train_cli.main(["--data", str(MNIST), "--outdir", str(out), "--freezed", "99", *TINY]) == 2
    assert "at most 10" in capsys.readouterr().err and not any(out.iterdir())


def test_first_tick_and_snapshots_come_on_time(tmp_path, monkeypatch, capsys):
    """A tick ends at --tick kimg or after FIRST_TICK_SECONDS (the first progress line comes within a
    minute on any machine); a snapshot is also written --snap-minutes after the last; on a CPU the
    first steps' speed is reported, with smaller networks suggested when slow."""
    monkeypatch.setattr(run_module, "FIRST_TICK_SECONDS", 0.0)  # every step is "a minute"
    monkeypatch.setattr(run_module, "SLOW_CPU_SEC_PER_KIMG", 0.0)  # every CPU is slow
    args = ["--data", str(MNIST), "--outdir", str(tmp_path), *TINY, "--tick", "100", "--cbase", "8192",
            "--kimg", "0.024", "--snap", "1000", "--snap-minutes", "0.00001"]
    assert train_cli.main(args) == 0
    run = only_run(tmp_path)
    ticks = stats(run)
    assert [t["kimg"] for t in ticks][:1] == [0.008]  # the first tick ended after one step of 8 images
    assert ticks[-1]["kimg"] == 0.024
    snaps = sorted(p.name for p in run.glob("network-snapshot-*.pt"))
    assert len(snaps) == len(ticks) >= 2  # --snap 1000 ticks, yet one per tick: the time had passed
    log = (run / "log.txt").read_text()
    assert "on this CPU the first 1 step ran at about" in log and "of --kimg 0.024 would take about" in log
    assert "--cbase 4096 --cmax 128" in log


def test_resumed_progress_bar_ends_exactly_without_warnings():
    """A resumed run's bar starts at its image count and ends at its total: no TqdmWarning about a
    fraction past 1, no negative time left (adding 0.008 kimg floats used to overshoot)."""
    out = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bar = run_module.progress_bar(300, 200, True, file=out)
        bar.mininterval, bar.miniters = 0, 1  # draw every update
        nimg = 200
        while nimg < 300:
            nimg += 8
            bar.update(min(nimg, 300) - bar.n)  # as TrainingRun.run advances it
        bar.close()
    assert bar.n == 300 and "<-" not in out.getvalue() and "0.3/0.3 kimg" in out.getvalue()


def test_reals_are_read_once_per_step_and_chunk(asymmetric, monkeypatch):
    """D main and R1 take the same reals: one read (on a GPU, one upload) per step and chunk, not two."""
    tr = Trainer(tiny_cfg(gamma=1.0, r1_interval=1, batch_gpu=2), asymmetric, torch.device("cpu"))
    calls = []
    real_batch = asymmetric.batch
    monkeypatch.setattr(asymmetric, "batch", lambda idx, device="cpu": calls.append(idx.tolist()) or real_batch(idx, device))
    tr.step()
    assert len(calls) == tr.rounds == 2 and "r1_penalty" in tr.stats.means()


@pytest.mark.parametrize("value,says", [("", "names no metric"), (",", "names no metric"),
                                        ("fid1k,", "has an empty item"), ("kid50k", "unknown metric")])
def test_a_metrics_list_that_names_no_metric_is_refused(tmp_path, capsys, value, says):
    """--metrics '' (or ',') trained with no metric, silently; 'none' is how to ask for none."""
    code = train_cli.main(["--data", str(tmp_path / "x.zip"), "--metrics", value, "--outdir", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("stylegan-train: error: --metrics: ") and says in err[0]
    assert not (tmp_path / "runs").exists()


def _adam_steps(opt) -> int:
    return int(next(iter(opt.state.values()))["step"])


@pytest.mark.parametrize("pl_interval,r1_interval", [(4, 16), (1, 1)])
def test_lazy_regularisers_step_on_their_own_with_nvidias_adam_adjustment(asymmetric, pl_interval, r1_interval):
    """StyleGAN2 appendix B / NVIDIA's training_loop: a regulariser run every k > 1 steps gets its
    own optimiser step (Greg/Dreg phases), and that network's Adam runs with lr*c and betas**c,
    c = k/(k+1); at k = 1 it is part of the main step ('both'), unadjusted. (It was always folded
    into the main step, with the unadjusted lr and betas.)"""
    cfg = tiny_cfg(glr=0.002, dlr=0.003, pl_interval=pl_interval, r1_interval=r1_interval, gamma=1.0)
    cfg.pl_weight = 2.0
    tr = Trainer(cfg, asymmetric, torch.device("cpu"))
    for opt, lr, k in ((tr.opt_G, 0.002, pl_interval), (tr.opt_D, 0.003, r1_interval)):
        c = k / (k + 1) if k > 1 else 1.0
        group = opt.param_groups[0]
        assert group["lr"] == pytest.approx(lr * c) and group["betas"] == pytest.approx((0.0, 0.99 ** c))
    for it in range(1, 6):
        tr.step()
        reg_g = sum(1 for i in range(it) if i % pl_interval == 0) if pl_interval > 1 else 0
        reg_d = sum(1 for i in range(it) if i % r1_interval == 0) if r1_interval > 1 else 0
        assert _adam_steps(tr.opt_G) == it + reg_g and _adam_steps(tr.opt_D) == it + reg_d, it


def test_path_length_penalty_uses_the_moved_mean_and_differentiates_through_it():
    """NVIDIA: pl_mean = self.pl_mean.lerp(pl_lengths.mean(), decay); penalty = (pl_lengths - pl_mean)²,
    pl_mean not detached. (The penalty used the previous, detached mean.)"""
    from core.training.losses import path_length_penalty
    torch.manual_seed(0)
    ws = torch.randn(3, 4, 5, requires_grad=True)
    weight = torch.randn(5, 2 * 4 * 4, requires_grad=True)
    img = (ws.mean(1) @ weight).view(3, 2, 4, 4)
    penalty, lengths = path_length_penalty(img, ws, torch.tensor(0.7, dtype=torch.float64), torch.Generator().manual_seed(1),
                                           decay=0.01)
    target = 0.7 + (lengths.mean() - 0.7) * 0.01  # (not detached)
    want = (lengths - target).square().mean()
    assert penalty.item() == pytest.approx(want.item(), rel=1e-6)
    (g,) = torch.autograd.grad(penalty, weight, retain_graph=True)
    (g_want,) = torch.autograd.grad(want, weight, retain_graph=True)
    (g_detached,) = torch.autograd.grad((lengths - target.detach()).square().mean(), weight)
    assert torch.allclose(g, g_want, rtol=1e-5, atol=1e-8) and not torch.allclose(g, g_detached, rtol=1e-3)
