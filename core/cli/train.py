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
import sys

import torch

from kernels.dispatch import KernelError

from core.training.config import ARCHS, AUG_MODES, PRESETS
from core.training.distributed import init_distributed
from core.training.run import kimg_text
from core.training.start import StartRequest, start_run
from core.errors import TrainingDiverged, UsageError
from core.cli.common import ArgumentParser, check_switches, cli_entry, number, output_folder, parse_megapixels, parse_resolution, tune_cpu_allocator

PROG = "stylegan-train"

# option -> (TrainConfig field, type, help). Defaults come from the preset, then TrainConfig.
OPTIONS = {
    "--resolution": ("resolution", parse_resolution, "train at this power-of-two size, 256 or 256x256 (default: the "
                     "dataset's)"),
    "--max-megapixels": ("max_megapixels", parse_megapixels, "skip (and name) image files larger than this (default "
                         "89.5)"),
    "--cond": ("cond", bool, "condition on the dataset's labels (dataset.json)"),
    "--arch": ("arch", str, f"{' or '.join(ARCHS)} (default stylegan2)"),
    "--kimg": ("kimg", number(float, above=0), "total thousands of real images shown to D"),
    "--batch": ("batch", number(int, minimum=1), "global batch size"),
    "--batch-gpu": ("batch_gpu", number(int, minimum=1), "images per process per round (smaller: less memory, more rounds)"),
    "--mirror": ("mirror", bool, "x-flip augmentation: each image is also shown mirrored (NVIDIA's --mirror=1)"),
    "--seed": ("seed", number(int, minimum=0, below=2 ** 32), "random seed (default 0)"),
    "--z-dim": ("z_dim", number(int, minimum=1), "dimensions of z (default 512)"),
    "--w-dim": ("w_dim", number(int, minimum=1), "dimensions of w (default 512)"),
    "--map": ("map_layers", number(int, minimum=1), "mapping network layers"),
    "--cbase": ("cbase", number(int, minimum=1), "channel base: channels at resolution r are min(cbase/r, cmax)"),
    "--cmax": ("cmax", number(int, minimum=1), "maximum channels"),
    "--d-cbase": ("d_cbase", number(int, minimum=1), "D's channel base (default: --cbase)"),
    "--d-cmax": ("d_cmax", number(int, minimum=1), "D's maximum channels (default: --cmax)"),
    "--g-arch": ("g_arch", str, "G architecture: orig, skip, resnet"),
    "--d-arch": ("d_arch", str, "D architecture: orig, skip, resnet"),
    "--mbstd-group": ("mbstd_group", number(int, minimum=1), "minibatch-stddev group size"),
    "--fp16-res": ("num_fp16_res", number(int, minimum=0), "GPUs: run this many top resolutions in fp16"),
    "--conv-clamp": ("conv_clamp", number(float, above=0), "clamp conv outputs (use with --fp16-res)"),
    "--freezed": ("freezed", number(int, minimum=0), "transfer learning: keep D's first N layers (from the image "
                  "side: fromrgb, conv0, conv1, skip per block) as they are (NVIDIA's --freezed)"),
    "--glr": ("glr", number(float, minimum=0), "G learning rate"),
    "--dlr": ("dlr", number(float, minimum=0), "D learning rate"),
    "--gamma": ("gamma", number(float, minimum=0), "R1 weight"),
    "--r1-interval": ("r1_interval", number(int, minimum=1), "steps between R1 (lazy regularisation; default 16)"),
    "--pl-weight": ("pl_weight", number(float, minimum=0), "path-length regularisation weight (default 2; 0 off)"),
    "--pl-interval": ("pl_interval", number(int, minimum=1), "steps between path-length regularisation (default 4)"),
    "--mixing": ("style_mixing", number(float, minimum=0, maximum=1), "style-mixing regularisation probability (default 0.9)"),
    "--ema": ("ema_kimg", number(float, minimum=0), "half-life of G's moving average in kimg"),
    "--aug": ("aug", str, f"{', '.join(AUG_MODES)} (default ada)"),
    "--augpipe": ("augpipe", str, "augmentations: bgc (default), bg, b, c"),
    "--p": ("p", number(float, minimum=0, maximum=1), "initial (ada) or constant (fixed) augmentation probability"),
    "--target": ("target", number(float, above=0, below=1), "ADA target for r_t (default 0.6)"),
    "--ada-kimg": ("ada_kimg", number(float, above=0), "ADA speed: kimg for p to go from 0 to 1 (default 500)"),
    "--start-res": ("start_res", number(int, minimum=4), "stylegan1: first resolution (default 4)"),
    "--phase-kimg": ("phase_kimg", number(float, above=0), "stylegan1: kimg per fade-in and per stabilisation phase"),
    "--tick": ("tick_kimg", number(float, above=0), "kimg per progress tick (default 4)"),
    "--snap": ("snap", number(int, minimum=1), "ticks between snapshots and sample grids (default 50)"),
    "--snap-minutes": ("snap_minutes", number(float, minimum=0), "also a snapshot once this many minutes of "
                       "training passed since the last one (default 30; 0: by --snap only)"),
    "--metrics": ("metrics", str, "comma-separated metrics at snapshots, e.g. fid1k ('none': none)"),
    "--minutes": ("minutes", number(float, above=0), "stop with a snapshot after this much training time (all sessions)"),
}


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
    p.add_argument("--dry-run", action="store_true", help="print the options, the dataset and the networks' "
                   "sizes, then exit: nothing is trained or written")
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
        if dest == "metrics":  # ('' or ',' ran no metric, silently: parse_metrics refuses them)
            from core.training.metrics import parse_metrics
            try:
                value = [] if value.strip().lower() == "none" else [m for m, _ in parse_metrics(value)]
            except ValueError as exc:
                raise UsageError(f"--metrics: {exc} ('none': no metric)") from None
        out[dest] = value
    return out


def dry_run_report(started, world: int, device) -> str:
    """--dry-run: what the run would be (as NVIDIA's train.py --dry-run prints its options), with the
    networks' sizes."""
    import json
    from core.training.step import build_networks
    cfg, dataset = started.cfg, started.dataset
    G, D = build_networks(cfg, dataset.resolution, dataset.channels, dataset.c_dim if cfg.cond else 0)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    if cfg.freezed and cfg.freezed > len(D.layers()):  # (validate: --freezed is StyleGAN2's, whose D has layers())
        raise ValueError(f"--freezed {cfg.freezed}: this D has {len(D.layers())} layers (at most {len(D.layers())})")
    lines = ["Training options:", json.dumps(cfg.to_dict(), indent=2), "",
             f"Dataset:        {dataset.path} ({len(dataset)} images{' x2 mirrored' if cfg.mirror else ''}, "
             f"{dataset.resolution}x{dataset.resolution}, {dataset.channels} channel{'s' * (dataset.channels > 1)}"
             f"{f', {dataset.c_dim} classes' if cfg.cond else ''})",
             f"Generator:      {count(G) / 1e6:.2f} M parameters (mapping {count(G.mapping) / 1e6:.2f} M, "
             f"synthesis {count(G.synthesis) / 1e6:.2f} M), {G.num_ws} W+ layers",
             f"Discriminator:  {count(D) / 1e6:.2f} M parameters"
             + (f"; --freezed {cfg.freezed}: {', '.join(n for n, _ in D.layers()[:cfg.freezed])}" if cfg.freezed else ""),
             f"Processes:      {world} on {device}, batch {cfg.batch}",
             f"Duration:       {cfg.kimg:g} kimg" + (" (resumed)" if started.resumed else ""),
             "", "Dry run: nothing trained, nothing written."]
    return "\n".join(lines)


@cli_entry(PROG)
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_switches()
    given = given_options(args)
    if args.desc is not None and (not args.desc.strip() or any(c in args.desc for c in "/\\\0")):
        raise UsageError(f"--desc {args.desc!r}: give a few words for the run folder's name (no / or \\)")
    if not args.resume and not args.dry_run:
        output_folder(args.outdir, create=False)  # (made with the run's folder, once all is checked)
    rank, world, device = init_distributed(args.device)
    try:
        if device.type == "cpu":
            tune_cpu_allocator()
        req = StartRequest(data=args.data, resume=args.resume, init=args.init, preset=args.preset,
                           outdir=args.outdir, desc=args.desc, given=given, dry_run=args.dry_run)
        started = start_run(req, rank, world, device,
                            on_skip=lambda name, error: print(f"{PROG}: skipped {name}: {error}", file=sys.stderr))
        if started.run is None:
            if rank == 0:
                print(dry_run_report(started, world, device))
            return 0
        run, cfg, dataset, data, taken = started.run, started.run.cfg, started.run.dataset, started.resumed, started.taken
        run_dir = run.run_dir
        if data and run.trainer.nimg >= cfg.kimg * 1000:
            print(f"{PROG}: nothing to do: this run has trained {run.trainer.nimg / 1000:g} kimg of its --kimg "
                  f"{cfg.kimg:g}; give a larger --kimg to go on", file=sys.stderr)
            return 0
        if rank == 0:
            where = "resuming" if data else "training"
            run.log(f"{where} {cfg.arch} at {dataset.resolution}x{dataset.resolution} on {len(dataset)} images "
                    f"({'skipped ' + str(dataset.skipped) + ', ' if dataset.skipped else ''}"
                    f"{world} process{'es' * (world > 1)}, {device}) -> {run_dir}"
                    + (f" from {kimg_text(run.trainer.nimg)} kimg" if data else "")
                    + (f"; started from {args.init}: {taken}" if taken else ""))
            if run.trainer.frozen:
                run.log(f"--freezed {cfg.freezed}: D's layers {', '.join(run.trainer.frozen)} stay as they are")
        try:
            last = run.run(max_ticks=args.max_ticks)
        except (TrainingDiverged, KernelError) as exc:
            run.log(str(exc))
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 1
        if run.interrupted:
            print(f"{PROG}: {run.interrupted}: stopped with a snapshot, {last}; continue with: "
                  f"stylegan-train --resume {run.run_dir}", file=sys.stderr)
            return 130
        if rank == 0 and last is not None:
            run.log(f"done: {last}")
        return 0
    finally:
        if world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


if __name__ == "__main__":
    raise SystemExit(main())
