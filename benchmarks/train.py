"""Training speed: seconds per kimg (thousand real images shown to D) and where the time goes.

Runs the real Trainer (every phase: G main, path-length reg, D main, lazy R1, EMA, ADA) for a few
warm-up steps, then times `--steps` more as stylegan-train runs them (the total), and `--steps` more
with a synchronisation after each phase (the per-phase split; on a GPU their sum is larger than the
total, since the CPU no longer queues one phase while the GPU runs the previous one). The
numbers do not depend on image content, so the dataset is random pixels written in NVIDIA's layout
(or pass `--data` to time a real one).

    python benchmarks/train.py                                  # 32² batch 32 on CPU, the MNIST setup
    python benchmarks/train.py --net default                    # with the auto preset's full-size nets
    python benchmarks/train.py --res 256 --batch 32 --device cuda --net default --fp16-res 4
    python benchmarks/train.py --arch stylegan1 --res 32        # AdaIN G at its final stage
    python benchmarks/train.py ... --profile 15                 # + the top kernels of each phase, the
                                                                #   launches per step, the GPU's busy share

STYLEGAN_KERNELS=ref|op|cuda|auto chooses the ops as everywhere (kernels/dispatch.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.generator import at_least  # noqa: E402

SMALL_NETS = {"z_dim": 128, "w_dim": 128, "map_layers": 2, "cbase": 2048, "cmax": 64}  # the CPU MNIST run's


def random_dataset(path: Path, res: int, channels: int, count: int) -> Path:
    from core.training.dataset import DatasetWriter
    rng = np.random.default_rng(0)
    writer = DatasetWriter(path)
    for _ in range(count):
        writer.add(rng.integers(0, 256, (res, res, channels), dtype=np.uint8))
    writer.close()
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--res", type=int, default=32)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--batch", type=at_least(1), default=32)
    p.add_argument("--arch", default="stylegan2", choices=["stylegan2", "stylegan1"])
    p.add_argument("--net", default="small", choices=["small", "default"],
                   help="small: z/w 128, 2 mapping layers, cbase 2048, cmax 64; default: the preset's")
    p.add_argument("--cbase", type=int, help="override the channel base")
    p.add_argument("--cmax", type=int, help="override the maximum channels")
    p.add_argument("--fp16-res", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--data", help="time on this dataset instead of random pixels")
    p.add_argument("--warmup", type=at_least(0), default=4)
    p.add_argument("--steps", type=at_least(1), default=16, help="timed steps (a multiple of 16 covers every lazy reg)")
    p.add_argument("--profile", type=at_least(1), metavar="N",
                   help="after timing, profile one step with PL and R1 and list each phase's N costliest kernels")
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()

    import torch
    from core.cli.common import tune_cpu_allocator
    from core.networks.layout import fp16_layout
    from core.training.dataset import ImageDataset
    from core.training.config import TrainConfig, preset
    from core.training.step import Trainer
    tune_cpu_allocator()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data) if args.data else random_dataset(Path(tmp) / "random.zip", args.res,
                                                                 args.channels, max(4 * args.batch, 256))
        dataset = ImageDataset(data)
        cfg = TrainConfig(data=str(data), arch=args.arch, batch=args.batch)
        for k, v in preset("stylegan1" if args.arch == "stylegan1" else "auto", dataset.resolution).items():
            setattr(cfg, k, v)
        cfg.batch = args.batch
        cfg.mbstd_group = min(cfg.mbstd_group, args.batch)
        if args.net == "small":
            for k, v in SMALL_NETS.items():
                setattr(cfg, k, v)
        cfg.cbase = args.cbase or cfg.cbase
        cfg.cmax = args.cmax or cfg.cmax
        if args.fp16_res:
            cfg.num_fp16_res, cfg.conv_clamp = args.fp16_res, 256.0
        if args.arch == "stylegan1":
            cfg.phase_kimg = 1e-6  # start at the final resolution, where the cost is
        device = torch.device(args.device)
        trainer = Trainer(cfg, dataset, device, timed=False)
        for _ in range(args.warmup):
            trainer.step()

        def run_steps() -> float:
            sync()
            start = time.perf_counter()
            for _ in range(args.steps):
                trainer.step()
            trainer.settle()
            sync()
            return time.perf_counter() - start

        def sync():
            if device.type == "cuda":
                torch.cuda.synchronize()

        # As stylegan-train runs (the CPU queues the next phase while the GPU computes), then once
        # more with a synchronisation after every phase for the split (on a GPU that sum is larger).
        elapsed = run_steps()
        trainer.timed = True
        trainer.timings = {k: 0.0 for k in trainer.timings}
        elapsed_timed = run_steps()

        timings = dict(trainer.timings)
        profiled = profile_step(trainer, args.profile) if args.profile else None

    kimg = args.steps * args.batch / 1000
    phases = {k: round(v / kimg, 2) for k, v in timings.items()}
    result = {
        "arch": args.arch, "res": dataset.resolution, "batch": args.batch, "net": args.net,
        "cbase": cfg.cbase, "cmax": cfg.cmax,
        "G_params_M": round(sum(p.numel() for p in trainer.G.parameters()) / 1e6, 2),
        "D_params_M": round(sum(p.numel() for p in trainer.D.parameters()) / 1e6, 2),
        "device": (torch.cuda.get_device_name() if device.type == "cuda"
                   else f"cpu x{torch.get_num_threads()} ({platform.processor() or platform.machine()})"),
        "sec_per_kimg": round(elapsed / kimg, 2),
        "sec_per_kimg_phases_synchronised": round(elapsed_timed / kimg, 2),
        "phases_sec_per_kimg": phases,
        "regularisers_share": round((phases["G reg (PL)"] + phases["D reg (R1)"]) / max(sum(phases.values()), 1e-9), 3),
        "kernels": os.environ.get("STYLEGAN_KERNELS", "auto"),
        "fp16_layout": fp16_layout(),
    }
    if profiled:
        result["profile"] = profiled
        # The device's busy time in an average step (the lazy regularisers weighted by their
        # intervals) against the step's time as stylegan-train runs: near 1 the GPU's kernels bound
        # the step; well below 1 it waits for the CPU to queue them (the launch rate).
        every = {"G reg (PL)": cfg.pl_interval, "D reg (R1)": cfg.r1_interval}
        busy = sum(v["total_ms"] / every.get(k, 1) for k, v in profiled.items() if k in trainer.PHASES)
        result["device_ms_per_step"] = round(busy, 2)
        result["launches_per_step"] = round(sum(v["launches"] / every.get(k, 1) for k, v in profiled.items()
                                                if k in trainer.PHASES))
        if device.type == "cuda":
            result["gpu_busy_share"] = round(busy / (elapsed / args.steps * 1e3), 3)
    print(f"{'phase':<14}{'s/kimg':>9}")
    for k, v in phases.items():
        print(f"{k:<14}{v:>9.2f}")
    print(f"{'(sum)':<14}{result['sec_per_kimg_phases_synchronised']:>9.2f}")
    print(f"{'total':<14}{result['sec_per_kimg']:>9.2f}  (as stylegan-train runs: no synchronisation per phase)")
    text = json.dumps(result)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


def profile_step(trainer, top: int) -> dict:
    """One step at an iteration where PL and R1 both run, under torch.profiler: per phase, the `top`
    kernels (CUDA) or ops (CPU) by self time, in ms."""
    from torch.profiler import ProfilerActivity, profile, record_function
    cfg = trainer.cfg
    while trainer.iteration % cfg.pl_interval or trainer.iteration % cfg.r1_interval:
        trainer.step()
    cuda = trainer.device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    original = trainer._tick
    marks = {}

    def tick(phase, start):  # one profiler range per phase, closed after the phase's CUDA sync
        now = original(phase, start)
        marks[phase].__exit__(None, None, None)
        nxt = trainer.PHASES[trainer.PHASES.index(phase) + 1] if phase != trainer.PHASES[-1] else None
        if nxt:
            marks[nxt] = record_function(f"phase:{nxt}")
            marks[nxt].__enter__()
        return now

    with profile(activities=activities) as prof:
        marks[trainer.PHASES[0]] = record_function(f"phase:{trainer.PHASES[0]}")
        marks[trainer.PHASES[0]].__enter__()
        trainer._tick = tick
        try:
            trainer.step()
        finally:
            trainer._tick = original
    # Attribute each kernel (or CPU op) to the phase range it starts in: the trainer synchronises
    # at the end of every phase when timed, so a phase's kernels run inside its range.
    events = prof.events()
    ranges = [(e.name[6:], e.time_range.start, e.time_range.end) for e in events
              if e.name.startswith("phase:") and not str(e.device_type).endswith("CUDA")]
    per_phase: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for e in events:
        on_gpu = str(e.device_type).endswith("CUDA")
        if e.name.startswith("phase:") or cuda != on_gpu:
            continue
        t = e.time_range.start
        phase = next((name for name, a, b in ranges if a <= t <= b), "unattributed")
        self_us = e.device_time if on_gpu else e.self_cpu_time_total
        per_phase.setdefault(phase, {})
        per_phase[phase][e.name] = per_phase[phase].get(e.name, 0.0) + self_us / 1e3
        counts[phase] = counts.get(phase, 0) + 1
    out = {}
    for phase, table in per_phase.items():
        total = sum(table.values())
        rows = sorted(table.items(), key=lambda kv: -kv[1])[:top]
        wall = next(((b - a) / 1e3 for name, a, b in ranges if name == phase), None)
        out[phase] = {"total_ms": round(total, 2), "launches": counts.get(phase, 0),
                      "wall_ms": round(wall, 2) if wall is not None else None,
                      "top": [[name[:90], round(ms, 3)] for name, ms in rows]}
        print(f"-- {phase}: {total:.1f} ms of {'GPU kernels' if cuda else 'CPU ops'} "
              f"({counts.get(phase, 0)} {'kernels' if cuda else 'ops'}; {out[phase]['wall_ms']} ms wall, synchronised)",
              file=sys.stderr)
        for name, ms in rows:
            print(f"   {ms:9.2f} ms  {name[:90]}", file=sys.stderr)
    return out


if __name__ == "__main__":
    main()
