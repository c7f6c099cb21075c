"""stylegan-explorer: explore a StyleGAN generator in real time.

    stylegan-explorer --pkl model.pt                         open a window
    stylegan-explorer --pkl model.pt --seed 5 --trunc 0.7    start at seed 5, psi 0.7
    stylegan-explorer --session session.json                 every control as saved
    stylegan-explorer --pkl model.pt --screenshot out.png    render headless, save, exit
                                                             (an existing out.png: only with --force)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PROG = "stylegan-explorer"


def build_parser() -> argparse.ArgumentParser:
    from core.cli.common import ArgumentParser, number  # (one-line errors; imported here: --help stays quick)
    p = ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pkl", metavar="PATH", help="model file: ours, NVIDIA .pkl/.npz, rosinality .pt (default: the bundled emoji model)")
    p.add_argument("--seed", type=number(int, minimum=0), metavar="N", help="starting seed (default 0)")
    p.add_argument("--trunc", type=number(float, minimum=-1, maximum=2), metavar="PSI", help="starting truncation psi, -1..2 (default 1)")
    p.add_argument("--session", metavar="FILE", help="start from a saved session (JSON)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--size", default="1280x800", metavar="WxH", help="window size (default 1280x800)")
    p.add_argument("--outdir", default=".", metavar="DIR", help="where S and the save buttons write (default .)")
    p.add_argument("--screenshot", metavar="OUT.png",
                   help="render headless (no window), save the network image read back from the texture, exit")
    p.add_argument("--window-shot", metavar="OUT.png", help="render headless, save the whole window, exit")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --screenshot / --window-shot file (default: refuse, before rendering)")
    p.add_argument("--frames", type=number(int, minimum=1), default=1, metavar="N",
                   help="UI frames to run before a screenshot (animations advance 1/30 s per frame)")
    return p


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 1280x800, not {text!r}") from None
    if not (320 <= w <= 8192 and 240 <= h <= 8192):
        raise ValueError("--size must be between 320x240 and 8192x8192")
    return w, h


def render_threads() -> int:
    """torch threads for rendering on a CPU: all cores but one, which the UI and GL need."""
    return max(1, (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2) - 1)


def initial_state(args):
    from .state import MAX_SEED, ExplorerState
    state = ExplorerState.load(args.session, check_pkl=not args.pkl) if args.session else ExplorerState()
    if args.pkl:
        state.pkl = args.pkl
    if args.seed is not None:
        if not 0 <= args.seed <= MAX_SEED:
            raise ValueError(f"--seed must be within 0..{MAX_SEED} (stylegan-generate's seed range), got {args.seed}")
        state.latent.x, state.latent.y, state.latent.w_file = float(args.seed), 0.0, None
        state.walk.active = False
    if args.trunc is not None:
        if not -1 <= args.trunc <= 2:
            raise ValueError("--trunc must be within -1..2")
        if state.latent.w_file and not state.walk.active:  # (as stylegan-generate refuses --trunc with --ws)
            raise ValueError(f"--trunc has no effect: the session shows the W file {state.latent.w_file} as saved "
                             "(give --seed too, to start from a seed)")
        state.trunc.psi, state.trunc.per_group = args.trunc, False  # (the command line's one psi wins)
    if not state.pkl:
        from core.checkpoints.default_model import default_model_path
        state.pkl = str(default_model_path())
    return state


def check_outputs(args) -> None:
    """--screenshot / --window-shot: a .png in an existing folder that takes files (a read-only one
    failed only after rendering, with a traceback), two different files, and never over an existing
    file unless --force (core.files.refuse_to_replace): checked before anything loads."""
    from core.errors import UsageError
    from core.files import check_writable, refuse_to_replace
    outs = [(flag, out) for flag, out in (("--screenshot", args.screenshot), ("--window-shot", args.window_shot)) if out]
    for flag, out in outs:
        if Path(out).suffix.lower() != ".png":
            raise UsageError(f"{flag} writes a PNG image: give a .png file, not {out}")
        if not Path(out).parent.exists():
            raise UsageError(f"{flag} {out}: folder {Path(out).parent} does not exist")
        if not Path(out).parent.is_dir():
            raise UsageError(f"{flag} {out}: {Path(out).parent} is a file, not a folder")
        check_writable(Path(out).parent, f"{flag} {out}")
    if len(outs) == 2 and Path(outs[0][1]).absolute() == Path(outs[1][1]).absolute():
        raise UsageError(f"--screenshot and --window-shot both write {outs[0][1]}: give two files")
    refuse_to_replace([out for _, out in outs], args.force)


def run_headless(args, state, device, size) -> int:
    from core.images import save_png

    from .app import Explorer
    from .platform import HeadlessPlatform
    platform = HeadlessPlatform(*size, device=device)
    app = Explorer(state, device, sync=True, outdir=args.outdir)
    try:
        for _ in range(max(args.frames, 1)):
            platform.run_frame(app, dt=1 / 30)
        app.poll_renderer()  # what the last frame's render reported
        if app.model is None:
            print(f"{PROG}: error: {app.model_error or 'the model did not load'}", file=sys.stderr)
            return 2
        if app.render_error:  # a file the session names refused (exit 2), or a render failed (exit 1)
            kind, message = app.render_error
            print(f"{PROG}: error: {message}", file=sys.stderr)
            return 2 if kind == "refused" else 1
        if args.window_shot:  # (only when nothing failed: an error exits without writing either file)
            platform.run_frame(app, dt=1e-6)  # the window draws the texture filled in the last frame
            window = platform.read_window()
            save_png(window, args.window_shot)
            print(f"{PROG}: wrote {args.window_shot} (the whole window, {window.shape[1]}x{window.shape[0]}; "
                  f"GL {platform.gl_info})")
        if args.screenshot:
            image = app.network_image()
            save_png(image, args.screenshot)
            shown = "" if app.display.label == "image" else f"the layer view: {app.display.label}, "
            print(f"{PROG}: wrote {args.screenshot} ({shown}{image.shape[1]}x{image.shape[0]}; rendered on {device}; upload "
                  f"{app.display.upload}{f' ({app.display.notice})' if app.display.notice else ''}; GL {platform.gl_info})")
        return 0
    finally:
        app.close()
        platform.close()


def run_window(args, state, device, size) -> int:
    from .app import Explorer
    from .platform import WindowPlatform
    platform = WindowPlatform(*size)
    app = Explorer(state, device, outdir=args.outdir)
    try:
        while not platform.should_close():
            platform.run_frame(app)
        return 0
    finally:
        app.close()
        platform.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    headless = bool(args.screenshot or args.window_shot)
    if headless:
        os.environ["PYOPENGL_PLATFORM"] = "egl"  # before anything imports OpenGL
    from core.errors import ToolkitError, first_line
    from core.cli.common import check_switches, output_folder, resolve_device, tune_cpu_allocator
    try:
        check_switches()
        output_folder(args.outdir, create=False)
        size = parse_size(args.size)
        check_outputs(args)
        device = resolve_device(args.device)
        state = initial_state(args)
        if device.type == "cpu":
            import torch
            tune_cpu_allocator()
            torch.set_num_threads(render_threads())
        return run_headless(args, state, device, size) if headless else run_window(args, state, device, size)
    except ToolkitError as exc:  # the toolkit's one error family, as every command reports it
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:  # (1000: a message naming a session and its folders stays whole)
        print(f"{PROG}: error: {first_line(exc, 1000)}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # no display, no GL context
        print(f"{PROG}: error: {first_line(exc, 300)}", file=sys.stderr)
        return 1
    except OSError as exc:  # a write that fails after the checks (a full disk)
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"{PROG}: error: {exc.strerror or first_line(exc, 300)}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
