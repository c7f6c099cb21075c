"""stylegan-train: train StyleGAN2 (or StyleGAN1 with progressive growing) on a folder or zip.

    stylegan-train --data mnist32.zip --outdir runs --kimg 200 --cbase 4096 --cmax 128
    stylegan-train --data mnist32.zip --outdir runs --arch stylegan1 --phase-kimg 20
    stylegan-train --resume runs/00003-mnist32-stylegan2-32        # exactly where it stopped
    stylegan-train --data emoji64.zip --init assets/emoji64.pt ...   # a new run from trained networks
    torchrun --nproc_per_node 2 -m core.cli.train --data ... --outdir runs   # several processes

A preset (--preset, NVIDIA's --cfg) fills every option; each option given overrides it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from kernels.dispatch import KernelError

from core.checkpoints.ours import read_checkpoint
from core.checkpoints.read import read_networks
from core.training.dataset import ImageDataset, Preparation
from core.errors import DatasetError
from core.training.config import ARCHS, AUG_MODES, PRESETS, TrainConfig, preset
from core.training.run import TrainingRun, latest_snapshot, new_run_dir
from core.errors import TrainingDiverged
from core.cli.common import ArgumentParser, cli_entry, parse_megapixels, parse_resolution, resolve_device, tune_cpu_allocator
from core.errors import UsageError

PROG = "stylegan-train"

# option -> (TrainConfig field, type, help). Defaults come from the preset, then TrainConfig.
OPTIONS = {
    "--resolution": ("resolution", parse_resolution, "train at this power-of-two size, 256 or 256x256 (default: the "
                     "dataset's)"),
    "--max-megapixels": ("max_megapixels", parse_megapixels, "skip (and name) image files larger than this (default "
                         "89.5)"),
    "--cond": ("cond", bool, "condition on the dataset's labels (dataset.json)"),
    "--arch": ("arch", str, f"{' or '.join(ARCHS)} (default stylegan2)"),
    "--kimg": ("kimg", float, "total thousands of real images shown to D"),
    "--batch": ("batch", int, "global batch size"),
    "--batch-gpu": ("batch_gpu", int, "images per process per round (smaller: less memory, more rounds)"),
    "--seed": ("seed", int, "random seed (default 0)"),
    "--z-dim": ("z_dim", int, "dimensions of z (default 512)"),
    "--w-dim": ("w_dim", int, "dimensions of w (default 512)"),
    "--map": ("map_layers", int, "mapping network layers"),
    "--cbase": ("cbase", int, "channel base: channels at resolution r are min(cbase/r, cmax)"),
    "--cmax": ("cmax", int, "maximum channels"),
    "--d-cbase": ("d_cbase", int, "D's channel base (default: --cbase)"),
    "--d-cmax": ("d_cmax", int, "D's maximum channels (default: --cmax)"),
    "--g-arch": ("g_arch", str, "G architecture: orig, skip, resnet"),
    "--d-arch": ("d_arch", str, "D architecture: orig, skip, resnet"),
    "--mbstd-group": ("mbstd_group", int, "minibatch-stddev group size"),
    "--fp16-res": ("num_fp16_res", int, "GPUs: run this many top resolutions in fp16"),
    "--conv-clamp": ("conv_clamp", float, "clamp conv outputs (use with --fp16-res)"),
    "--glr": ("glr", float, "G learning rate"),
    "--dlr": ("dlr", float, "D learning rate"),
    "--gamma": ("gamma", float, "R1 weight"),
    "--r1-interval": ("r1_interval", int, "steps between R1 (lazy regularisation; default 16)"),
    "--pl-weight": ("pl_weight", float, "path-length regularisation weight (default 2; 0 off)"),
    "--pl-interval": ("pl_interval", int, "steps between path-length regularisation (default 4)"),
    "--mixing": ("style_mixing", float, "style-mixing regularisation probability (default 0.9)"),
    "--ema": ("ema_kimg", float, "half-life of G's moving average in kimg"),
    "--aug": ("aug", str, f"{', '.join(AUG_MODES)} (default ada)"),
    "--augpipe": ("augpipe", str, "augmentations: bgc (default), bg, b, c"),
    "--p": ("p", float, "initial (ada) or constant (fixed) augmentation probability"),
    "--target": ("target", float, "ADA target for r_t (default 0.6)"),
    "--ada-kimg": ("ada_kimg", float, "ADA speed: kimg for p to go from 0 to 1 (default 500)"),
    "--start-res": ("start_res", int, "stylegan1: first resolution (default 4)"),
    "--phase-kimg": ("phase_kimg", float, "stylegan1: kimg per fade-in and per stabilisation phase"),
    "--tick": ("tick_kimg", float, "kimg per progress tick (default 4)"),
    "--snap": ("snap", int, "ticks between snapshots and sample grids (default 50)"),
    "--metrics": ("metrics", str, "comma-separated metrics at snapshots, e.g. fid1k ('none': none)"),
    "--minutes": ("minutes", float, "stop with a snapshot after this much training time (all sessions)"),
}
CHANGEABLE_ON_RESUME = {"kimg", "snap", "tick_kimg", "metrics", "minutes"}


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="dataset: a zip (stylegan-dataset, NVIDIA's layout) or a folder of images")
    p.add_argument("--outdir", default="training-runs", help="where run folders go (default ./training-runs)")
    p.add_argument("--preset", choices=PRESETS, default=None, help="option values to start from (default auto)")
    p.add_argument("--resume", metavar="RUN_OR_SNAPSHOT", help="continue a run exactly where it stopped")
    p.add_argument("--init", metavar="NETWORK", help="start a new run from trained networks (transfer learning): G, "
                   "G_ema, D and ADA p of a snapshot, a networks file, an NVIDIA .pkl or a rosinality checkpoint; "
                   "a generator-only file (or a TensorFlow pickle) gives G_ema, and D starts from scratch; the "
                   "options must build the same networks")
    p.add_argument("--desc", help="extra words in the run folder's name")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--max-ticks", type=int, help=argparse.SUPPRESS)  # tests: stop after this many ticks
    for flag, (dest, typ, help_text) in OPTIONS.items():
        if typ is bool:
            p.add_argument(flag, dest=dest, action="store_true", default=None, help=help_text)
        else:
            p.add_argument(flag, dest=dest, type=typ, default=None, help=help_text)
    return p


def given_options(args) -> dict:
    out = {}
    for dest, typ, _ in OPTIONS.values():
        value = getattr(args, dest)
        if value is None:
            continue
        if dest == "metrics":
            value = [] if value.strip().lower() == "none" else [m.strip() for m in value.split(",") if m.strip()]
            from core.training.metrics import parse_metric
            for m in value:
                parse_metric(m)
        out[dest] = value
    return out


def init_distributed(device_name: str):
    """(rank, world, device) — torchrun sets WORLD_SIZE/RANK/LOCAL_RANK."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, resolve_device(device_name)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_name != "cpu" and torch.cuda.is_available()
    torch.distributed.init_process_group(backend="nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    return rank, world, torch.device("cpu")


def load_dataset(cfg: TrainConfig, rank: int) -> ImageDataset:
    def skipped(name, error):
        if rank == 0:
            print(f"{PROG}: skipped {name}: {error}", file=sys.stderr)
    try:
        return ImageDataset(cfg.data, Preparation(resolution=cfg.resolution or None, max_megapixels=cfg.max_megapixels),
                            on_skip=skipped,
                            use_labels=cfg.cond)
    except DatasetError as exc:
        raise UsageError(str(exc)) from None


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


@cli_entry(PROG)
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    given = given_options(args)
    rank, world, device = init_distributed(args.device)
    init = None
    try:
        if device.type == "cpu":
            tune_cpu_allocator()
        if args.resume and args.init:
            raise UsageError("--init starts a new run; --resume continues one: give one of them")
        if args.resume:
            snapshot = latest_snapshot(Path(args.resume))
            data = read_checkpoint(snapshot)
            if "training" not in data:
                raise UsageError(f"{snapshot}: holds no training state (no optimisers); start a new run from it "
                                 "with --data ... --init instead")
            cfg = TrainConfig.from_dict(data["training"]["config"])
            fixed = sorted(k for k in given if k not in CHANGEABLE_ON_RESUME and given[k] != getattr(cfg, k))
            if fixed or args.preset:
                raise UsageError("only --kimg, --minutes, --snap, --tick, --metrics (and --data for the same "
                                 f"dataset moved elsewhere) can change when resuming (got {', '.join(fixed) or '--preset'})")
            for k, v in given.items():
                setattr(cfg, k, v)
            run_dir = snapshot.resolve().parent
            cfg.data = find_resume_data(cfg, args.data, run_dir)
        else:
            if not args.data:
                raise UsageError("give --data (or --resume)")
            cfg = TrainConfig(data=args.data, resolution=given.get("resolution", 0), cond=given.get("cond", False),
                              max_megapixels=given.get("max_megapixels", TrainConfig.max_megapixels))
            data = None
        dataset = load_dataset(cfg, rank)
        fingerprint = dataset.fingerprint(with_labels=cfg.cond)  # (hashes every pixel: once)
        if args.resume:
            check_resume_data(cfg, dataset, fingerprint, data)
        else:
            cfg.data = str(Path(cfg.data).resolve())  # so --resume works from any folder
        cfg.data_fingerprint = fingerprint
        if not args.resume:
            values = preset(args.preset or ("stylegan1" if given.get("arch") == "stylegan1" else "auto"),
                            given.get("resolution") or dataset.resolution, world)
            for k, v in {**values, **given}.items():
                setattr(cfg, k, v)
            cfg.preset = args.preset or ("stylegan1" if cfg.arch == "stylegan1" else "auto")
            if cfg.cond and dataset.c_dim == 0:
                raise UsageError(f"--cond: {cfg.data} has no labels (dataset.json)")
            cfg.validate()
            init = read_networks(args.init) if args.init else None
            if init is not None and cfg.arch == "stylegan1":
                raise UsageError("--init works with stylegan2 runs (a progressive run grows from 4x4)")
            desc = f"{Path(cfg.data).stem}-{cfg.arch}-{dataset.resolution}" + (f"-{args.desc}" if args.desc else "")
            names = [None]
            if rank == 0:
                names[0] = str(new_run_dir(Path(args.outdir), desc))
            if world > 1:
                torch.distributed.broadcast_object_list(names, src=0)
            run_dir = Path(names[0])
        run = TrainingRun(cfg, dataset, device, run_dir, rank, world, resume=data)
        taken = None
        if init is not None:
            try:
                taken = run.init_networks(init, args.init, keep_ada_p="p" not in given)
            except Exception:
                if rank == 0:
                    run_dir.rmdir()  # nothing was written yet: leave no empty run folder behind
                raise
        if rank == 0:
            where = "resuming" if data else "training"
            run.log(f"{where} {cfg.arch} at {dataset.resolution}x{dataset.resolution} on {len(dataset)} images "
                    f"({'skipped ' + str(dataset.skipped) + ', ' if dataset.skipped else ''}"
                    f"{world} process{'es' * (world > 1)}, {device}) -> {run_dir}"
                    + (f" from {run.trainer.nimg / 1000:.1f} kimg" if data else "")
                    + (f"; started from {args.init}: {taken}" if taken else ""))
        try:
            last = run.run(max_ticks=args.max_ticks)
        except (TrainingDiverged, KernelError) as exc:
            run.log(str(exc))
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 1
        if rank == 0 and last is not None:
            run.log(f"done: {last}")
        return 0
    finally:
        if world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


if __name__ == "__main__":
    raise SystemExit(main())
