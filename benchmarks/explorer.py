"""Explorer responsiveness: UI frames per second and slider-to-frame latency.

Runs the real app headless (EGL, offscreen 1280x800 window, the asynchronous renderer thread as in
a window) on random-weight models of the generator benchmark's sizes:

  idle      UI frames/s and CPU use (% of one core, every thread of the process: UI, GL, renderer)
            with nothing changing: with the explorer's idling (it waits for input at IDLE_FPS) and
            without it (idle_fps 0: every frame drawn at --max-fps, as before #22 item 5)
  animated  UI frames/s and rendered frames/s while the latent animates (a render every frame)
  slider    a user dragging the ψ slider: each UI frame moves it; latency = time from the state
            change to that state's frame being in the GL texture (median, p90), and how many
            intermediate states the renderer skipped because newer ones arrived

    python benchmarks/explorer.py                 # 64² and 256² on CPU (1024² on CUDA if present)
    python benchmarks/explorer.py --res 64 --seconds 5
    xvfb-run -a python benchmarks/explorer.py --window --res 64   # idle CPU in a real (GLFW) window
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["PYOPENGL_PLATFORM"] = "egl"
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.append(str(REPO / "benchmarks"))  # (after the repo: benchmarks/kernels.py must not hide kernels/)


def measure(pkl: Path, device, seconds: float, max_fps: float, upload: str = "auto") -> dict:
    from explorer.app import IDLE_FPS, Explorer
    from explorer.platform import HeadlessPlatform
    from explorer.state import ExplorerState

    platform = HeadlessPlatform(1280, 800, max_fps=max_fps, device=device)  # paced like the window loop
    app = Explorer(ExplorerState(pkl=str(pkl)), device, sync=False)
    app.display.allow_interop = upload != "host"  # host: CUDA frames through host memory (the fallback)
    try:
        deadline = time.perf_counter() + 120
        while app.display.version < 0 and time.perf_counter() < deadline:  # model load + first frame
            platform.run_frame(app)
        for _ in range(10):
            platform.run_frame(app)

        def run_for(secs: float) -> tuple[int, float]:
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < secs:
                platform.run_frame(app)
                n += 1
            return n, time.perf_counter() - t0

        def idle_cpu(idle_fps: float) -> tuple[float, float]:
            app.idle_fps = idle_fps
            for _ in range(5):  # settle into (or out of) idling
                platform.run_frame(app)
            cpu0 = time.process_time()
            frames, dt = run_for(seconds / 6)
            return frames / dt, 100 * (time.process_time() - cpu0) / dt

        busy_fps, busy_cpu = idle_cpu(0.0)
        idle_fps, idle_cpu_pct = idle_cpu(IDLE_FPS)

        app.state.latent.animate, app.state.latent.speed = True, 1.0
        rendered0 = app.renderer.stats.rendered
        frames, dt = run_for(seconds / 3)
        animated_fps, render_fps = frames / dt, (app.renderer.stats.rendered - rendered0) / dt
        app.state.latent.animate = False
        app.renderer.wait_idle()

        # Drag the psi slider: a new state every UI frame until `seconds / 3` have passed.
        platform.run_frame(app)
        x, y = platform.centre("psi")
        platform.mouse_move(x, y)
        platform.run_frame(app)
        platform.mouse_button(True)
        platform.run_frame(app)
        app.latency_samples.clear()
        stats0 = (app.renderer.stats.requested, app.renderer.stats.dropped)
        t0, step, frames = time.perf_counter(), 0, 0
        while time.perf_counter() - t0 < seconds / 3:
            step += 1
            platform.mouse_move(x - 100 + (step * 7) % 200, y)
            platform.run_frame(app)
            frames += 1
        drag_fps = frames / (time.perf_counter() - t0)
        platform.mouse_button(False)
        app.renderer.wait_idle()
        for _ in range(3):
            platform.run_frame(app)
        lat = sorted(app.latency_samples)
        requested = app.renderer.stats.requested - stats0[0]
        dropped = app.renderer.stats.dropped - stats0[1]
        return {
            "ui_fps_idle": round(idle_fps, 1),
            "cpu_pct_idle": round(idle_cpu_pct, 1),
            "ui_fps_idle_without_idling": round(busy_fps, 1),
            "cpu_pct_idle_without_idling": round(busy_cpu, 1),
            "ui_fps_animated": round(animated_fps, 1),
            "rendered_fps_animated": round(render_fps, 1),
            "ui_fps_dragging": round(drag_fps, 1),
            "latency_ms_median": round(statistics.median(lat), 1) if lat else None,
            "latency_ms_p90": round(lat[int(0.9 * (len(lat) - 1))], 1) if lat else None,
            "slider_states": requested,
            "slider_states_skipped": dropped,
            "render_ms_last": round(app.renderer.stats.last_render_ms, 1),
            "upload": app.display.upload,
            "upload_notice": app.display.notice,
            "gl": platform.gl_info,
        }
    finally:
        app.close()
        platform.close()


def measure_window_idle(pkl: Path, device, seconds: float) -> dict:
    """Idle CPU use in a real window (GLFW; under xvfb-run on a machine without a display): the
    window's own loop, with the explorer's idling and without it."""
    os.environ.pop("PYOPENGL_PLATFORM", None)  # GLX through GLFW, not EGL
    from explorer.app import IDLE_FPS, Explorer
    from explorer.platform import WindowPlatform
    from explorer.state import ExplorerState
    platform = WindowPlatform(1280, 800)
    app = Explorer(ExplorerState(pkl=str(pkl)), device)
    try:
        deadline = time.perf_counter() + 120
        while app.display.version < 0 and time.perf_counter() < deadline:
            platform.run_frame(app)
        out = {}
        for name, idle_fps in (("without_idling", 0.0), ("idling", IDLE_FPS)):
            app.idle_fps = idle_fps
            for _ in range(10):
                platform.run_frame(app)
            n, t0, cpu0 = 0, time.perf_counter(), time.process_time()
            while time.perf_counter() - t0 < seconds / 2:
                platform.run_frame(app)
                n += 1
            dt = time.perf_counter() - t0
            out[f"window_ui_fps_{name}"] = round(n / dt, 1)
            out[f"window_cpu_pct_{name}"] = round(100 * (time.process_time() - cpu0) / dt, 1)
        return out
    finally:
        app.close()
        platform.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--res", type=int, nargs="*", default=None)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cpu for 64/256, cuda for 1024)")
    p.add_argument("--seconds", type=float, default=9.0, help="time per point (split over the three phases)")
    p.add_argument("--max-fps", type=float, default=60.0,
                   help="pace the UI loop like the window does (0: as fast as it goes)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: the explorer's choice, all cores but one)")
    p.add_argument("--upload", choices=["auto", "host", "both"], default="auto",
                   help="CUDA frames: zero copy where it works (auto), always through the host, or both in turn")
    p.add_argument("--window", action="store_true", help="measure idle CPU in a real window instead (needs a "
                   "display: run under xvfb-run -a)")
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()
    import torch

    from core.checkpoints.ours import save_generator
    from core.cli.common import tune_cpu_allocator
    from generator import build
    from explorer.main import render_threads
    tune_cpu_allocator()
    torch.set_num_threads(args.threads or render_threads())
    points = [(r, args.device or "cpu") for r in (args.res or [64, 256])]
    if args.res is None and torch.cuda.is_available():
        points.append((1024, "cuda"))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for res, device in points:
            pkl = Path(tmp) / f"g{res}.pt"
            save_generator(pkl, build(res, "cpu"))
            if args.window:
                row = {"res": res, "device": device, **measure_window_idle(pkl, torch.device(device), args.seconds)}
                results.append(row)
                print(f"{device} {res}², real window idle: {row}", file=sys.stderr)
                continue
            for upload in (["auto", "host"] if args.upload == "both" else [args.upload]):
                row = {"res": res, "device": device, **measure(pkl, torch.device(device), args.seconds, args.max_fps,
                                                               upload)}
                results.append(row)
                report(row)
    text = json.dumps({"torch_threads": torch.get_num_threads(), "max_ui_fps": args.max_fps,
                       "results": results}, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


def report(row: dict) -> None:
    print(f"{row['device']} {row['res']}² upload {row['upload']}: idle: UI {row['ui_fps_idle']} fps, "
          f"CPU {row['cpu_pct_idle']}% of a core (without idling {row['ui_fps_idle_without_idling']} fps, "
          f"{row['cpu_pct_idle_without_idling']}%); UI {row['ui_fps_animated']} fps animated "
          f"({row['rendered_fps_animated']} renders/s), {row['ui_fps_dragging']} dragging; "
          f"slider latency median {row['latency_ms_median']} ms, p90 {row['latency_ms_p90']} ms", file=sys.stderr)

if __name__ == "__main__":
    main()
