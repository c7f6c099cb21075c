"""Generator speed: ms/img and images/s at 64², 256² and 1024², batch 1 and 8, CPU (and CUDA).

Every point runs in fresh processes (this machine's speed drifts between runs, and allocator state
carries over within one), `--runs` times each; the JSON reports medians. noise_mode=const, no grad,
random init (speed does not depend on the weights).

    python benchmarks/generator.py                      # all points on CPU (and CUDA if present)
    python benchmarks/generator.py --res 256 --batch 1  # one point
    python benchmarks/generator.py --profile --res 256  # where the time goes (torch profiler)
    python benchmarks/generator.py --cli --res 256      # stylegan-generate over many seeds, end to end
    python benchmarks/generator.py --arch stylegan3-t --res 256 1024 --batch 1   # StyleGAN3 (-t / -r)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NETWORKS = {  # resolution -> (channel_base, channel_max)
    64: (8192, 256),
    256: (16384, 512),
    1024: (32768, 512),
}


ARCHS = ("stylegan2", "stylegan3-t", "stylegan3-r")


def build(res: int, device: str, arch: str = "stylegan2"):
    """NVIDIA's configurations: StyleGAN2 (8 mapping layers), StyleGAN3-T (2 mapping layers, 3x3
    convs) and -R (1x1 convs, radial filters, twice the channels), at the channel counts above."""
    import torch
    from core import Generator, GeneratorConfig
    torch.manual_seed(0)
    base, cmax = NETWORKS[res]
    if arch == "stylegan2":
        cfg = GeneratorConfig(img_resolution=res, channel_base=base, channel_max=cmax)
    else:
        r = arch == "stylegan3-r"
        cfg = GeneratorConfig(arch="stylegan3", img_resolution=res, channel_base=base * (2 if r else 1),
                              channel_max=cmax * (2 if r else 1), mapping_layers=2, w_avg_beta=0.998,
                              conv_kernel=1 if r else 3, use_radial_filters=r, use_noise=False, conv_clamp=256,
                              num_fp16_res=4)
    G = Generator(cfg)
    return G.eval().requires_grad_(False).to(device)


def worker(res: int, batch: int, device: str, iters: int, tuned: bool, arch: str = "stylegan2") -> dict:
    """One measurement in this process: median wall time of `iters` forward passes."""
    import torch
    from core import NoiseControl
    from core.cli.common import tune_cpu_allocator
    if tuned and device == "cpu":
        tune_cpu_allocator()
    G = build(res, device, arch)
    z = torch.randn(batch, G.z_dim, device=device)
    noise = NoiseControl("const")
    times = []
    with torch.inference_mode():
        for i in range(iters + 2):  # two warm-up passes
            if device == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            G(z, noise=noise)
            if device == "cuda":
                torch.cuda.synchronize()
            if i >= 2:
                times.append(time.perf_counter() - t)
    ms = statistics.median(times) * 1e3
    return {"ms_per_batch": ms, "ms_per_img": ms / batch, "img_per_s": 1e3 * batch / ms}


def profile(res: int, batch: int, device: str, arch: str = "stylegan2") -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile as torch_profile
    from core import NoiseControl
    from core.cli.common import tune_cpu_allocator
    tune_cpu_allocator()
    G = build(res, device, arch)
    z = torch.randn(batch, G.z_dim, device=device)
    with torch.inference_mode():
        for _ in range(4):
            G(z, noise=NoiseControl("const"))
        with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            G(z, noise=NoiseControl("const"))
    print(prof.key_averages(group_by_input_shape=True).table(
        sort_by="self_cpu_time_total", row_limit=30, max_name_column_width=28, max_shapes_column_width=64))
    groups: dict[str, float] = {}
    for e in prof.key_averages():
        name = e.key
        kind = ("convolution" if "conv" in name else "copy/fill" if name in ("aten::copy_", "aten::fill_")
                else "elementwise" if name in ("aten::mul", "aten::add", "aten::add_", "aten::addcmul",
                                               "aten::leaky_relu_", "aten::mul_", "aten::pow", "aten::rsqrt")
                else "reductions/matmul" if name in ("aten::sum", "aten::einsum", "aten::mm", "aten::addmm",
                                                     "aten::bmm", "aten::mean")
                else "other")
        groups[kind] = groups.get(kind, 0.0) + e.self_cpu_time_total
    total = sum(groups.values())
    print("time by kind: " + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in
                                       sorted(groups.items(), key=lambda kv: -kv[1])))


def cli_throughput(res: int, seeds: int, runs: int, env: dict) -> dict:
    """Wall time of `stylegan-generate --seeds 0-N` (start-up, mapping, PNG writing included);
    the marginal cost per image is (T(N) - T(1)) / (N - 1). Medians over `runs` pairs of runs."""
    import tempfile
    from core.checkpoints.ours import save_generator
    with tempfile.TemporaryDirectory() as tmp:
        pkl = Path(tmp) / f"g{res}.pt"
        save_generator(pkl, build(res, "cpu"))

        def run(n: int) -> float:
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "core.cli.generate", "--pkl", str(pkl), "--seeds",
                            f"0-{n - 1}", "--outdir", str(Path(tmp) / "out"), "--device", "cpu", "--force"],
                           env=env, check=True, capture_output=True)
            return time.perf_counter() - t

        pairs = [(run(1), run(seeds)) for _ in range(runs)]
    marginals = [(many - one) / (seeds - 1) * 1e3 for one, many in pairs]
    one = statistics.median(p[0] for p in pairs)
    many = statistics.median(p[1] for p in pairs)
    return {"res": res, "seeds": seeds, "wall_s": round(many, 2), "wall_1_seed_s": round(one, 2),
            "ms_per_img_marginal": round(statistics.median(marginals), 1),
            "ms_per_img_marginal_runs": [round(m, 1) for m in marginals],
            "img_per_s": round(seeds / many, 2)}


def at_least(low: int):
    """argparse type: an integer >= low (one clear usage error otherwise)."""
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    parse.__name__ = "integer"  # argparse's word for a non-number: 'invalid integer value'
    return parse


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--res", type=int, nargs="*", default=sorted(NETWORKS), choices=sorted(NETWORKS))
    p.add_argument("--batch", type=at_least(1), nargs="*", default=[1, 8])
    p.add_argument("--device", nargs="*", default=None, help="cpu and/or cuda (default: cpu, cuda if present)")
    p.add_argument("--runs", type=at_least(1), default=3, help="fresh processes per point (median reported)")
    p.add_argument("--iters", type=at_least(1), default=5, help="timed passes per process")
    p.add_argument("--untuned", action="store_true", help="leave glibc's allocator as it is")
    p.add_argument("--profile", action="store_true", help="profile one point instead of timing")
    p.add_argument("--cli", action="store_true", help="time stylegan-generate over --seeds seeds instead")
    p.add_argument("--seeds", type=at_least(2), default=32, help="seeds for --cli (default 32)")
    p.add_argument("--arch", choices=ARCHS, default="stylegan2", help="which generator (default stylegan2)")
    p.add_argument("--out", help="also write the JSON here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.worker:
        print(json.dumps(worker(args.res[0], args.batch[0], args.device[0], args.iters, not args.untuned, args.arch)))
        return
    import torch
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    if args.profile:
        profile(args.res[0], args.batch[0], devices[0], args.arch)
        return

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if args.cli:
        rows = [cli_throughput(res, args.seeds, args.runs, env) for res in args.res]
        for row in rows:
            print(f"stylegan-generate {row['res']}², {row['seeds']} seeds: {row['wall_s']} s "
                  f"({row['img_per_s']} img/s; {row['ms_per_img_marginal']} ms/img after start-up, "
                  f"median of {row['ms_per_img_marginal_runs']})",
                  file=sys.stderr)
        print(json.dumps({"cli": rows, "cpu": _cpu_name()}, indent=2))
        return
    results = []
    for device in devices:
        for res in args.res:
            if res == 1024 and device == "cpu" and args.res == sorted(NETWORKS):
                iters = 2  # ~1 s a pass on 2 cores
            else:
                iters = args.iters
            for batch in args.batch:
                runs = []
                for _ in range(args.runs):
                    cmd = [sys.executable, __file__, "--worker", "--res", str(res), "--batch", str(batch),
                           "--device", device, "--iters", str(iters), "--arch", args.arch] + (["--untuned"] if args.untuned else [])
                    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
                    runs.append(json.loads(out.strip().splitlines()[-1]))
                ms = statistics.median(r["ms_per_img"] for r in runs)
                row = {"arch": args.arch, "device": device, "res": res, "batch": batch, "ms_per_img": round(ms, 1),
                       "img_per_s": round(1e3 / ms, 2),
                       "runs_ms_per_img": [round(r["ms_per_img"], 1) for r in runs]}
                results.append(row)
                per_run = ", ".join(f"{r['ms_per_img']:.1f}" for r in runs)
                print(f"{args.arch} {device:4s} {res:5d}² batch {batch}: {ms:8.1f} ms/img {1e3 / ms:7.2f} img/s   "
                      f"(runs: {per_run})", file=sys.stderr)
    report = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              "cpu": _cpu_name(), "allocator_tuned": not args.untuned,
              "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
              "results": results}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
