"""stylegan-train on real data (MNIST digits, tests/fixtures/mnist_1000.zip), as users run it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO, run_cli
from core.training.run import kimg_text, latest_snapshot

MNIST = REPO / "tests" / "fixtures" / "mnist_1000.zip"
TINY = ["--cbase", "256", "--cmax", "16", "--z-dim", "16", "--w-dim", "16", "--map", "1", "--batch", "8",
        "--tick", "0.032", "--mbstd-group", "4"]


def train(*args, cwd=None, timeout=600, env_extra=None):
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": "/tmp/stylegan-test-cache", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "core.cli.train", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


def only_run(outdir: Path) -> Path:
    (run,) = [p for p in outdir.iterdir() if p.is_dir()]
    return run


@pytest.mark.parametrize("arch,extra", [("stylegan2", []),
                                        ("stylegan1", ["--phase-kimg", "0.04", "--start-res", "8"])])
def test_train_each_flavour_then_generate(tmp_path, arch, extra):
    r = train("--data", str(MNIST), "--outdir", str(tmp_path), "--arch", arch, "--kimg", "0.32", "--snap", "5",
              *TINY, *extra)
    assert r.returncode == 0, r.stderr
    run = only_run(tmp_path)
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert len(stats) == 10 and stats[-1]["kimg"] == pytest.approx(0.32)
    assert all(np.isfinite(s["loss_G"]) and np.isfinite(s["loss_D_real"]) for s in stats)
    if arch == "stylegan1":  # grew 8 -> 16 -> 32 with fade-ins
        assert [s["stage_res"] for s in stats][0] == 8 and stats[-1]["stage_res"] == 32
        assert any(0 < s["alpha"] < 1 for s in stats)
    for name in ("reals.png", "fakes_init.png", "plot.png", "training_options.json", "log.txt"):
        assert (run / name).exists(), name
    # every 5 ticks: at 0.16 and 0.32 kimg, two files (one name for both once overwrote the first)
    assert sorted(p.name for p in run.glob("network-snapshot-*.pt")) == ["network-snapshot-000000.160.pt",
                                                                          "network-snapshot-000000.320.pt"]
    snap = latest_snapshot(run)
    out = tmp_path / "gen"
    g = run_cli("stylegan-generate", "--pkl", str(snap), "--seeds", "0-3", "--outdir", str(out))
    assert g.returncode == 0, g.stderr
    assert np.asarray(Image.open(out / "seed0002.png")).shape == (32, 32)


def test_resume_after_kill_continues_exactly(tmp_path):
    common = ["--data", str(MNIST), "--kimg", "0.384", "--snap", "3", "--seed", "7", *TINY]
    # The reference: one uninterrupted run.
    ref = train(*common, "--outdir", str(tmp_path / "ref"))
    assert ref.returncode == 0, ref.stderr
    ref_final = latest_snapshot(only_run(tmp_path / "ref"))
    # The interrupted run: killed once its first snapshot exists (a few ticks later at most).
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": "/tmp/stylegan-test-cache"}
    proc = subprocess.Popen([sys.executable, "-m", "core.cli.train", *common, "--outdir", str(tmp_path / "cut")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:
        runs = list((tmp_path / "cut").glob("*/network-snapshot-*.pt")) if (tmp_path / "cut").exists() else []
        if runs:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run = only_run(tmp_path / "cut")
    snap = torch.load(next(run.glob("network-snapshot-*.pt")), weights_only=True)
    assert 0 < snap["training"]["nimg"] < 384
    with open(run / "stats.jsonl", "a") as f:  # a kill mid-append (an older version appended in place)
        f.write('{"tick": 99, "kimg": 0.0')
    r = train("--resume", str(run))
    assert r.returncode == 0, r.stderr  # (it stopped: "Unterminated string ...", the run unresumable)
    # Resumed from the snapshot's images-seen count, with its optimiser state...
    log = (run / "log.txt").read_text()
    assert "stats.jsonl: dropped 1 damaged line" in log
    assert f"from {kimg_text(snap['training']['nimg'])} kimg" in log
    final = torch.load(latest_snapshot(run), weights_only=True)
    ref_data = torch.load(ref_final, weights_only=True)
    assert final["training"]["nimg"] == ref_data["training"]["nimg"] == 384
    # ...and ends bit for bit where the uninterrupted run ended.
    for part in ("G", "D"):
        for k, v in ref_data["training"][part].items():
            assert torch.equal(v, final["training"][part][k]), (part, k)
    assert ref_data["training"]["opt_G"]["state"][0]["exp_avg"].equal(final["training"]["opt_G"]["state"][0]["exp_avg"])
    assert ref_data["training"]["ada"] == final["training"]["ada"]
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert [s["tick"] for s in stats] == list(range(1, 13))  # no duplicated ticks from the cut session


def test_two_process_torchrun_matches_single_process(tmp_path):
    common = ["--data", str(MNIST), "--kimg", "0.064", "--snap", "1", "--batch-gpu", "4", "--gamma", "0.5",
              "--r1-interval", "2", "--pl-interval", "2", "--p", "0.3", *TINY]
    single = train(*common, "--outdir", str(tmp_path / "one"), env_extra={"OMP_NUM_THREADS": "1"})
    assert single.returncode == 0, single.stderr
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": "/tmp/stylegan-test-cache", "OMP_NUM_THREADS": "1"}
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", "29517", "-m", "core.cli.train", *common, "--outdir", str(tmp_path / "two")],
                         env=env, capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    a = torch.load(latest_snapshot(only_run(tmp_path / "one")), weights_only=True)["training"]
    b = torch.load(latest_snapshot(only_run(tmp_path / "two")), weights_only=True)["training"]
    assert a["nimg"] == b["nimg"] == 64
    for part in ("G", "D"):
        for k, v in a[part].items():
            assert torch.allclose(v, b[part][k], rtol=1e-4, atol=1e-5), (part, k, (v - b[part][k]).abs().max())
    assert a["ada"]["p"] == pytest.approx(b["ada"]["p"]) and a["pl_mean"] == pytest.approx(b["pl_mean"], rel=1e-5)
    # The logged losses are the whole batch's (every process's chunks), not rank 0's half of it.
    logged = [[json.loads(line) for line in (only_run(tmp_path / d) / "stats.jsonl").read_text().splitlines()]
              for d in ("one", "two")]
    assert len(logged[0]) == len(logged[1]) == 2
    for x, y in zip(*logged):
        for k in ("loss_G", "loss_D_real", "loss_D_fake", "pl_penalty", "r1_penalty", "D_real_logit"):
            assert x[k] == pytest.approx(y[k], rel=1e-3, abs=1e-6), (k, x[k], y[k])


def test_a_stylegan1_snapshot_taken_while_growing_says_what_it_renders(tmp_path):
    """A progressive run's snapshot from before its last resolution renders at its stage's size:
    convert and generate say so (the config alone says the final size), metrics notes its FID."""
    r = train("--data", str(MNIST), "--outdir", str(tmp_path / "runs"), "--arch", "stylegan1", "--phase-kimg", "0.04",
              "--start-res", "8", "--kimg", "0.064", *TINY)
    assert r.returncode == 0, r.stderr
    snap = latest_snapshot(only_run(tmp_path / "runs"))
    c = run_cli("stylegan-convert", str(snap), str(tmp_path / "g.pt"))
    assert c.returncode == 0 and "32x32x1, still growing: renders 16x16 (fade-in 0.40)" in c.stdout, c.stdout + c.stderr
    g = run_cli("stylegan-generate", "--pkl", str(snap), "--seeds", "0", "--outdir", str(tmp_path / "gen"))
    assert g.returncode == 0 and "note: this 32x32 generator is still growing: renders 16x16" in g.stderr, g.stderr
    assert Image.open(tmp_path / "gen" / "seed0000.png").size == (16, 16)


def test_options_are_checked_before_anything_is_written(tmp_path):
    """--dry-run resolves and checks what the real run would (StyleGAN1 too); options that cannot
    work for this dataset or these networks are one line, before a run folder exists."""
    base = ["--data", str(MNIST), "--outdir", str(tmp_path / "runs"), *TINY]
    r = train(*base, "--arch", "stylegan1", "--dry-run")
    assert r.returncode == 0 and "Dry run: nothing trained" in r.stdout, r.stderr
    for extra, message in ((["--augpipe", "xyz"], "--augpipe must be one of bgc, bg, b, c"),
                           (["--arch", "stylegan1", "--start-res", "64"], "--start-res must be one of 4, 8, 16, 32")):
        for dry in ([], ["--dry-run"]):
            r = train(*base, *extra, *dry)
            assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    # --init with other networks: every differing option named, in a dry run as in a real one.
    r = train(*base, "--init", str(REPO / "assets" / "emoji64.pt"), "--dry-run")
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert all(f"{k} " in r.stderr for k in ("channel_base", "channel_max", "img_channels", "img_resolution", "w_dim",
                                              "z_dim")) and "more" not in r.stderr
    assert not (tmp_path / "runs").exists()
    # Where the run folder cannot go: named with the reason, exit 2.
    r = train(*base, "--desc", "a/b")
    assert r.returncode == 2 and "--desc 'a/b'" in r.stderr and not (tmp_path / "runs").exists(), r.stderr
    r = train(*[a if a != str(tmp_path / "runs") else "/proc/runs" for a in base])
    assert r.returncode == 2 and "cannot create --outdir /proc/runs: No such file or directory" in r.stderr, r.stderr


def test_minutes_stops_after_the_step_that_reaches_it(tmp_path):
    """--minutes is a budget of training time: the run stops (with a snapshot) at the first step
    past it, not at the end of a tick that may be minutes later."""
    r = train("--data", str(MNIST), "--outdir", str(tmp_path), *TINY, "--kimg", "1000", "--tick", "1000",
              "--minutes", "0.05")
    assert r.returncode == 0, r.stderr
    run = only_run(tmp_path)
    (stats,) = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert 3 <= stats["time_s"] < 20, stats  # (the first tick would otherwise end only after 60 s)
    assert "time limit: 0.05 minutes of training reached" in (run / "log.txt").read_text()
    assert list(run.glob("network-snapshot-*.pt"))


def test_ada_p_rises_on_an_overfitting_setup(tmp_path):
    """8 images, a D that memorises them: r_t stays above the target and p climbs.

    The run is chaotic (a D in another memory layout, or another thread count, gives a different but
    equally valid path), so the check is on the trend over 100 steps, not on one noisy r_t: p moves
    by 0.04 a step, and over 5 seeds in both layouts it ended at 0.32-1.0 with a maximum >= 0.4; a
    sign error or an r_t that never exceeds the target leaves it at 0."""
    from core.training.dataset import ImageDataset
    from core.training.config import TrainConfig
    from core.training.step import Trainer
    small = tmp_path / "eight"
    small.mkdir()
    ds = ImageDataset(MNIST, max_images=8)
    for i, img in enumerate(ds.images):
        Image.fromarray(img[0].numpy()).save(small / f"{i}.png")
    cfg = TrainConfig(data=str(small), batch=8, cbase=256, cmax=16, z_dim=16, w_dim=16, map_layers=1,
                      dlr=0.01, gamma=0.0, pl_weight=0, ada_kimg=0.2, ada_interval=1, target=0.6)
    tr = Trainer(cfg, ImageDataset(small), torch.device("cpu"))
    ps = []
    for _ in range(100):
        tr.step()
        ps.append(tr.ada.p)
    assert ps[-1] > 0.18 and max(ps) > 0.38 and ps[-1] > ps[9] > 0, ps  # (p moves in steps of 0.04)


@pytest.mark.parametrize("case,message", [
    ("missing", "no such file or folder"),
    ("empty", "contains no images"),
    ("corrupt", "none of its 2 image files could be read"),
    ("mixed", "give a resolution"),
    ("odd", "power-of-two"),
    ("notzip", "not a zip file"),
])
def test_bad_datasets_one_clear_error(tmp_path, case, message):
    data = tmp_path / "data"
    if case != "missing":
        data.mkdir()
    if case == "corrupt":
        (data / "a.png").write_bytes(b"not png")
        (data / "b.jpg").write_bytes(b"\x89PNG broken")
    if case == "mixed":
        Image.new("RGB", (32, 32)).save(data / "a.png")
        Image.new("RGB", (64, 64)).save(data / "b.png")
    if case == "odd":
        Image.new("L", (28, 28)).save(data / "a.png")
    if case == "notzip":
        data = tmp_path / "data.zip"
        data.write_bytes(b"PK but not really")
    r = train("--data", str(data), "--outdir", str(tmp_path / "runs"), *TINY)
    assert r.returncode == 2, r.stderr
    *skipped, error = r.stderr.strip().splitlines()
    assert message in error and error.startswith("stylegan-train: error:") and "Traceback" not in r.stderr, r.stderr
    # unreadable files are each named on a line of their own before the error
    assert all(line.startswith("stylegan-train: skipped ") for line in skipped)
    assert len(skipped) == (2 if case == "corrupt" else 0)


def test_corrupt_files_are_reported_and_skipped(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(8):
        Image.new("L", (28, 28), color=i * 30).save(data / f"img{i}.png")
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    r = train("--data", str(data), "--resolution", "32", "--outdir", str(tmp_path / "runs"), "--kimg", "0.016", *TINY)
    assert r.returncode == 0, r.stderr
    assert "skipped broken.png" in r.stderr and "on 8 images (skipped 1" in r.stdout


def test_diverging_run_stops_with_a_clear_message(tmp_path):
    r = train("--data", str(MNIST), "--outdir", str(tmp_path), "--kimg", "1", "--glr", "1e30", "--dlr", "1e30",
              "--snap", "1", *TINY)
    assert r.returncode == 1
    assert "training stopped" in r.stderr and "became" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_resume_refuses_changed_options(tmp_path):
    r = train("--data", str(MNIST), "--outdir", str(tmp_path), "--kimg", "0.032", "--snap", "1", *TINY)
    assert r.returncode == 0, r.stderr
    r = train("--resume", str(only_run(tmp_path)), "--gamma", "5")
    assert r.returncode == 2 and "only --kimg" in r.stderr


def test_stylegan_dataset_tool(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    rgba = Image.new("RGBA", (40, 20), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (10, 5, 30, 15))
    rgba.save(src / "sub" / "wide.png")
    Image.new("RGB", (20, 20), (0, 255, 0)).save(src / "square.jpg")
    (src / "junk.png").write_bytes(b"nope")
    (src / "dataset.json").write_text(json.dumps({"labels": [["sub/wide.png", 1], ["square.jpg", 0]]}))
    out = tmp_path / "ds.zip"
    r = subprocess.run([sys.executable, "-m", "core.cli.dataset", str(src), str(out), "--resolution", "16",
                        "--transform", "pad"], env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "skipped junk.png" in r.stderr and "wrote 2 images (16x16, 3 channels, labelled)" in r.stdout
    from core.training.dataset import ImageDataset
    ds = ImageDataset(out)
    assert ds.images.shape == (2, 3, 16, 16) and ds.c_dim == 2
    padded = ds.images[ds.names.index("00000/img00000001.png")].permute(1, 2, 0).numpy()
    assert tuple(padded[0, 0]) == (255, 255, 255)  # transparent -> white background, padded rows white
    assert padded[8, 8, 2] > 200 and padded[8, 8, 0] < 50  # the blue box in the middle


def test_init_starts_a_new_run_from_trained_networks(tmp_path):
    common = ["--data", str(MNIST), "--kimg", "0.064", "--snap", "1", *TINY]
    r = train(*common, "--outdir", str(tmp_path / "src"))
    assert r.returncode == 0, r.stderr
    src = only_run(tmp_path / "src")
    snap = latest_snapshot(src)
    g_only = tmp_path / "g_ema.pt"
    c = run_cli("stylegan-convert", str(snap), str(g_only))
    assert c.returncode == 0, c.stderr
    nets = tmp_path / "networks.pt"
    c = run_cli("stylegan-convert", str(snap), str(nets), "--to", "networks")
    assert c.returncode == 0, c.stderr
    assert nets.stat().st_size < 0.5 * snap.stat().st_size  # no optimiser state
    source_fakes = np.asarray(Image.open(sorted(src.glob("fakes0*.png"))[-1]))
    for name, network, taken in [("snap", snap, "G, G_ema and D"), ("nets", nets, "G, G_ema and D"),
                                 ("gonly", g_only, "D from scratch")]:
        # --dlr 0: D stays as it was initialised, so we can see where it came from.
        r = train(*common, "--outdir", str(tmp_path / name), "--init", str(network), "--max-ticks", "1", "--dlr", "0")
        assert r.returncode == 0, r.stderr
        run = only_run(tmp_path / name)
        assert taken in (run / "log.txt").read_text()
        # The new run's first grid is the source's last one (same seed, so the same latents)...
        assert np.array_equal(np.asarray(Image.open(run / "fakes_init.png")), source_fakes)
        # ...but it is a new run: its image count starts again from zero.
        stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
        assert stats[0]["kimg"] == pytest.approx(0.032)
        new_D = torch.load(latest_snapshot(run), weights_only=True)["training"]["D"]
        old_D = torch.load(snap, weights_only=True)["training"]["D"]
        same = all(torch.equal(new_D[k], v) for k, v in old_D.items())
        assert same == (name != "gonly")  # the trained D came along; a G-only file gives a fresh D
    # A network built differently is refused with one line, before any folder is made.
    r = train(*common, "--outdir", str(tmp_path / "bad"), "--init", str(g_only), "--cmax", "32")
    assert r.returncode == 2 and "differs from this run's" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()
    r = train("--resume", str(src), "--init", str(g_only))
    assert r.returncode == 2 and "--init starts a new run" in r.stderr
    r = train("--resume", str(nets))
    assert r.returncode == 2 and "with --data ... --init instead" in r.stderr
    c = run_cli("stylegan-convert", str(g_only), str(tmp_path / "x.pt"), "--to", "networks")
    assert c.returncode == 2 and "holds no discriminator" in c.stderr and "--to networks needs a snapshot" in c.stderr


def test_init_carries_ada_p(tmp_path):
    """ADA p comes along with D, as in NVIDIA's resume; --p given on the command line wins."""
    common = ["--data", str(MNIST), "--kimg", "0.032", "--snap", "1", *TINY]
    r = train(*common, "--outdir", str(tmp_path / "src"), "--aug", "fixed", "--p", "0.3")
    assert r.returncode == 0, r.stderr
    snap = latest_snapshot(only_run(tmp_path / "src"))
    for name, extra, p in [("keep", [], 0.3), ("given", ["--p", "0.05"], 0.05)]:
        r = train(*common, "--outdir", str(tmp_path / name), "--init", str(snap), "--dlr", "0", "--glr", "0", *extra)
        assert r.returncode == 0, r.stderr
        ada = torch.load(latest_snapshot(only_run(tmp_path / name)), weights_only=True)["training"]["ada"]
        assert abs(ada["p"] - p) < 0.01, (name, ada)


def test_r1_is_taken_on_the_reals_before_augmentation(tmp_path):
    """NVIDIA's loss differentiates D(augment(x)) w.r.t. x itself (through the augment pipe), not
    w.r.t. the augmented images."""
    import copy
    from core.training.dataset import ImageDataset
    from core.training.config import TrainConfig
    from core.training.step import Trainer
    cfg = TrainConfig(data=str(MNIST), batch=4, z_dim=16, w_dim=16, map_layers=1, cbase=256, cmax=16, mbstd_group=4,
                      aug="fixed", p=1.0, gamma=1.0, r1_interval=1, pl_weight=0.0, seed=2)  # (R1 in D main's step: on D0)
    tr = Trainer(cfg, ImageDataset(MNIST, max_images=16), torch.device("cpu"))
    D0 = copy.deepcopy(tr.D)
    real, c = tr.real_images(tr.batch_indices()[:4])
    tr.step()  # iteration 0: R1 runs
    penalties = {}
    for where in ("before", "after"):
        gen = tr.rng(0, 0, "R1")
        x = real.detach().requires_grad_(True)
        aug = tr.augment(x, 1.0, gen)
        wrt = x if where == "before" else aug
        (g,) = torch.autograd.grad(D0(aug, c).sum(), wrt)
        penalties[where] = float(g.square().sum([1, 2, 3]).mean())
    assert tr.stats.means()["r1_penalty"] == pytest.approx(penalties["before"], rel=1e-5)
    assert penalties["after"] != pytest.approx(penalties["before"], rel=1e-3)


def test_snapshot_names_are_unique_with_fractional_ticks(tmp_path):
    """Whole kimg keep NVIDIA's names; a fractional tick adds its image count, so a snapshot never
    replaces an earlier one of the same run (#22 item 10), and --resume picks the newest."""
    from core.training.run import kimg_name
    assert kimg_name(40_000) == "000040" and kimg_name(384) == "000000.384" and kimg_name(1_500) == "000001.500"
    assert kimg_text(4_000) == "4.0" and kimg_text(64) == "0.064"  # (logs: small runs are not rounded away)
    for name in ("000000.384", "000001", "000000.768", "000001.250"):
        (tmp_path / f"network-snapshot-{name}.pt").write_bytes(b"")
    assert latest_snapshot(tmp_path).name == "network-snapshot-000001.250.pt"
    r = train("--data", str(MNIST), "--outdir", str(tmp_path / "runs"), "--kimg", "0.064", "--snap", "1", *TINY)
    assert r.returncode == 0, r.stderr
    snaps = sorted(p.name for p in only_run(tmp_path / "runs").glob("network-snapshot-*.pt"))
    assert snaps == ["network-snapshot-000000.032.pt", "network-snapshot-000000.064.pt"]


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_ctrl_c_stops_with_a_resumable_snapshot(tmp_path, sig):
    """Ctrl-C (or SIGTERM from a job scheduler) ends the step, writes a snapshot and says how to go
    on (exit 130); --resume continues from it (#22 item 8: nothing since the last snapshot is lost)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = tmp_path / "runs"
    p = subprocess.Popen([sys.executable, "-m", "core.cli.train", "--data", str(MNIST), "--outdir", str(runs),
                          "--kimg", "100", "--snap", "1000", *TINY], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and not list(runs.glob("*/stats.jsonl")) and p.poll() is None:
        time.sleep(0.2)
    p.send_signal(getattr(signal, sig))
    out, err = p.communicate(timeout=240)
    assert p.returncode == 130, err
    assert f"{sig}: stopped with a snapshot" in err and "--resume" in err and "Traceback" not in err
    assert f"{sig}: stopping at the end of this step with a snapshot (once more to stop at once)" in err
    run = only_run(runs)
    snap = latest_snapshot(run)
    nimg = torch.load(snap, weights_only=True)["training"]["nimg"]
    assert nimg > 0
    r = train("--resume", str(run), "--max-ticks", "1")
    assert r.returncode == 0, r.stderr
    assert f"from {kimg_text(nimg)} kimg" in (run / "log.txt").read_text()
