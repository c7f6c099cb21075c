"""The explorer on a GPU (issue #23): does the CUDA -> GL zero-copy path run, give the CLI's pixels,
and how fast is it against the host path? One script, every figure; run by gpu_explorer_check.sh.

Steps (each recorded in OUT/explorer-check.json and .md, rewritten after every step):
  env        torch, the GPU, the UI packages, the EGL devices and the platform the context took
  frames     headless explorer (EGL device platform on the GPU): the frame, read back from the GL
             texture as RGBA8, equals `stylegan-generate --device D --seeds 0`'s PNG pixel for pixel,
             through the zero-copy path ('cuda-gl') and through the host path ('host'); at 64² (the
             bundled model) and 1024² (a random network of the generator benchmark's size)
  tests      the explorer's headless tests (they render on the CPU; GL on whatever EGL gives)
  bench      benchmarks/explorer.py at 256² and 1024², zero copy and host path in the same run:
             slider->frame latency (median, p90), UI fps idle / animated / dragging

    python benchmarks/gpu_explorer_check.py --device cuda --out OUT
    python benchmarks/gpu_explorer_check.py --device cpu --out /tmp/x   # the dry run on a CPU machine
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.append(str(REPO / "benchmarks"))


class Report:
    def __init__(self, out: Path):
        self.out, self.data = out, {"steps": {}}

    def step(self, name: str, fn) -> None:
        t0 = time.time()
        try:
            result = fn()
            entry = {"ok": bool(result.pop("ok", True)), **result}
        except Exception as exc:  # every step runs; a failure is recorded with its traceback
            entry = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}
        entry["seconds"] = round(time.time() - t0, 1)
        self.data["steps"][name] = entry
        print(f"[{name}] {'ok' if entry['ok'] else 'FAILED'} ({entry['seconds']} s)"
              + (f": {entry.get('error')}" if not entry["ok"] else ""), flush=True)
        self.write()

    def write(self) -> None:
        (self.out / "explorer-check.json").write_text(json.dumps(self.data, indent=2) + "\n")
        (self.out / "explorer-check.md").write_text(markdown(self.data))


def markdown(data: dict) -> str:
    steps = data["steps"]
    dry = data.get("device") == "cpu"
    lines = ["# Explorer on the GPU (benchmarks/gpu_explorer_check.sh)"
             + (" — CPU dry run: the plumbing, not the figures" if dry else ""), ""]
    env = steps.get("env", {})
    packages = ", ".join(f"{name} {version}" for name, version in (env.get("packages") or {}).items())
    lines += [f"- device: {env.get('device')}; torch {env.get('torch')}; GL: {env.get('gl')}",
              f"- packages: {packages}" + (" (cuda-bindings is only needed for cuda-gl on a GPU)" if dry else ""), ""]
    for name, s in steps.items():
        lines.append(f"- **{name}**: {'ok' if s['ok'] else 'FAILED'} ({s['seconds']} s)"
                     + (f" — {s['summary']}" if s.get("summary") else "")
                     + (f" — {s['error']}" if not s["ok"] and "error" in s else ""))
    frames = steps.get("frames", {}).get("cases", [])
    if frames:
        lines += ["", "| model | upload | equals stylegan-generate | max abs diff |", "|---|---|---|---|"]
        lines += [f"| {c['res']}² | {c['upload']} | {c['equal']} | {c['max_diff']} |" for c in frames]
    bench = steps.get("bench", {}).get("results", [])
    if bench:
        lines += ["", "| res | upload | latency median ms | p90 ms | UI fps dragging | UI fps animated | renders/s | UI fps idle |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['res']}² | {r['upload']} | {r['latency_ms_median']} | {r['latency_ms_p90']} | "
                  f"{r['ui_fps_dragging']} | {r['ui_fps_animated']} | {r['rendered_fps_animated']} | {r['ui_fps_idle']} |"
                  for r in bench]
    return "\n".join(lines) + "\n"


def env_step(device: str) -> dict:
    import torch
    packages = {}
    for name, module in (("imgui_bundle", "imgui_bundle"), ("PyOpenGL", "OpenGL"), ("glfw", "glfw"),
                         ("cuda-bindings", "cuda.bindings.runtime")):
        try:
            m = __import__(module, fromlist=["_"])
            packages[name] = getattr(m, "__version__", "present")
        except Exception as exc:  # (missing is a finding, not a failure of this step)
            packages[name] = f"missing ({type(exc).__name__})"
    from OpenGL import EGL

    from explorer.gl import HeadlessContext, egl_devices
    devices = [{"extensions": d.extensions, "cuda_index": d.cuda_index, "software": d.software}
               for d in egl_devices(EGL)]
    ctx = HeadlessContext(prefer="device" if device == "cuda" else "surfaceless", cuda_index=0 if device == "cuda" else None)
    gl = f"{ctx.renderer_name()} (EGL {ctx.platform} platform)"
    ctx.close()
    return {"torch": torch.__version__, "device": torch.cuda.get_device_name(0) if device == "cuda" else "CPU",
            "packages": packages, "egl_devices": devices, "gl": gl}


def generate(pkl: Path, device: str, out: Path):
    """stylegan-generate --seeds 0 on `device`, as a user runs it -> its PNG's pixels (HxWx3 uint8)."""
    import numpy as np
    from PIL import Image
    r = subprocess.run([sys.executable, "-m", "core.cli.generate", "--pkl", str(pkl), "--seeds", "0",
                        "--device", device, "--outdir", str(out)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])})
    if r.returncode != 0:
        raise RuntimeError(f"stylegan-generate failed: {r.stderr.strip()[-300:]}")
    return np.asarray(Image.open(out / "seed0000.png"))


def frames_step(device: str, tmp: Path) -> dict:
    import numpy as np
    import torch

    from core.checkpoints.ours import save_generator
    from explorer.app import Explorer
    from explorer.platform import HeadlessPlatform
    from explorer.state import ExplorerState
    from generator import build
    models = [(64, REPO / "assets" / "emoji64.pt")]
    big = tmp / "g1024.pt"
    save_generator(big, build(1024 if device == "cuda" else 256, "cpu"))
    models.append((1024 if device == "cuda" else 256, big))
    expected_upload = "cuda-gl" if device == "cuda" else "cpu"
    cases, ok = [], True
    platform = HeadlessPlatform(1280, 800, device=torch.device(device))
    try:
        for res, pkl in models:
            want = generate(pkl, device, tmp / f"gen{res}")
            for interop in (True, False) if device == "cuda" else (True,):
                app = Explorer(ExplorerState(pkl=str(pkl)), torch.device(device), sync=True, outdir=str(tmp))
                app.display.allow_interop = interop
                try:
                    for _ in range(3):
                        platform.run_frame(app)
                    rgba = app.display.texture.read()
                    got = rgba[..., :3]
                    equal = got.shape == want.shape and bool(np.array_equal(got, want)) and bool((rgba[..., 3] == 255).all())
                    diff = int(np.abs(got.astype(int) - want).max()) if got.shape == want.shape else None
                    upload = app.display.upload
                    right_path = upload == (expected_upload if interop else "host")
                    cases.append({"res": res, "upload": upload, "notice": app.display.notice, "equal": equal,
                                  "max_diff": diff, "render_ms": round(app.renderer.stats.last_render_ms, 1)})
                    ok = ok and equal and right_path
                finally:
                    app.close()
    finally:
        platform.close()
    return {"ok": ok, "gl": platform.gl_info, "cases": cases}


def tests_step(device: str) -> dict:
    select = [] if device == "cuda" else ["-k", "default_frame or upload or egl"]  # (the dry run: a few)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
                        "tests/explorer/test_explorer.py", "tests/explorer/test_explorer_first_hour.py",
                        "tests/explorer/test_explorer_gpu_paths.py", *select],
                       cwd=REPO, capture_output=True, text=True, timeout=240)
    tail = (r.stdout + r.stderr).strip().splitlines()
    return {"ok": r.returncode == 0, "summary": tail[-1] if tail else "", "tail": "\n".join(tail[-15:])}


def bench_step(device: str, seconds: float, out: Path) -> dict:
    res = ["256", "1024"] if device == "cuda" else ["64"]
    cmd = [sys.executable, str(REPO / "benchmarks" / "explorer.py"), "--res", *res, "--device", device,
           "--seconds", str(seconds), "--upload", "both" if device == "cuda" else "auto", "--out", str(out / "explorer-bench.json")]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError((r.stderr or r.stdout).strip()[-800:])
    results = json.loads((out / "explorer-bench.json").read_text())["results"]
    return {"results": results}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--out", required=True)
    p.add_argument("--seconds", type=float, default=9.0, help="per benchmark point")
    p.add_argument("--skip", nargs="*", default=[], choices=["frames", "tests", "bench"])
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(out)
    report.data["device"] = args.device
    report.step("env", lambda: env_step(args.device))
    with tempfile.TemporaryDirectory() as tmp:
        if "frames" not in args.skip:
            report.step("frames", lambda: frames_step(args.device, Path(tmp)))
    if "tests" not in args.skip:
        report.step("tests", lambda: tests_step(args.device))
    if "bench" not in args.skip:
        report.step("bench", lambda: bench_step(args.device, args.seconds, out))
    print((out / "explorer-check.md").read_text())
    return 0 if all(s["ok"] for s in report.data["steps"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
