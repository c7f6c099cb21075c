"""stylegan-kernels: build the CUDA kernels and check them against the reference ops.

Prints what it found (GPU, architecture, torch/CUDA versions, build time) and a pass/fail line per
op; exits 1 if anything fails. On a machine without a GPU it says so and, when nvcc is on the PATH,
checks that every kernel source compiles.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from .build import SOURCE_DIR, gpu_arch

KERNEL_SOURCES = ["upfirdn2d.cu", "bias_act.cu", "to_rgba.cu", "filtered_lrelu.cu"]


def compile_sources(arch: str = "90") -> list[tuple[str, bool, str]]:
    """nvcc -c each kernel source (no GPU or torch needed). -> (name, ok, message)."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return []
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in KERNEL_SOURCES:
            r = subprocess.run([nvcc, "-c", f"-arch=sm_{arch}", "-O3", str(SOURCE_DIR / name), "-o",
                                str(Path(tmp) / (name + ".o"))], capture_output=True, text=True)
            results.append((name, r.returncode == 0, (r.stderr.strip().splitlines() or ["ok"])[-1][:200]))
    return results


def check_binding(cuda_home: str | None = None) -> tuple[bool, str]:
    """Compile-check binding.cpp (syntax and types) against this torch's headers with the host C++
    compiler — on a machine without a GPU or a CUDA torch. A CPU torch wheel lacks one generated
    header (c10/cuda/impl/cuda_cmake_macros.h), so an empty stand-in is put on the include path.
    -> (ok, the first error line or 'ok'); (True, 'skipped: ...') when no compiler or CUDA headers."""
    from torch.utils import cpp_extension
    cxx = shutil.which("g++") or shutil.which("c++")
    cuda_home = cuda_home or cpp_extension.CUDA_HOME or "/usr/local/cuda"
    if cxx is None or not (Path(cuda_home) / "include" / "cuda_runtime.h").exists():
        return True, "skipped: no C++ compiler or no CUDA headers"
    import sysconfig
    with tempfile.TemporaryDirectory() as tmp:
        stub = Path(tmp) / "c10" / "cuda" / "impl"
        stub.mkdir(parents=True)
        (stub / "cuda_cmake_macros.h").write_text("#pragma once\n")
        cmd = [cxx, "-std=c++20", "-fsyntax-only", f"-I{tmp}", *[f"-I{p}" for p in cpp_extension.include_paths()],
               f"-I{Path(cuda_home) / 'include'}", f"-I{SOURCE_DIR}", f"-I{sysconfig.get_paths()['include']}",
               "-DTORCH_EXTENSION_NAME=stylegan_kernels", str(SOURCE_DIR / "binding.cpp")]
        r = subprocess.run(cmd, capture_output=True, text=True)
    errors = [line for line in r.stderr.splitlines() if "error" in line]
    return r.returncode == 0, (errors[0][:300] if errors else "ok") if r.returncode else "ok"


def _close(a: torch.Tensor, b: torch.Tensor, half: bool) -> tuple[bool, float]:
    a, b = a.float(), b.float()
    if half:
        err = float(((a - b).abs() / (b.abs() + 1e-2)).max())
        return err <= 1e-2, err
    err = float((a - b).abs().max())
    return err <= 1e-5, err


def check_ops(device: torch.device) -> list[tuple[str, bool, str]]:
    from . import ops
    from .bias_act_ref import bias_act_ref
    from .upfirdn2d import setup_filter
    from .upfirdn2d_ref import upfirdn2d_ref
    results = []
    gen = torch.Generator().manual_seed(0)
    f4 = setup_filter([1, 3, 3, 1]).to(device)
    ext = ops.extension()
    cases = [("upsample 2x [8,64,32,32]", (8, 64, 32, 32), f4, dict(up=2, padding=[2, 1, 2, 1], gain=4)),
             ("downsample 2x [8,64,32,32]", (8, 64, 32, 32), f4, dict(down=2, padding=[1, 1, 1, 1])),
             # NCHW tiles: vector loads of aligned rows and vector stores / of rows of 2n+1 (G's FIR after
             # the transposed conv) / scalar stores of rows of n+1 (D's FIR before the strided conv)
             ("upsample 2x [2,16,64,64]", (2, 16, 64, 64), f4, dict(up=2, padding=[2, 1, 2, 1], gain=4)),
             ("FIR 4x4 [2,16,129,129]", (2, 16, 129, 129), f4, dict(padding=[1, 1, 1, 1], gain=4)),
             ("FIR 4x4 [2,16,64,64]", (2, 16, 64, 64), f4, dict(padding=[2, 2, 2, 2])),
             ("downsample 2x [2,32,128,128]", (2, 32, 128, 128), f4, dict(down=2, padding=[1, 2, 1, 2])),
             ("upsample 2x odd phases [2,16,40,33]", (2, 16, 40, 33), torch.randn(4, 4, generator=gen).to(device),
              dict(up=2, padding=[1, 2, 3, 0])),
             ("FIR 4x4 [4,128,63,65]", (4, 128, 63, 65), f4, dict(padding=[1, 1, 1, 1], gain=4)),
             ("FIR 4x4 cropping [2,16,40,70]", (2, 16, 40, 70), torch.randn(4, 4, generator=gen).to(device),
              dict(padding=[-1, 2, 3, -2], flip_filter=True)),
             ("general 3x up, 5-tap [2,3,17,11]", (2, 3, 17, 11), torch.randn(5, generator=gen).to(device),
              dict(up=3, padding=[1, 2, 3, 0], flip_filter=True)),
             ("general 4x down, 7x3 [3,5,40,33]", (3, 5, 40, 33), torch.randn(7, 3, generator=gen).to(device),
              dict(down=4, padding=[2, 2, 1, 1], gain=2.0))]
    for name, shape, f, kw in cases:
        f2 = (f if f.ndim == 2 else torch.outer(f, f)).float().contiguous()
        up, down = kw.get("up", 1), kw.get("down", 1)
        px0, px1, py0, py1 = kw["padding"]
        # The general kernel; the 4x4 kernels in both I/O forms (only the scalar one when
        # STYLEGAN_UPFIRDN2D_IO=scalar).
        chosen = ops.upfirdn2d_kernel_path(4, 4, up, up, down, down) if f2.shape == (4, 4) else None
        paths = [ops.UFD_GENERAL] + ([ops.UFD_4X4_SCALAR_IO] if chosen in (ops.UFD_4X4, ops.UFD_4X4_SCALAR_IO) else []) \
            + ([ops.UFD_4X4] if chosen == ops.UFD_4X4 else [])
        for path in paths:
            for dtype in (torch.float32, torch.float16):
                for layout in (torch.contiguous_format, torch.channels_last):
                    x = torch.randn(shape, generator=gen).to(device, dtype).contiguous(memory_format=layout)
                    torch.full((1 << 24,), float("nan"), device=device)  # poison the allocator's cache
                    y = ext.upfirdn2d(x, f2, up, up, down, down, px0, px1, py0, py1, kw.get("flip_filter", False),
                                      float(kw.get("gain", 1)), path)
                    ok, err = _close(y, upfirdn2d_ref(x.float(), f, **kw), dtype == torch.float16)
                    ok = ok and not torch.isnan(y).any()
                    kind = {ops.UFD_GENERAL: "general", ops.UFD_4X4: "4x4", ops.UFD_4X4_SCALAR_IO: "4x4 scalar-I/O"}[path]
                    results.append((f"upfirdn2d {kind} {name} {str(dtype)[6:]} "
                                    f"{'NHWC' if layout == torch.channels_last else 'NCHW'}", ok, f"max err {err:.2e}"))
    x = torch.randn(4, 3, 9, 9, generator=gen).to(device).requires_grad_(True)
    gy = torch.randn(4, 3, 18, 18, generator=gen).to(device)
    dx = torch.autograd.grad((ops.upfirdn2d(x, f4, up=2, padding=[2, 1, 2, 1], gain=4) * gy).sum(), x)[0]
    dx_ref = torch.autograd.grad((upfirdn2d_ref(x, f4, up=2, padding=[2, 1, 2, 1], gain=4) * gy).sum(), x)[0]
    ok, err = _close(dx, dx_ref, False)
    results.append(("upfirdn2d gradient", ok, f"max err {err:.2e}"))
    # Short rows (the flat kernel), long rows (the per-row kernel), channels_last, a [N, C] matrix —
    # each in the 16-byte-vector form and the scalar one (sizes not a multiple of 8, a tensor that
    # starts one element past an aligned address); forward, and the gradient kernel.
    def tensor(shape, layout, dtype, misaligned=False):
        x = (torch.randn(shape, generator=gen) * 3).to(device, dtype).contiguous(memory_format=layout)
        if misaligned:
            m = torch.empty(x.numel() + 1, device=device, dtype=dtype)[1:].view(x.shape).contiguous(memory_format=layout)
            x = m.copy_(x) if m.data_ptr() % 16 else x
        return x
    for shape, layout, misaligned in [((8, 64, 16, 16), torch.contiguous_format, False),
                                      ((2, 32, 64, 64), torch.contiguous_format, False),
                                      ((2, 32, 64, 64), torch.contiguous_format, True),
                                      ((2, 24, 33, 37), torch.contiguous_format, False),
                                      ((2, 32, 64, 64), torch.channels_last, False),
                                      ((2, 20, 8, 8), torch.channels_last, False),
                                      ((16, 512), torch.contiguous_format, False), ((5, 3), torch.contiguous_format, False)]:
        for act in ("linear", "lrelu", "relu"):
            for dtype in (torch.float32, torch.float16):
                x = tensor(shape, layout, dtype, misaligned)
                b = torch.randn(shape[1], generator=gen).to(device)
                y = ops.bias_act(x, b, act=act, clamp=4.0)
                ref = bias_act_ref(x.float(), b, act=act, clamp=4.0)
                ok, err = _close(y, ref, dtype == torch.float16)
                code = ops.ACT_CODES[act]
                dy = tensor(shape, layout, dtype, misaligned)
                y = y.to(dtype)  # (the reference path on a CPU returns float32 for half inputs)
                dx = ext.bias_act_grad(dy, y, 1, code, 0.2, 1.0, 4.0)
                ok2, err2 = _close(dx, ops._grad_ref(dy.float(), y.float(), code, 0.2, 1.0, 4.0), dtype == torch.float16)
                where = f"{list(shape)}{' NHWC' if layout == torch.channels_last else ''}{' misaligned' if misaligned else ''}"
                results.append((f"bias_act {act} {str(dtype)[6:]} {where}", ok, f"max err {err:.2e}"))
                results.append((f"bias_act_grad {act} {str(dtype)[6:]} {where}", ok2, f"max err {err2:.2e}"))
    img = (torch.rand(1, 3, 37, 53, generator=gen) * 2.4 - 1.2).to(device)
    rgba = ops.to_rgba(img, zoom=2).cpu()
    ref = (img.cpu()[0] * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(1, 2, 0)
    ref = ref.repeat_interleave(2, 0).repeat_interleave(2, 1)
    ok = bool((rgba[..., :3] == ref).all() and (rgba[..., 3] == 255).all())
    results.append(("to_rgba (exact bytes)", ok, "identical" if ok else f"{int((rgba[..., :3] != ref).sum())} bytes differ"))
    results += check_filtered_lrelu(device, gen)
    return results


def check_filtered_lrelu(device: torch.device, gen: torch.Generator) -> list[tuple[str, bool, str]]:
    """The fused filtered_lrelu kernel against the reference: StyleGAN3's layer shapes (-T: separable
    windowed sinc, up 2 / up 4 down 2 / critically sampled; -R: a 2-D radial down filter), fp32 and fp16."""
    from . import ops
    from .filtered_lrelu_ref import filtered_lrelu_ref
    ext = ops.extension()
    results = []
    cases = [  # name, x shape, up, down, up taps, down taps, padding, radial (2-D fu)
        ("T up2 down2 [4,256,36,36]", (4, 256, 36, 36), 2, 2, 12, 12, [11, 10, 11, 10], False),
        ("T up4 down2 [2,128,84,84]", (2, 128, 84, 84), 4, 2, 24, 12, [23, 22, 23, 22], False),
        ("T critical up1 down1 [2,64,148,148]", (2, 64, 148, 148), 1, 1, 6, 6, [-5, -5, -5, -5], False),
        ("R up2 down2 [2,128,52,52] radial fd", (2, 128, 52, 52), 2, 2, 12, 12, [11, 10, 11, 10], True),
    ]
    for name, shape, up, down, ku, kd, pad, radial in cases:
        fu = torch.randn(ku, generator=gen) / ku ** 0.5
        fd = torch.randn(kd, kd, generator=gen) / kd if radial else torch.randn(kd, generator=gen) / kd ** 0.5
        for dtype in (torch.float32, torch.float16):
            x = torch.randn(shape, generator=gen).to(device, dtype)
            b = torch.randn(shape[1], generator=gen).to(device)
            out = ext.filtered_lrelu(x, fu.to(device), fd.to(device), b, up, down, *pad, 2 ** 0.5, 0.2, 256.0, False)
            if not out:
                results.append((f"filtered_lrelu {name} {str(dtype)[6:]}", False, "no tile fits"))
                continue
            ref = filtered_lrelu_ref(x.float(), fu.to(device), fd.to(device), b, up=up, down=down, padding=pad,
                                     clamp=256.0)
            ok, err = _close(out[0], ref, dtype == torch.float16)
            results.append((f"filtered_lrelu {name} {str(dtype)[6:]}", ok, f"max err {err:.2e}"))
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stylegan-kernels", description=__doc__.split("\n\n")[0])
    p.add_argument("--no-compile", action="store_true", help="without a GPU: do not compile the sources either "
                   "(gpu_check's dry run; the tests compile them)")
    args = p.parse_args(argv)
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda or 'none'}")
    if not torch.cuda.is_available():
        print("no CUDA GPU: the reference (pure PyTorch) ops are in use")
        if args.no_compile:
            return 0
        results = compile_sources()
        if not results:
            print("nvcc not found: kernel sources not compiled")
            return 0
        results.append(("binding.cpp", *check_binding()))
        for name, ok, msg in results:
            print(f"  compile {name:14s} {'PASS' if ok else 'FAIL'}  {msg}")
        return 0 if all(ok for _, ok, _ in results) else 1
    device = torch.device("cuda")
    print(f"GPU {torch.cuda.get_device_name()}, sm_{gpu_arch()}")
    from . import ops
    t = time.time()
    try:
        ops.extension()
    except Exception as exc:
        print(f"build FAILED after {time.time() - t:.1f} s: {exc}")
        return 1
    print(f"build/load {time.time() - t:.1f} s")
    results = check_ops(device)
    for name, ok, msg in results:
        print(f"  {'PASS' if ok else 'FAIL'}  {name:48s} {msg}")
    failed = sum(not ok for _, ok, _ in results)
    print(f"{len(results) - failed}/{len(results)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
