"""Starting a training run: a new one (dataset, preset, options, run folder, optionally networks
from another run: --init) or a continuation (--resume: the snapshot's config, the same dataset,
only the options that may change). What `stylegan-train` does before the first step, apart from
parsing and printing; the same for every process of a distributed run (rank 0 makes the folder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from core.checkpoints.ours import read_checkpoint
from core.checkpoints.read import read_networks
from core.errors import UsageError
from core.files import create_folder
from core.training.config import TrainConfig, preset
from core.training.dataset import ImageDataset, Preparation
from core.training.run import TrainingRun, check_init_networks, latest_snapshot, new_run_dir
from core.training.step import network_configs

# Options a resumed run may change (the rest would make it a different run).
CHANGEABLE_ON_RESUME = {"kimg", "snap", "snap_minutes", "tick_kimg", "metrics", "minutes"}


@dataclass
class StartRequest:
    """What the user asked for: `given` maps each TrainConfig field set on the command line to its
    value; the rest come from the preset (new run) or the snapshot (resume)."""
    data: str | None = None
    resume: str | None = None
    init: str | None = None
    preset: str | None = None
    outdir: str = "runs"
    desc: str | None = None
    given: dict = field(default_factory=dict)
    dry_run: bool = False  # resolve and check everything, make no folder, build no run


@dataclass
class Started:
    run: TrainingRun | None  # None for a dry run
    resumed: bool
    taken: str | None  # with --init: what was taken from the file
    cfg: TrainConfig | None = None
    dataset: ImageDataset | None = None


def load_dataset(cfg: TrainConfig, rank: int, on_skip) -> ImageDataset:
    def skipped(name, error):
        if rank == 0:
            on_skip(name, error)
    return ImageDataset(cfg.data, Preparation(resolution=cfg.resolution or None, max_megapixels=cfg.max_megapixels),
                        on_skip=skipped, use_labels=cfg.cond)


def find_resume_data(cfg: TrainConfig, given: str | None, run_dir: Path) -> str:
    """The dataset a resumed run reads: --data when given (checked against the run's fingerprint
    once loaded), else the stored path — absolute since runs record it so; a relative one (older
    runs) is looked up from here, then from the run's parent folders."""
    if given:
        return str(Path(given).resolve())
    stored = Path(cfg.data)
    if stored.is_absolute():
        if not stored.exists():
            raise UsageError(f"this run's dataset {stored} is gone; give its new place with --data")
        return str(stored)
    for base in (Path.cwd(), run_dir.parent, run_dir.parent.parent):
        if (base / stored).exists():
            return str((base / stored).resolve())
    raise UsageError(f"this run's dataset {stored} (a path relative to where the run was started) is not "
                     f"here or beside {run_dir}; give it with --data")


def check_resume_data(cfg: TrainConfig, dataset: ImageDataset, fingerprint: str, snapshot: dict) -> None:
    """Refuse, by name, a dataset other than the one the run trained on (`fingerprint`: the
    dataset's, as the run records it)."""
    G = snapshot.get("G_config", {})
    if cfg.cond and dataset.c_dim != G.get("c_dim"):
        raise UsageError(f"{cfg.data} has {dataset.c_dim} label dimensions; this run's networks take {G.get('c_dim')}")
    if cfg.data_fingerprint:
        if fingerprint != cfg.data_fingerprint:
            raise UsageError(f"{cfg.data} is not the dataset this run trained on (its prepared images"
                             f"{' or labels' if cfg.cond else ''} differ: {fingerprint} vs {cfg.data_fingerprint})")
    elif (G.get("img_resolution"), G.get("img_channels")) != (dataset.resolution, dataset.channels):
        raise UsageError(f"{cfg.data} holds {dataset.resolution}x{dataset.resolution} {dataset.channels}-channel images; "
                         f"this run trained on {G.get('img_resolution')}x{G.get('img_resolution')} "
                         f"{G.get('img_channels')}-channel ones")


def _check_metrics(cfg: TrainConfig) -> None:
    """FID's package is optional: with --metrics, say what to install now (MissingDependencyError),
    not at the first snapshot."""
    if cfg.metrics:
        from core.training.metrics import inception_path
        inception_path()


def start_run(req: StartRequest, rank: int, world: int, device: torch.device, on_skip=lambda name, error: None) -> Started:
    """Everything before the first step. Errors are UsageError / CheckpointError / DatasetError
    (one line each); a failed --init leaves no empty run folder behind."""
    given = req.given
    init = None
    if req.resume and req.init:
        raise UsageError("--init starts a new run; --resume continues one: give one of them")
    if req.resume:
        snapshot = latest_snapshot(Path(req.resume))
        data = read_checkpoint(snapshot)
        if "training" not in data:
            raise UsageError(f"{snapshot}: holds no training state (no optimisers); start a new run from it "
                             "with --data ... --init instead")
        cfg = TrainConfig.from_dict(data["training"]["config"])
        fixed = sorted(k for k in given if k not in CHANGEABLE_ON_RESUME and given[k] != getattr(cfg, k))
        if fixed or req.preset:
            raise UsageError("only --kimg, --minutes, --snap, --snap-minutes, --tick, --metrics (and --data for the same "
                             f"dataset moved elsewhere) can change when resuming (got {', '.join(fixed) or '--preset'})")
        for k, v in given.items():
            setattr(cfg, k, v)
        _check_metrics(cfg)
        run_dir = snapshot.resolve().parent
        cfg.data = find_resume_data(cfg, req.data, run_dir)
    else:
        if not req.data:
            raise UsageError("give --data (or --resume)")
        cfg = TrainConfig(data=req.data, resolution=given.get("resolution", 0), cond=given.get("cond", False),
                          max_megapixels=given.get("max_megapixels", TrainConfig.max_megapixels))
        data = None
    dataset = load_dataset(cfg, rank, on_skip)
    fingerprint = dataset.fingerprint(with_labels=cfg.cond)  # (hashes every pixel: once)
    if req.resume:
        check_resume_data(cfg, dataset, fingerprint, data)
        if req.dry_run:
            return Started(None, resumed=True, taken=None, cfg=cfg, dataset=dataset)
    else:
        cfg.data = str(Path(cfg.data).resolve())  # so --resume works from any folder
    cfg.data_fingerprint = fingerprint
    if not req.resume:
        values = preset(req.preset or ("stylegan1" if given.get("arch") == "stylegan1" else "auto"),
                        given.get("resolution") or dataset.resolution, world)
        for k, v in {**values, **given}.items():
            setattr(cfg, k, v)
        cfg.preset = req.preset or ("stylegan1" if cfg.arch == "stylegan1" else "auto")
        if cfg.cond and dataset.c_dim == 0:
            raise UsageError(f"--cond: {cfg.data} has no labels (dataset.json)")
        cfg.validate(dataset.resolution)
        _check_metrics(cfg)
        init = read_networks(req.init) if req.init else None
        if init is not None and cfg.arch == "stylegan1":
            raise UsageError("--init works with stylegan2 runs (a progressive run grows from 4x4)")
        if init is not None:  # (before a run folder exists, and in a dry run)
            g_cfg, d_cfg = network_configs(cfg, dataset.resolution, dataset.channels, dataset.c_dim if cfg.cond else 0)
            check_init_networks(init, g_cfg.to_dict(), d_cfg.to_dict(), req.init)
        if req.dry_run:
            return Started(None, resumed=False, taken=None, cfg=cfg, dataset=dataset)
        desc = f"{Path(cfg.data).stem}-{cfg.arch}-{dataset.resolution}" + (f"-{req.desc}" if req.desc else "")
        names = [None]
        if rank == 0:
            create_folder(req.outdir, f"--outdir {req.outdir}")  # (one line naming it when it cannot be made)
            names[0] = str(new_run_dir(Path(req.outdir), desc))
        if world > 1:
            torch.distributed.broadcast_object_list(names, src=0)
        run_dir = Path(names[0])
    try:
        run = TrainingRun(cfg, dataset, device, run_dir, rank, world, resume=data)
        taken = run.init_networks(init, req.init, keep_ada_p="p" not in given) if init is not None else None
    except Exception:
        if rank == 0 and data is None and run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()  # a new run that could not start: leave no empty run folder behind
        raise
    return Started(run, resumed=data is not None, taken=taken, cfg=cfg, dataset=dataset)
