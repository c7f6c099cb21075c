"""Open the explorer in a real window (run under xvfb-run), run some frames, press a key through
GLFW's own callback, save the window, exit. Used by test_explorer_window.py and for screenshots:

    xvfb-run -a -s "-screen 0 1280x800x24" python tests/explorer/window_smoke.py MODEL OUT.png [FRAMES]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402
from imgui_bundle import imgui  # noqa: E402,F401  (before glfw)

from explorer.app import Explorer  # noqa: E402
from explorer.platform import WindowPlatform  # noqa: E402
from explorer.state import ExplorerState  # noqa: E402


def main() -> int:
    model, out = sys.argv[1], sys.argv[2]
    frames = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    import glfw
    platform = WindowPlatform(1280, 800)
    app = Explorer(ExplorerState(pkl=model), torch.device("cpu"), outdir=str(Path(out).parent))
    try:
        for i in range(frames):
            if i == frames // 2:  # the right arrow, as GLFW delivers it
                platform.backend.keyboard_callback(platform.window, glfw.KEY_RIGHT, 0, glfw.PRESS, 0)
            if i == frames // 2 + 1:
                platform.backend.keyboard_callback(platform.window, glfw.KEY_RIGHT, 0, glfw.RELEASE, 0)
            platform.run_frame(app)
            if i == frames // 2:
                app.renderer.wait_idle()
        app.renderer.wait_idle()
        platform.run_frame(app)
        platform.run_frame(app)
        app.request_window_shot()
        platform.run_frame(app)
        saved = sorted(Path(out).parent.glob("window-*.png"))
        if not saved:
            print("no window shot written", file=sys.stderr)
            return 1
        saved[-1].replace(out)
        from explorer.widgets.ui import RECTS
        x0, y0, x1, y1 = RECTS["canvas"]
        print(f"seed {app.state.latent.x:.0f}; {app.perf.fps:.1f} fps; GL: {platform_gl()}")
        print(f"canvas {x0:.1f} {y0:.1f} {x1:.1f} {y1:.1f}")  # where the image is drawn, in window pixels
        return 0
    finally:
        app.close()
        platform.close()


def platform_gl() -> str:
    from OpenGL import GL
    return GL.glGetString(GL.GL_RENDERER).decode()


if __name__ == "__main__":
    raise SystemExit(main())
