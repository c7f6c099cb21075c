"""CUDA kernel speed: 2x upsample and downsample (the [1,3,3,1] FIR) against the reference path and
the GPU's memory bandwidth, plus the whole generator at 1024^2 with and without the kernels.

Times are CUDA-event medians; GB/s counts bytes read (input) plus written (output). The roofline is a
device-to-device copy measured here. Run on a GPU machine:

    python benchmarks/kernels.py [--out kernels.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHAPES = [(8, 512, 64, 64), (4, 256, 256, 256), (1, 64, 1024, 1024)]


def cuda_time(fn, iters: int = 50, warmup: int = 10) -> float:
    """Median milliseconds of fn() by CUDA events."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def copy_bandwidth() -> float:
    x = torch.empty(1 << 28, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    ms = cuda_time(lambda: y.copy_(x))
    return 2 * x.numel() / (ms * 1e-3) / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("benchmarks/kernels.py needs a CUDA GPU")
    from kernels import ops, setup_filter
    from kernels.upfirdn2d_ref import upfirdn2d_ref
    ops.extension()
    f = setup_filter([1, 3, 3, 1]).cuda()
    roofline = copy_bandwidth()
    rows = []
    for shape in SHAPES:
        for dtype in (torch.float16, torch.float32):
            x = torch.randn(shape, device="cuda", dtype=dtype)
            for name, kw in (("up2", dict(up=2, padding=[2, 1, 2, 1], gain=4)), ("down2", dict(down=2, padding=[1, 1, 1, 1]))):
                y = ops.upfirdn2d(x, f, **kw)
                nbytes = (x.numel() + y.numel()) * x.element_size()
                ms_k = cuda_time(lambda: ops.upfirdn2d(x, f, **kw))
                ms_r = cuda_time(lambda: upfirdn2d_ref(x, f, **kw))
                gbs = nbytes / (ms_k * 1e-3) / 1e9
                rows.append({"op": name, "shape": list(shape), "dtype": str(dtype)[6:], "kernel_ms": round(ms_k, 4),
                             "reference_ms": round(ms_r, 4), "speedup": round(ms_r / ms_k, 2), "GB_per_s": round(gbs, 1),
                             "fraction_of_copy_bandwidth": round(gbs / roofline, 3)})
                print(f"{name:5s} {str(shape):22s} {str(dtype)[6:]:8s} kernel {ms_k:8.3f} ms  ref {ms_r:8.3f} ms  "
                      f"x{ms_r / ms_k:5.1f}  {gbs:7.1f} GB/s ({100 * gbs / roofline:4.1f}% of copy)", file=sys.stderr)
    # The generator at 1024^2, batch 1, with and without the kernels.
    from core import Generator, GeneratorConfig, NoiseControl
    from kernels import dispatch
    G = Generator(GeneratorConfig(img_resolution=1024, num_fp16_res=4, conv_clamp=256)).eval().cuda()
    z = torch.randn(1, 512, device="cuda")
    gen = {}
    for mode in ("ref", "cuda"):
        os.environ["STYLEGAN_KERNELS"] = mode
        dispatch.reset()
        with torch.no_grad():
            gen[mode] = cuda_time(lambda: G(z, noise=NoiseControl("const")), iters=20, warmup=5)
    report = {"gpu": torch.cuda.get_device_name(), "copy_GB_per_s": round(roofline, 1), "upfirdn2d": rows,
              "generator_1024_batch1_ms": {k: round(v, 2) for k, v in gen.items()}}
    print(f"copy roofline {roofline:.0f} GB/s; generator 1024^2 batch 1: ref {gen['ref']:.2f} ms, "
          f"cuda {gen['cuda']:.2f} ms", file=sys.stderr)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
