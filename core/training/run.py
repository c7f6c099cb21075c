"""A training run: the loop around Trainer.step() — ticks, stats, sample grids, snapshots,
metrics, plots, resuming. Only rank 0 writes anything.

Run folder:
    training_options.json  the options (and the dataset summary)
    log.txt                everything printed
    stats.jsonl            one line per tick: kimg, time, losses, penalties, ADA p, stage, ...
    reals.png              the real images of the sample grid
    fakes000000.png ...    G_ema at fixed latents, at every snapshot
    network-snapshot-000040.pt   everything needed to resume; G_ema loads in every CLI
    metric-fid1k.jsonl     metric values, when asked for
    plot.png               losses, ADA p and FID over kimg, redrawn at every snapshot
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

from core.checkpoints.snapshot import snapshot_dict
from core.files import append_lines, atomic_write
import numpy as np
import torch
from tqdm import tqdm

from core.checkpoints.ours import atomic_save
from core.networks.build import load_state
from core.networks.config import GeneratorConfig
from core.errors import CheckpointError
from core.training.dataset import ImageDataset
from core.training.distributed import all_reduce_scalars, any_process
from core.images import grid, save_png, to_uint8
from core.training.config import TrainConfig
from core.training.step import Trainer
from core.errors import TrainingDiverged
from core.noise import NoiseControl

FIRST_TICK_SECONDS = 60  # the first progress line comes within a minute, however slow the step
MAX_TICK_SECONDS = 600  # and the others at most ten minutes apart (a tick ends at --tick kimg or this)
CPU_ESTIMATE_STEPS = 4  # on a CPU, the speed of the first steps is reported
SLOW_CPU_SEC_PER_KIMG = 60  # ... with a suggestion of smaller networks when slower than this
SNAPSHOT_RE = re.compile(r"network-snapshot-(\d+)(?:\.(\d{3}))?\.pt$")


def kimg_name(nimg: int) -> str:
    """The image count in file names: whole kimg as NVIDIA writes them (000040), a fractional tick
    with its three further digits (000001.500), so that no two snapshots share a name."""
    whole, frac = divmod(int(nimg), 1000)
    return f"{whole:06d}" if frac == 0 else f"{whole:06d}.{frac:03d}"


def kimg_text(nimg: int) -> str:
    """An image count for people: kimg with one decimal (NVIDIA's logs), or three when that would
    round away what a small run did (0.064, not 0.1)."""
    return f"{nimg / 1000:.1f}" if nimg % 100 == 0 else f"{nimg / 1000:.3f}"


def _snapshot_nimg(path: Path) -> int:
    m = SNAPSHOT_RE.search(path.name)
    return int(m.group(1)) * 1000 + int(m.group(2) or 0)


def new_run_dir(outdir: Path, desc: str) -> Path:
    outdir.mkdir(parents=True, exist_ok=True)
    ids = [int(m.group(1)) for p in outdir.iterdir() if (m := re.match(r"(\d{5})-", p.name))]
    run = outdir / f"{max(ids, default=-1) + 1:05d}-{desc}"
    run.mkdir()
    return run


def latest_snapshot(path: Path) -> Path:
    """A snapshot file, or the newest snapshot in a run folder."""
    if path.is_file():
        return path
    snaps = sorted((p for p in path.glob("network-snapshot-*.pt") if SNAPSHOT_RE.search(p.name)), key=_snapshot_nimg)
    if not snaps:
        raise ValueError(f"{path}: no network-snapshot-*.pt to resume from")
    return snaps[-1]


def progress_bar(total: int, nimg: int, enabled: bool, file=None) -> tqdm:
    """The training progress bar in whole images (shown as kimg), so a resumed run ends exactly at
    its total: no overshoot, no negative time left. Only on a terminal unless `file` is given."""
    return tqdm(total=total, initial=min(nimg, total), unit="kimg", unit_scale=1 / 1000, dynamic_ncols=True,
                disable=(None if file is None else False) if enabled else True, file=file,
                bar_format="{l_bar}{bar}| {n:.1f}/{total:g} kimg [{elapsed}<{remaining}{postfix}]")


def kept_log_lines(text: str, kimg: float) -> tuple[list[str], int]:
    """A JSON-lines log (stats.jsonl, metric-*.jsonl) cut back to a snapshot taken at `kimg`: the
    records up to it, in order, and how many lines could not be read (not JSON, no 'kimg')."""
    keep, damaged = [], 0
    for ln in text.splitlines():
        if not ln.strip():
            continue
        try:
            at = float(json.loads(ln)["kimg"])
        except (ValueError, KeyError, TypeError):
            damaged += 1
            continue
        if at <= kimg + 1e-9:
            keep.append(ln)
    return keep, damaged


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def check_same_config(what: str, ours: dict, theirs: dict, source: str) -> None:
    """One error line naming every option in which a network file differs from this run."""
    differ = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
    if differ:
        shown = ", ".join(f"{k} {theirs.get(k)!r} (this run {ours.get(k)!r})" for k in differ)
        raise CheckpointError(f"{source}: its {what} differs from this run's: {shown}")


def check_init_networks(data: dict, g_config: dict, d_config: dict, source: str) -> dict | None:
    """--init: CheckpointError unless the networks in `data` (read_networks) are the ones this run
    builds (`g_config`, `d_config`: their configs as dicts). -> the training networks it holds (G,
    D, ADA), or None for a generator-only file."""
    stored = data["G_config"]
    try:  # configs saved before the StyleGAN1/StyleGAN2 rename say `flavour`: compare like with like
        stored = GeneratorConfig.from_dict(stored).to_dict()
    except (TypeError, ValueError):
        pass  # compared as stored: the difference is then named in the error
    check_same_config("generator", g_config, stored, source)
    nets = data.get("training") or data.get("networks")
    if nets:
        check_same_config("discriminator", d_config, data.get("D_config", {}), source)
    return nets


def grid_shape(resolution: int) -> tuple[int, int]:
    side = int(min(max(2048 // resolution, 4), 8))
    return side, side


class TrainingRun:
    """The loop around a Trainer in one run folder (the module docstring's files): ticks, the
    kimg/minutes budget, sample grids, snapshots, metrics, plots, logs, Ctrl-C, and resuming from a
    snapshot or starting from another run's networks (init_networks). Only rank 0 writes."""

    def __init__(self, cfg: TrainConfig, dataset: ImageDataset, device: torch.device, run_dir: Path,
                 rank: int = 0, world: int = 1, resume: dict | None = None, progress: bool = True,
                 timed: bool = False, log_file: bool = True):
        self.cfg, self.dataset, self.device, self.run_dir = cfg, dataset, device, Path(run_dir)
        self.rank, self.world = rank, world
        self.is_main = rank == 0
        self.trainer = Trainer(cfg, dataset, device, rank, world, timed=timed)
        self.tick = 0
        self._first_iteration = 0  # this session's first step (resumed runs start later)
        self.time_s = 0.0  # training time over all sessions
        self.last_snapshot: Path | None = None
        self.interrupted: str | None = None  # "SIGINT" / "SIGTERM" once a stop was asked for
        self.progress = progress and self.is_main
        self.log_path = self.run_dir / "log.txt" if (log_file and self.is_main) else None
        self.tensorboard = None
        rows, cols = grid_shape(dataset.resolution)
        c_dim = self.trainer.G.c_dim
        if c_dim and dataset.labels is not None and c_dim <= 16:
            cols = c_dim  # one class per column
        gen = torch.Generator().manual_seed(cfg.seed + 1)
        self.grid_z = torch.randn(rows * cols, cfg.z_dim, generator=gen)
        self.grid_c = None
        perm = torch.randperm(len(dataset), generator=gen)
        self.grid_reals = perm.repeat(-(-rows * cols // len(dataset)))[: rows * cols]  # (tiny datasets repeat)
        if c_dim:
            classes = torch.arange(rows * cols) % c_dim
            self.grid_c = torch.nn.functional.one_hot(classes, c_dim).float()
            # reals.png shows the same class layout: cell i gets a real image of class classes[i].
            labels = dataset.labels.argmax(1)
            by_class = [torch.nonzero(labels == k).flatten() for k in range(c_dim)]
            for i, k in enumerate(classes.tolist()):
                if len(by_class[k]):
                    self.grid_reals[i] = by_class[k][(i // cols) % len(by_class[k])]
        self.grid_cols = cols
        if resume is not None:
            self._resume(resume)

    # -------------------------------------------------------------------------- logging ---
    def log(self, message: str) -> None:
        if not self.is_main:
            return
        tqdm.write(message)
        if self.log_path is not None:
            with open(self.log_path, "a") as f:
                f.write(message + "\n")

    def _append_jsonl(self, name: str, record: dict) -> None:
        append_lines(self.run_dir / name, [json.dumps(record)])  # (never a torn line: resume parses them)

    # ------------------------------------------------------------------------- snapshots ---
    def snapshot_data(self) -> dict:
        tr = self.trainer
        state = tr.state()
        g_ema = state.pop("G_ema")
        return snapshot_dict(tr.G.config.to_dict(), g_ema, state.pop("D_config"),
                             training={**state, "tick": self.tick, "time_s": self.time_s},
                             meta={"kimg": tr.nimg / 1000, "dataset": str(self.dataset.path), "run": self.run_dir.name,
                                   "arch": self.cfg.arch, "stage": tr.stage.to_list()})

    def save_snapshot(self) -> Path:
        path = self.run_dir / f"network-snapshot-{kimg_name(self.trainer.nimg)}.pt"
        atomic_save(self.snapshot_data(), path)
        self.last_snapshot = path
        return path

    def _resume(self, data: dict) -> None:
        tr = data["training"]
        self.trainer.load_state({**tr, "G_ema": data["G_ema"]})
        self.tick = int(tr["tick"])
        self._first_iteration = self.trainer.iteration
        self.time_s = float(tr["time_s"])
        kimg = self.trainer.nimg / 1000
        if self.is_main:  # forget what the interrupted session logged after this snapshot
            for name in ["stats.jsonl"] + [p.name for p in self.run_dir.glob("metric-*.jsonl")]:
                path = self.run_dir / name
                if path.exists():
                    keep, damaged = kept_log_lines(path.read_text(errors="replace"), kimg)
                    if damaged:  # (a line cut by a crash, in a log written by an older version)
                        self.log(f"{name}: dropped {damaged} damaged line{'s' * (damaged > 1)}")
                    atomic_write(path, "".join(ln + "\n" for ln in keep))

    def init_networks(self, data: dict, source: str, keep_ada_p: bool = True) -> str:
        """Start this new run from another run's networks (NVIDIA's --resume PKL, rosinality's --ckpt).

        A snapshot or a networks file (stylegan-convert --to networks) gives G, G_ema, D and ADA p
        (unless keep_ada_p is False: --p was given); a generator-only file, like the bundled model,
        gives its G_ema to both G and G_ema, and D starts from scratch. Optimisers and the image
        count start fresh: this is a new run, not a continuation (that is --resume).
        Returns a few words saying what was taken."""
        tr = self.trainer
        nets = check_init_networks(data, tr.G.config.to_dict(), tr.D.config.to_dict(), source)
        load_state(tr.G_ema, data["G_ema"], source)
        load_state(tr.G, nets["G"] if nets else data["G_ema"], source)
        if not nets:
            return "G and G_ema from its G_ema; D from scratch"
        load_state(tr.D, nets["D"], source)
        p = nets["ada"]["p"] if "ada" in nets else nets.get("ada_p")
        if keep_ada_p and p is not None and self.cfg.aug == "ada":
            tr.ada.p = float(p)  # as NVIDIA's resume does: the augment pipe's p comes along with D
            return f"G, G_ema and D; ADA p {tr.ada.p:.3f}"
        return "G, G_ema and D"

    # --------------------------------------------------------------------------- samples ---
    @torch.no_grad()
    def sample_grid(self) -> np.ndarray:
        G = self.trainer.G_ema
        imgs = []
        for i in range(0, len(self.grid_z), 16):
            z = self.grid_z[i: i + 16].to(self.device)
            c = self.grid_c[i: i + 16].to(self.device) if self.grid_c is not None else None
            img = G.synthesis(G.mapping(z, c), noise=NoiseControl("const"))
            imgs.append(to_uint8(img))
        return grid(np.concatenate(imgs), cols=self.grid_cols)

    def save_reals(self) -> None:
        pixels = self.dataset.images[self.grid_reals].permute(0, 2, 3, 1).numpy()
        save_png(grid(pixels, cols=self.grid_cols), self.run_dir / "reals.png")

    # --------------------------------------------------------------------------- metrics ---
    def run_metrics(self, snapshot: Path) -> dict:
        from core.training.metrics import InceptionFeatures, fid, parse_metric
        results = {}
        if not self.cfg.metrics:
            return results
        inception = InceptionFeatures(self.device)
        kwargs = {}
        G = self.trainer.G_ema
        if self.cfg.arch == "stylegan1":
            kwargs = self.trainer.stage.g_kwargs
        for name in self.cfg.metrics:
            t = time.time()
            if self.cfg.arch == "stylegan1" and self.trainer.stage.resolution != self.dataset.resolution:
                continue  # FID compares at the dataset's resolution: only once fully grown
            value = fid(G, self.dataset, parse_metric(name), self.device, inception, **kwargs)
            results[name] = value
            self._append_jsonl(f"metric-{name}.jsonl", {"kimg": self.trainer.nimg / 1000, "value": value,
                                                        "snapshot": snapshot.name, "seconds": round(time.time() - t, 1)})
            self.log(f"{name} = {value:.2f} ({time.time() - t:.0f} s)")
        return results

    def plot(self) -> None:
        from core.training.plot import plot_run
        try:
            plot_run(self.run_dir)
        except Exception as exc:  # a plot must never stop training
            self.log(f"warning: could not draw plot.png ({exc})")

    # ------------------------------------------------------------------------------ loop ---
    def start(self) -> None:
        if not self.is_main:
            return
        options = {**self.cfg.to_dict(), "dataset": {"path": str(self.dataset.path), "images": len(self.dataset),
                                                     "resolution": self.dataset.resolution,
                                                     "channels": self.dataset.channels, "c_dim": self.dataset.c_dim},
                   "processes": self.world}
        atomic_write(self.run_dir / "training_options.json", json.dumps(options, indent=2))
        if self.trainer.nimg == 0:
            self.save_reals()
            save_png(self.sample_grid(), self.run_dir / "fakes_init.png")
        try:
            from torch.utils.tensorboard import SummaryWriter
            self.tensorboard = SummaryWriter(str(self.run_dir))
        except Exception:
            self.tensorboard = None

    def run(self, max_ticks: int | None = None) -> Path | None:
        """Train until cfg.kimg (or max_ticks more ticks). Returns the last snapshot written."""
        cfg, tr = self.cfg, self.trainer
        self.start()
        total = int(round(cfg.kimg * 1000))
        bar = progress_bar(total, tr.nimg, self.progress)
        tick_start_nimg, tick_start_time = tr.nimg, time.time()
        snapshot_time = tick_start_time  # (this session's) time of the last snapshot
        ticks_run = 0
        previous = self._catch_stop_signals()
        try:
            while tr.nimg < total:
                try:
                    tr.step()
                except TrainingDiverged as exc:
                    raise self._stopped(exc) from None
                bar.update(min(tr.nimg, total) - bar.n)  # (whole images: never past the end)
                done = tr.nimg >= total
                # A tick ends at --tick kimg or after a while; --minutes ends the run after the step
                # that reaches it. Clock decisions are every process's (they must all snapshot together).
                seconds = time.time() - tick_start_time
                tick_limit = FIRST_TICK_SECONDS if ticks_run == 0 else MAX_TICK_SECONDS
                clock_over, out_of_time = any_process(
                    [seconds >= tick_limit, cfg.minutes > 0 and self.time_s + seconds >= cfg.minutes * 60], self.world)
                tick_over = tr.nimg >= tick_start_nimg + cfg.tick_kimg * 1000 or clock_over or out_of_time
                if ticks_run == 0 and (tr.iteration - self._first_iteration == CPU_ESTIMATE_STEPS
                                       or (tick_over and tr.iteration - self._first_iteration < CPU_ESTIMATE_STEPS)):
                    self._estimate(time.time() - tick_start_time, tr.nimg - tick_start_nimg)
                if not (tick_over or done or self.interrupted):
                    continue
                # ---- end of tick ----
                try:
                    tr.settle()  # (on a GPU the last step's losses are still on their way)
                except TrainingDiverged as exc:
                    raise self._stopped(exc) from None
                elapsed = time.time() - tick_start_time
                self.time_s += elapsed
                self.tick += 1
                ticks_run += 1
                stats = {k: round(v, 5) for k, v in self._tick_means().items()}
                tr.stats = type(tr.stats)()
                sec_per_kimg = elapsed / max((tr.nimg - tick_start_nimg) / 1000, 1e-9)
                record = {"kimg": tr.nimg / 1000, "tick": self.tick, "time_s": round(self.time_s, 1),
                          "sec_per_kimg": round(sec_per_kimg, 2), **stats, "ada_p": round(tr.ada.p, 4),
                          "ada_rt": round(tr.ada.rt, 4), "pl_mean": round(tr.pl_mean, 5),
                          "stage_res": tr.stage.resolution, "alpha": round(tr.stage.alpha, 4)}
                if self.is_main:
                    self._append_jsonl("stats.jsonl", record)
                    if self.tensorboard is not None:
                        for k, v in record.items():
                            if isinstance(v, (int, float)) and k not in ("kimg", "tick"):
                                self.tensorboard.add_scalar(k, v, global_step=int(tr.nimg / 1000))
                bar.set_postfix_str(f"{sec_per_kimg:.1f} s/kimg, G {stats.get('loss_G', math.nan):.3f}, "
                                    f"D {stats.get('loss_D_real', math.nan) + stats.get('loss_D_fake', math.nan):.3f}, "
                                    f"p {tr.ada.p:.3f}" + (f", {tr.stage.resolution}² a{tr.stage.alpha:.2f}" if tr.stage.progressive else ""))
                self.log(f"tick {self.tick} kimg {kimg_text(tr.nimg)} time {self.time_s:.0f}s "
                         f"sec/kimg {sec_per_kimg:.2f} " + " ".join(f"{k} {v:.4g}" for k, v in stats.items())
                         + f" ada_p {tr.ada.p:.3f}")
                if out_of_time:
                    self.log(f"time limit: {cfg.minutes:g} minutes of training reached")
                if self.interrupted:
                    self.log(f"{self.interrupted}: stopping at {kimg_text(tr.nimg)} kimg with a snapshot")
                last_tick = (max_ticks is not None and ticks_run >= max_ticks) or out_of_time or bool(self.interrupted)
                on_time = cfg.snap_minutes > 0 and time.time() - snapshot_time >= cfg.snap_minutes * 60
                if done or self.tick % cfg.snap == 0 or on_time or last_tick:
                    self._snapshot_tick()
                    snapshot_time = time.time()
                tick_start_nimg, tick_start_time = tr.nimg, time.time()
                if last_tick:
                    break
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            bar.close()
            if self.tensorboard is not None:
                self.tensorboard.close()
        return self.last_snapshot

    def _tick_means(self) -> dict:
        """The tick's mean of every statistic over all processes' steps (each process draws its
        own chunks of the batch, so one process's losses alone would depend on the process count)."""
        stats = self.trainer.stats
        names = sorted(stats.sums)
        totals = all_reduce_scalars([stats.sums[k] for k in names] + [stats.counts[k] for k in names],
                                    self.world, self.device)
        everyone = type(stats)(sums=dict(zip(names, totals[:len(names)])), counts=dict(zip(names, totals[len(names):])))
        return everyone.means()

    def _stopped(self, exc: TrainingDiverged) -> TrainingDiverged:
        """The one-line error for a diverged run: where to resume from, or that nothing can be."""
        if self.last_snapshot is not None:
            return TrainingDiverged(f"training stopped: {exc}; the last good snapshot is "
                                    f"{self.last_snapshot} (--resume continues from it)")
        return TrainingDiverged(f"training stopped: {exc}, before its first snapshot, so there is "
                                "nothing to resume: start again (lower --glr/--dlr or a higher --gamma "
                                "usually help)")

    def _estimate(self, seconds: float, nimg: int) -> None:
        """On a CPU, after the first few steps: the speed they ran at, what it means for this run,
        and the small networks that make a CPU run practical."""
        if self.device.type != "cpu" or not self.is_main or nimg <= 0:
            return
        cfg = self.cfg
        sec_per_kimg = seconds / (nimg / 1000)
        left = max(cfg.kimg - self.trainer.nimg / 1000, 0)
        params = sum(p.numel() for p in self.trainer.G.parameters()) + sum(p.numel() for p in self.trainer.D.parameters())
        steps = self.trainer.iteration - self._first_iteration
        size = f"{params / 1e6:.1f} M" if params >= 1e5 else f"{params / 1e3:.1f} k"
        snapshots = (f"a snapshot every {cfg.snap_minutes:g} minutes (--snap-minutes) or {cfg.snap} ticks"
                     if cfg.snap_minutes > 0 else f"a snapshot every {cfg.snap} ticks (--snap-minutes 0)")
        message = (f"on this CPU the first {steps} step{'s' * (steps > 1)} ran at about {sec_per_kimg:.3g} s/kimg "
                   f"(G + D: {size} parameters): the remaining {left:g} of --kimg {cfg.kimg:g} would take about "
                   f"{_duration(sec_per_kimg * left)}; {snapshots}")
        small = {"cbase": 4096, "cmax": 128}
        if sec_per_kimg > SLOW_CPU_SEC_PER_KIMG and (cfg.cbase > small["cbase"] or cfg.cmax > small["cmax"]):
            message += (f". For a quicker CPU run use smaller networks: --cbase {small['cbase']} --cmax {small['cmax']} "
                        "(and --map 2)")
        self.log(message)

    def _catch_stop_signals(self) -> dict:
        """Ctrl-C (SIGINT) or SIGTERM asks the run to stop at the end of the current step, with a
        snapshot that --resume continues from (so nothing since the last snapshot is lost); a second
        one stops at once. One process only: with several, each is stopped by its launcher.
        -> the handlers to restore."""
        if self.world > 1 or threading.current_thread() is not threading.main_thread():
            return {}
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def ask_to_stop(signum, frame):
            self.interrupted = signal.Signals(signum).name
            for sig, handler in previous.items():  # a second signal is not caught: it stops at once
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
            # Said at once, also when the signal comes during a snapshot's metric (minutes on a CPU);
            # os.write, since the handler may interrupt a print to the same stream.
            os.write(sys.stderr.fileno(), f"\n{self.interrupted}: stopping at the end of this step with a snapshot "
                     "(once more to stop at once)\n".encode())

        for sig in previous:
            signal.signal(sig, ask_to_stop)
        return previous

    def _snapshot_tick(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()
        if self.is_main:
            save_png(self.sample_grid(), self.run_dir / f"fakes{kimg_name(self.trainer.nimg)}.png")
            path = self.save_snapshot()
            self.log(f"wrote {path.name}")
            self.run_metrics(path)
            self.plot()
        if self.world > 1:
            torch.distributed.barrier()
