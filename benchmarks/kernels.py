"""CUDA kernel speed: the resamplings StyleGAN2 runs (2x up, 2x down, the 4x4 FIR after a transposed
conv; the [1,3,3,1] filter) against the reference ops and the GPU's memory bandwidth, and the whole
generator with and without the kernels.

Times are CUDA-event medians over 10 back-to-back calls (so Python's per-call cost stays off the
GPU's clock); GB/s counts bytes read (input) plus written (output); the roofline is a
device-to-device copy measured here. Each resampling is timed through the op (`kernel_ms`, what the
networks call) and as a bare kernel call in both I/O forms of the NCHW tiles — 16-byte vectors
(`vector_io_ms`, the default) and one element per memory instruction (`scalar_io_ms`) — in the same
run, so the two are compared on the same clock. bias_act (lrelu, bias, gain, clamp) is timed the same way. The generator rows compare STYLEGAN_KERNELS=ref (plain torch
ops) with auto (the custom ops and kernels), fp16 in the top 4 resolutions as NVIDIA trains them.

    python benchmarks/kernels.py [--out kernels.json]              # on a GPU machine
    python benchmarks/kernels.py --device cpu --quick              # dry run of every step (small sizes)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHAPES = [(8, 512, 64, 64), (4, 256, 256, 256), (1, 64, 1024, 1024)]  # the last two: "the large shapes"
OPS = {"up2": dict(up=2, padding=[2, 1, 2, 1], gain=4),          # image upsampling, resnet skip
       "down2": dict(down=2, padding=[1, 1, 1, 1]),              # D's skip downsampling
       "fir": dict(padding=[1, 1, 1, 1], gain=4)}                # the FIR after G's transposed conv
GEN_POINTS = [(256, 1), (256, 8), (256, 32), (1024, 1), (1024, 8), (1024, 32)]


def timer(device: str):
    def measure(fn, iters: int = 30, warmup: int = 5, inner: int = 1) -> float:
        """Median milliseconds of fn() (CUDA events around `inner` back-to-back calls on a GPU, wall
        time on a CPU)."""
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(iters):
            if device == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(inner):
                    fn()
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end) / inner)
            else:
                t = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t) * 1e3)
        return statistics.median(times)
    return measure


def set_mode(mode: str) -> None:
    from kernels import dispatch
    os.environ["STYLEGAN_KERNELS"] = mode
    dispatch.reset()


def copy_bandwidth(device: str, measure) -> float:
    x = torch.empty(1 << (28 if device == "cuda" else 24), dtype=torch.uint8, device=device)
    y = torch.empty_like(x)
    ms = measure(lambda: y.copy_(x))
    return 2 * x.numel() / (ms * 1e-3) / 1e9


def resampling(device: str, shapes, measure, roofline: float, kernel_mode: str) -> list[dict]:
    from kernels import ops, setup_filter
    from kernels.upfirdn2d_ref import upfirdn2d_ref
    f = setup_filter([1, 3, 3, 1]).to(device)
    rows = []
    for shape in shapes:
        for dtype in (torch.float16, torch.float32):
            for layout in (torch.contiguous_format, torch.channels_last):
                x = torch.randn(shape, device=device).to(dtype).contiguous(memory_format=layout)
                for name, kw in OPS.items():
                    set_mode(kernel_mode)
                    y = ops.upfirdn2d(x, f, **kw)
                    err = float((y.float() - upfirdn2d_ref(x.float(), f, **kw)).abs().max())
                    nbytes = (x.numel() + y.numel()) * x.element_size()
                    ms_k = measure(lambda: ops.upfirdn2d(x, f, **kw), inner=10)
                    ms_r = measure(lambda: upfirdn2d_ref(x, f, **kw), inner=10)
                    io = bare_kernel_ms(device, x, f, kw, measure)
                    gbs = nbytes / (ms_k * 1e-3) / 1e9
                    row = {"op": name, "shape": list(shape), "dtype": str(dtype)[6:],
                           "layout": "NHWC" if layout == torch.channels_last else "NCHW",
                           "kernel_ms": round(ms_k, 4), "reference_ms": round(ms_r, 4),
                           "speedup": round(ms_r / ms_k, 2), "GB_per_s": round(gbs, 1),
                           "fraction_of_copy_bandwidth": round(gbs / roofline, 3), "max_abs_err": err}
                    for form, ms in io.items():
                        row[f"{form}_ms"] = round(ms, 4)
                        row[f"{form}_fraction_of_copy_bandwidth"] = round(nbytes / (ms * 1e-3) / 1e9 / roofline, 3)
                    rows.append(row)
                    print(f"{name:5s} {str(shape):22s} {row['dtype']:8s} {row['layout']} kernel {ms_k:8.3f} ms  "
                          f"ref {ms_r:8.3f} ms  x{ms_r / ms_k:5.1f}  {gbs:7.1f} GB/s "
                          f"({100 * gbs / roofline:4.1f}% of copy)  err {err:.1e}", file=sys.stderr)
    return rows


def bare_kernel_ms(device: str, x, f, kw: dict, measure) -> dict:
    """The kernel alone (the binding called directly: no autograd wrapper), in both I/O forms of the
    NCHW tiles: {"vector_io": ms, "scalar_io": ms}; {} off the GPU."""
    if device != "cuda":
        return {}
    from kernels import ops
    from kernels.upfirdn2d_ref import parse_padding
    ext = ops.extension()
    f2 = (f if f.ndim == 2 else torch.outer(f, f)).float().contiguous()
    up, down = kw.get("up", 1), kw.get("down", 1)
    px0, px1, py0, py1 = parse_padding(kw["padding"])
    args = (up, up, down, down, px0, px1, py0, py1, False, float(kw.get("gain", 1)))
    return {form: measure(lambda: ext.upfirdn2d(x, f2, *args, path), inner=10)
            for form, path in (("vector_io", ops.UFD_4X4), ("scalar_io", ops.UFD_4X4_SCALAR_IO))}


def bias_act(device: str, shapes, measure, roofline: float, kernel_mode: str) -> list[dict]:
    """The per-layer bias + lrelu + gain + clamp (forward) and its gradient kernel, NCHW and NHWC."""
    from kernels import ops
    from kernels.bias_act_ref import bias_act_ref
    rows = []
    for shape in shapes:
        for dtype in (torch.float16, torch.float32):
            for layout in (torch.contiguous_format, torch.channels_last):
                x = torch.randn(shape, device=device).to(dtype).contiguous(memory_format=layout)
                b = torch.randn(shape[1], device=device)
                set_mode(kernel_mode)
                y = ops.bias_act(x, b, act="lrelu", clamp=256.0)
                err = float((y.float() - bias_act_ref(x.float(), b, act="lrelu", clamp=256.0)).abs().max())
                ms_k = measure(lambda: ops.bias_act(x, b, act="lrelu", clamp=256.0), inner=10)
                ms_r = measure(lambda: bias_act_ref(x, b, act="lrelu", clamp=256.0), inner=10)
                y = y.to(dtype)
                ext = ops.extension() if device == "cuda" else None  # the gradient kernel alone (dy = x)
                ms_g = measure(lambda: ext.bias_act_grad(x, y, 1, 2, 0.2, 2 ** 0.5, 256.0), inner=10) \
                    if ext is not None else float("nan")
                nbytes = 2 * x.numel() * x.element_size()
                gbs = nbytes / (ms_k * 1e-3) / 1e9
                row = {"op": "bias_act", "shape": list(shape), "dtype": str(dtype)[6:],
                       "layout": "NHWC" if layout == torch.channels_last else "NCHW",
                       "kernel_ms": round(ms_k, 4), "reference_ms": round(ms_r, 4), "speedup": round(ms_r / ms_k, 2),
                       "GB_per_s": round(gbs, 1), "fraction_of_copy_bandwidth": round(gbs / roofline, 3),
                       "grad_kernel_ms": round(ms_g, 4),
                       "grad_fraction_of_copy_bandwidth": round(1.5 * nbytes / (ms_g * 1e-3) / 1e9 / roofline, 3),
                       "max_abs_err": err}
                rows.append(row)
                print(f"bias_act {str(shape):22s} {row['dtype']:8s} {row['layout']} kernel {ms_k:8.3f} ms  "
                      f"ref {ms_r:8.3f} ms  {gbs:7.1f} GB/s ({100 * gbs / roofline:4.1f}% of copy)  grad {ms_g:.3f} ms",
                      file=sys.stderr)
    return rows


def generator(device: str, points, measure, kernel_mode: str) -> list[dict]:
    """ms per image of G (mapping + synthesis, const noise, no grad), reference ops vs kernels."""
    from core import Generator, GeneratorConfig, NoiseControl
    rows = []
    built = {}
    for res, batch in points:
        if res not in built:
            torch.manual_seed(0)
            base = 32768 if res >= 1024 else 16384 if res >= 256 else 2048  # (small: the dry run)
            cfg = GeneratorConfig(img_resolution=res, channel_base=base,
                                  num_fp16_res=4, conv_clamp=256)
            built = {res: Generator(cfg).eval().requires_grad_(False).to(device)}
        G = built[res]
        z = torch.randn(batch, G.z_dim, device=device)
        row = {"res": res, "batch": batch}
        images = {}
        for mode in ("ref", kernel_mode):
            set_mode(mode)
            with torch.inference_mode():
                images[mode] = G(z, noise=NoiseControl("const"))
                ms = measure(lambda: G(z, noise=NoiseControl("const")), iters=10, warmup=3)
            row[f"{'kernels' if mode != 'ref' else 'reference'}_ms_per_img"] = round(ms / batch, 3)
        row["speedup"] = round(row["reference_ms_per_img"] / row["kernels_ms_per_img"], 2)
        row["max_abs_diff"] = float((images["ref"] - images[kernel_mode]).abs().max())
        rows.append(row)
        print(f"G {res}² batch {batch:2d}: reference {row['reference_ms_per_img']:8.3f} ms/img, kernels "
              f"{row['kernels_ms_per_img']:8.3f} ms/img  x{row['speedup']:.2f}  max |diff| {row['max_abs_diff']:.1e}",
              file=sys.stderr)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--quick", action="store_true", help="small sizes (a dry run of every step)")
    p.add_argument("--skip-generator", action="store_true")
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("benchmarks/kernels.py: no CUDA GPU (use --device cpu --quick for a dry run)")
    kernel_mode = "auto"
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
        from kernels import ops
        ops.extension()  # build now, outside the timings
    else:
        kernel_mode = "op"  # the custom ops with the reference inside: the same calls, no kernels
    measure = timer(args.device)
    shapes = [(1, 8, 32, 32), (1, 4, 64, 64)] if args.quick else SHAPES
    points = [(32, 1), (32, 4)] if args.quick else GEN_POINTS
    roofline = copy_bandwidth(args.device, measure)
    rows = resampling(args.device, shapes, measure, roofline, kernel_mode)
    act = bias_act(args.device, shapes, measure, roofline, kernel_mode)
    gen = [] if args.skip_generator else generator(args.device, points, measure, kernel_mode)
    report = {"device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
              "torch": torch.__version__, "copy_GB_per_s": round(roofline, 1), "upfirdn2d": rows, "bias_act": act,
              "generator": gen}
    print(f"copy roofline {roofline:.0f} GB/s", file=sys.stderr)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
