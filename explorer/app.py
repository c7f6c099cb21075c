"""The explorer application: state + widgets + renderer + display, one UI frame at a time.

A platform (explorer/platform.py: a GLFW window, or an offscreen EGL framebuffer) owns the GL
context and imgui's backend and calls `Explorer.frame(dt)` once per UI frame.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import deque
from pathlib import Path

from core.files import atomic_write, size_text, unused_path
import torch
from imgui_bundle import imgui

from core.images import save_png

from .display import FrameDisplay
from .latents import seed_at
from .recorder import WalkRecorder, default_record_path
from .renderer import Renderer
from .state import SEED_COUNT, ExplorerState, clamp_position
from .widgets import ui
from .widgets.capture import CaptureWidget
from .widgets.directions import DirectionsWidget
from .widgets.help import HelpWidget
from .widgets.latent import LatentWidget
from .widgets.layer_view import LayerViewWidget
from .widgets.network import NetworkWidget
from .widgets.noise import NoiseWidget
from .widgets.performance import PerformanceWidget
from .widgets.styles import StylesWidget
from .widgets.transform import TransformWidget
from .widgets.truncation import TruncationWidget
from .widgets.walk import WalkWidget

PANEL_WIDTH = 440  # the controls' starting width; the user drags its right edge to resize it
DRAG_PIXELS_PER_SEED = 300.0
IDLE_FPS = 10.0  # UI frames per second while nothing animates, renders or is touched
IDLE_AFTER_FRAMES = 3  # full-rate frames after the last change before idling (imgui settles)
NOISE_SEEDS_PER_SECOND = 30.0
DRIFT_RADIUS = 0.1  # image widths: the circle StyleGAN3's translation drift settles on (NVIDIA's visualizer)
MAX_RECENT = 10


class Perf:
    """UI frame rate and slider-to-frame latency, smoothed."""

    def __init__(self):
        self.fps = 0.0
        self.frame_ms = 0.0
        self.latency_ms = 0.0
        self._last = None

    def tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            dt = now - self._last
            self.frame_ms = 0.9 * self.frame_ms + 0.1 * dt * 1e3 if self.frame_ms else dt * 1e3
            self.fps = 1e3 / self.frame_ms if self.frame_ms > 0 else 0.0
        self._last = now


def drift(x: float, y: float, step: float) -> tuple[float, float]:
    """StyleGAN3's translation drift, as NVIDIA's visualizer animates it: the point (x, y) (image
    widths) moves `step` widths along a path that settles on a circle of about DRIFT_RADIUS round the
    centre — heading for the circle and turning round it (anticlockwise; a negative step clockwise),
    so the image keeps moving and never jumps. From the centre it sets out along x."""
    r = math.hypot(x, y)
    if r < 1e-9:
        return x + abs(step), y
    turn = math.copysign(1.0, step)
    dx, dy = (DRIFT_RADIUS - r) * x / r - turn * y, (DRIFT_RADIUS - r) * y / r + turn * x  # (the turn: r long)
    n = math.hypot(dx, dy)
    return x + abs(step) * dx / n, y + abs(step) * dy / n


def is_w_file(path: str) -> bool:
    """Whether a .npz holds a W/W+ (an array 'w' or 'ws') rather than a network (NVIDIA-named state
    dicts have 'config_json'), from the archive's list of names alone; False when it cannot be read
    (the model loader then says what is wrong with it)."""
    import zipfile
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return bool(names & {"w.npy", "ws.npy"}) and "config_json.npy" not in names


def config_dir() -> Path:
    """The explorer's settings folder: $XDG_CONFIG_HOME/stylegan-toolkit, else ~/.config/stylegan-toolkit."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "stylegan-toolkit"


class Explorer:
    """The application: one ExplorerState edited by the widgets, the Renderer that turns it into
    frames, the FrameDisplay that puts them in a GL texture, sessions, screenshots and walk
    recordings; frame(dt) runs one UI frame (called by the platform)."""

    def __init__(self, state: ExplorerState, device: torch.device, sync: bool = False, outdir: str = "."):
        self.state = state
        self.device = device
        self.device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        self.gl_info = ""  # the GL renderer and platform (set by the platform)
        self.renderer = Renderer(device, sync=sync)
        self.display = FrameDisplay()
        self.perf = Perf()
        self.outdir = outdir
        self.status = ""  # the last message, always visible in the status line under the controls
        self.status_error = False
        self.model_error = ""
        self.render_error: tuple[str, str] | None = None  # the renderer's last ("refused" | "error", message)
        self.idle_fps = IDLE_FPS  # 0: never idle (benchmarks compare both)
        self.quiet_frames = 0  # UI frames in a row with nothing animating, rendering or touched
        self._last_mouse = (0.0, 0.0)
        self.recorder: WalkRecorder | None = None
        self._recording_said = True  # whether the recorder's outcome is in the status line yet
        self.recent_files = self._load_recent()
        self.window_shot_requested = False
        self.fullscreen_toggle_requested = False
        self.feature_channels = 0
        self.latency_samples: deque[float] = deque(maxlen=1000)  # recent slider-to-frame latencies
        self._version = 0
        self._requested: ExplorerState | None = None
        self._change_time: dict[int, float] = {}
        self._loading_path: str | None = None
        self.widgets = [w(self) for w in (NetworkWidget, LatentWidget, TruncationWidget, StylesWidget,
                                          NoiseWidget, TransformWidget, WalkWidget, DirectionsWidget, LayerViewWidget,
                                          CaptureWidget, PerformanceWidget, HelpWidget)]
        self._open = {w.title: w.title in ("Network", "Latent", "Truncation", "Style mixing", "Noise", "Input transform")
                      for w in self.widgets}
        if state.pkl:
            self.open_model(state.pkl)

    # ------------------------------------------------------------------------------ model ---
    @property
    def model(self):
        return self.renderer.model

    @property
    def loading(self) -> bool:
        return self._loading_path is not None

    def open_model(self, path: str) -> None:
        self._loading_path = str(path)
        self.model_error = ""
        self.notify(f"loading {path}…")
        self.renderer.load(str(path))

    def notify(self, message: str, error: bool = False) -> None:
        """A confirmation or an error for the status line (always on screen); widgets also show their
        own errors where the user acted."""
        self.status, self.status_error = message, error

    def use_w_file(self, path: str) -> str | None:
        """Show a W / W+ .npz instead of the seed, if it fits the model. -> the error, or None."""
        from core.errors import ToolkitError
        from core.latents.wfile import read_ws_file
        if self.model is None:
            return self._refuse("load a model first")
        try:
            wfile = read_ws_file(path, self.model.num_ws, self.model.w_dim)
        except (ToolkitError, ValueError, OSError) as exc:
            return self._refuse(str(exc))
        lat = self.state.latent
        lat.w_file, lat.w_index = path, 0
        self.state.walk.active = False
        taken = self._take_saved_settings(wfile)
        self.notify(f"using {path}: {len(wfile.ws)} W+ row{'s' * (len(wfile.ws) > 1)}"
                    + (f"; {' and '.join(taken)} as saved" if taken else ""))
        return None

    def _take_saved_settings(self, wfile) -> list[str]:
        """The noise settings and StyleGAN3 input transform a W file was saved with (stylegan-generate
        --save-ws) into the state, as `stylegan-generate --ws` replays them, so that it shows the image
        that was saved: a saved noise mode, strength or seed replaces the panel's (per-layer strengths,
        which the file cannot hold, back at 1; animation off); on a StyleGAN3 network the saved transform,
        or none when the file has none (NVIDIA's projector), as generate draws it. -> what was taken."""
        n, saved, taken = self.state.noise, wfile.noise, []
        if saved:
            n.mode = saved.get("noise_mode", n.mode)
            n.strength = float(saved.get("noise_strength", n.strength))
            n.seed = int(saved.get("noise_seed", n.seed))
            n.layer_strength, n.animate = [], False
            taken.append("noise " + ", ".join(f"{k.split('_')[1]} {v:g}" if not isinstance(v, str) else v
                                              for k, v in saved.items()))
        if self.model.arch == "stylegan3":
            t = self.state.transform
            (t.translate_x, t.translate_y), t.rotate = wfile.transform.get("translate", (0.0, 0.0)), \
                float(wfile.transform.get("rotate", 0.0))
            t.animate_translate = t.animate_rotate = False
            taken.append("input transform" if wfile.transform else "no input transform")
        return taken

    def use_directions(self, path: str) -> str | None:
        """Take direction sliders from a directions .npz, if it fits the model's W. -> the error, or None."""
        from core.errors import ToolkitError
        from core.latents.directions import load_directions
        if self.model is None:
            return self._refuse("load a model first")
        try:
            names = load_directions(path, self.model.w_dim).names
        except (ToolkitError, ValueError, OSError) as exc:
            return self._refuse(str(exc))
        d = self.state.directions
        d.source, d.entries = path, []
        self.notify(f"directions from {path}: {len(names)}")
        return None

    def _refuse(self, message: str) -> str:
        self.notify(message, error=True)
        return message

    def open_file(self, path: str) -> None:
        """A dropped or typed file: a session (.json), a W/W+ file (a .npz of an array 'w' or 'ws' and
        no config_json: stylegan-generate --save-ws, NVIDIA's projector) for the latent, or a model."""
        if str(path).lower().endswith(".json"):
            self.load_session(path)
        elif str(path).lower().endswith(".npz") and is_w_file(path):
            self.use_w_file(path)
        else:
            self.open_model(path)

    def poll_renderer(self) -> None:
        """Take in what the renderer reported since the last call (every UI frame does; a headless
        run once more after its last frame): loaded models, load failures, files refused, failed
        renders — the last two kept in render_error as well as shown in the status line."""
        for kind, message in self.renderer.take_events():
            if kind == "loaded":
                self.state.pkl = message
                self._remember(message)
                self.model_error = ""
                self.render_error = None
                self.notify(f"loaded {Path(message).name}")
                self._loading_path = None
                self._requested = None  # render the current state with the new model
            elif kind == "load_failed":
                self.model_error = message
                self._loading_path = None
                self.state.pkl = self.model.path if self.model else None  # the previous model stays
                self.notify(message, error=True)
            else:
                self.render_error = (kind, message)
                self.notify(message, error=True)

    def _load_recent(self) -> list[str]:
        try:
            data = json.loads((config_dir() / "recent.json").read_text())
            return [str(p) for p in data if isinstance(p, str)][:MAX_RECENT]
        except (OSError, ValueError, TypeError):
            return []

    def _remember(self, path: str) -> None:
        path = str(Path(path).resolve()) if Path(path).exists() else str(path)
        self.recent_files = [path] + [p for p in self.recent_files if p != path][:MAX_RECENT - 1]
        try:
            config_dir().mkdir(parents=True, exist_ok=True)
            atomic_write(config_dir() / "recent.json", json.dumps(self.recent_files, indent=1))
        except OSError:
            pass

    # -------------------------------------------------------------------------- actions ---
    def reset(self) -> None:
        self.state = ExplorerState(pkl=self.state.pkl)

    def shown_seed(self) -> int:
        """The seed nearest to the position (0..MAX_SEED: seed space wraps at 2**32), the one the Seed
        field shows and random noise is keyed by: round(x) + 100 round(y), as NVIDIA's visualizer."""
        lat = self.state.latent
        return seed_at(round(lat.x), round(lat.y))

    def step_seed(self, delta: int) -> None:
        """Go `delta` seeds on from the seed shown (the arrow keys), staying within 0..MAX_SEED."""
        lat = self.state.latent
        lat.x, lat.y, lat.w_file = clamp_position(self.shown_seed() + delta), 0.0, None
        self.state.walk.active = False

    def toggle_animation(self) -> None:
        if self.state.walk.active:
            self.state.walk.playing = not self.state.walk.playing
        else:
            self.state.latent.animate = not self.state.latent.animate

    def image_name(self) -> str:
        lat = self.state.latent
        if not self.state.walk.active and not lat.w_file and lat.x == int(lat.x) and lat.y == int(lat.y):
            return f"seed{self.shown_seed():04d}"
        return time.strftime("explorer-%Y%m%d-%H%M%S")

    def network_image(self):
        """The image in the texture, read back at network resolution: HxWx3 uint8, or HxWx1 where what
        is shown is grey — a network of fewer than 3 channels (its first, as stylegan-generate saves a
        1-channel image) or the layer view's feature map."""
        if self.display.version < 0:
            raise RuntimeError("no frame has been shown yet")
        pixels = self.display.texture.read()
        grey = self.display.label != "image" or (self.model is not None and self.model.img_channels < 3)
        return pixels[..., :1] if grey else pixels[..., :3]

    def save_image(self, path: str | None = None) -> str | None:
        try:
            pixels = self.network_image()
            target = Path(path) if path else unused_path(Path(self.outdir) / f"{self.image_name()}.png")
            target.parent.mkdir(parents=True, exist_ok=True)
            save_png(pixels, target)
            self.notify(f"saved {target}")
            return str(target)
        except (OSError, RuntimeError) as exc:
            self.notify(f"could not save the image: {exc}", error=True)
            return None

    def request_window_shot(self) -> None:
        self.window_shot_requested = True

    def save_window_pixels(self, pixels, path: str | None = None) -> str | None:
        """Called by the platform with the whole window's pixels after a window shot request."""
        target = Path(path) if path else unused_path(Path(self.outdir) / time.strftime("window-%Y%m%d-%H%M%S.png"))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            save_png(pixels, target)
            self.notify(f"saved {target}")
            return str(target)
        except OSError as exc:
            self.notify(f"could not save the window: {exc.strerror}", error=True)
            return None

    def save_session(self, path: str, replace: bool = False) -> bool:
        """Save the state as a session file (paths stored absolute), never over an existing file
        unless `replace` (the Save session button pressed a second time). -> whether it was saved."""
        target = Path(path)
        if target.is_dir():
            self.notify(f"could not save the session: {path} is a folder", error=True)
            return False
        if target.exists() and not replace:
            self.notify(f"{path} exists ({size_text(target.stat().st_size)}): press Save session again to replace it, "
                        "or give another name", error=True)
            return False
        try:
            self.state.save(path)
            self.notify(f"saved session {path}")
            return True
        except OSError as exc:
            self.notify(f"could not save the session: {exc.strerror}", error=True)
            return False

    def load_session(self, path: str) -> None:
        try:
            state = ExplorerState.load(path)
        except ValueError as exc:
            self.notify(str(exc), error=True)
            return
        pkl = state.pkl
        state.pkl = self.state.pkl
        self.state = state
        if pkl and (self.model is None or os.path.abspath(pkl) != os.path.abspath(self.model.path)):
            self.open_model(pkl)
        self.notify(f"loaded session {path}")

    def record_walk(self, path: str | None, fps: float, scale: int = 1) -> None:
        """Record the walk to `path` (default: a name from the walk, in outdir), never over an
        existing file or folder (a numbered name instead); frames upscaled `scale` times."""
        if self.model is None:
            self._refuse("load a model first")
            return
        from core.errors import ToolkitError
        from core.files import create_folder
        try:  # (what is refused is said before anything is made: the format, then the folder)
            target = unused_path(path or Path(self.outdir) / default_record_path(self.state))
            recorder = WalkRecorder(self.renderer.pinned_render(), self.state, target, fps, scale)
            create_folder(target.parent, f"the recording {target}")
            self.recorder = recorder.start()
            self._recording_said = False
            self.notify(f"recording the walk to {target}")
        except (ValueError, RuntimeError, ToolkitError) as exc:  # (RuntimeError: no model loaded)
            self._refuse(str(exc))

    def _say_recording_done(self) -> None:
        """Once a recording ends, its outcome in the status line (it is also in the walk panel)."""
        rec = self.recorder
        if rec is None or not rec.finished or self._recording_said:
            return
        self._recording_said = True
        if rec.cancelled:
            self.notify(f"recording to {rec.path} cancelled: nothing written")
        elif rec.error:
            self.notify(f"recording failed: {rec.error}", error=True)
        else:
            self.notify(f"wrote {rec.total} frames ({rec.width}x{rec.height}) to {rec.path}")

    # ---------------------------------------------------------------------------- frame ---
    def animating(self) -> bool:
        """Whether the next frames may differ without any input: an animation, a render or a load
        in flight, a recording, a state not yet rendered."""
        s = self.state
        return (s.latent.animate and not s.walk.active
                or s.noise.animate and s.noise.mode == "random"
                or s.transform.animate_translate or s.transform.animate_rotate
                or s.walk.active and s.walk.playing
                or self.loading or not self.renderer.idle()
                or (self.recorder is not None and not self.recorder.finished)
                or (self.model is not None and self.state != self._requested)
                or self.window_shot_requested)

    def idle(self) -> bool:
        """True when the platform may slow down to idle_fps (and wait for input): nothing animated
        or touched for IDLE_AFTER_FRAMES frames, no text field or slider active."""
        return self.idle_fps > 0 and self.quiet_frames >= IDLE_AFTER_FRAMES

    def _count_quiet(self, touched: bool) -> None:
        self.quiet_frames = 0 if touched or self.animating() else self.quiet_frames + 1

    def advance(self, dt: float) -> None:
        """Animations move the state forward by dt seconds."""
        s = self.state
        if s.latent.animate and not s.walk.active:  # (x - 2**32 is the same seed: seed space wraps)
            s.latent.x = (s.latent.x + s.latent.speed * dt) % SEED_COUNT
        if s.noise.animate and s.noise.mode == "random":
            s.noise.seed = int(s.noise.seed + max(1, round(NOISE_SEEDS_PER_SECOND * dt))) % SEED_COUNT
        tf = s.transform
        if tf.animate_translate:
            tf.translate_x, tf.translate_y = drift(tf.translate_x, tf.translate_y, tf.translate_speed * dt)
        if tf.animate_rotate:
            tf.rotate = (tf.rotate + tf.rotate_speed * dt + 180) % 360 - 180
        w = s.walk
        if w.active and w.playing:
            segments = len(w.keyframes) if w.loop or w.mode == "noise" else len(w.keyframes) - 1
            w.t += w.speed * dt
            if w.loop or w.mode == "noise":
                w.t %= max(segments, 1)
            elif w.t >= segments:
                w.t, w.playing = float(segments), False

    def frame(self, dt: float) -> None:
        """One UI frame: animations, widgets, a render request if the state changed, upload."""
        self.perf.tick()
        self.poll_renderer()
        self._say_recording_done()
        self.advance(dt)
        ui.RECTS.clear()
        imgui.new_frame()
        io = imgui.get_io()
        mouse = (io.mouse_pos.x, io.mouse_pos.y)
        touched = (io.want_text_input or imgui.is_any_item_active() or any(imgui.is_mouse_down(b) for b in range(3))
                   or mouse != self._last_mouse or io.mouse_wheel != 0 or io.mouse_wheel_h != 0)
        self._last_mouse = mouse
        self._draw()
        self._shortcuts()
        imgui.render()
        self._request_render()
        shown = self._show_latest()
        self._count_quiet(touched or shown)

    def _request_render(self) -> None:
        if self.model is None or self.state == self._requested:
            return
        self._version += 1
        self._change_time[self._version] = time.perf_counter()
        self._requested = self.state.copy()
        self.renderer.request(self._requested, self._version)

    def _show_latest(self) -> bool:
        """Put the newest frame in the texture. -> whether a new one was shown."""
        frame = self.renderer.latest()
        if frame is None:
            return False
        self.display.texture.set_nearest(self._display_scale() >= 1)
        if not self.display.show(frame):
            return False
        self.feature_channels = frame.feature_channels
        started = self._change_time.get(frame.version)
        if started is not None:
            latency = (time.perf_counter() - started) * 1e3
            self.perf.latency_ms = latency
            self.latency_samples.append(latency)
        for v in [v for v in self._change_time if v <= frame.version]:
            del self._change_time[v]
        return True

    # --------------------------------------------------------------------------- layout ---
    def _draw(self) -> None:
        io = imgui.get_io()
        imgui.set_next_window_pos((0, 0))
        imgui.set_next_window_size(io.display_size)
        flags = (imgui.WindowFlags_.no_title_bar | imgui.WindowFlags_.no_resize | imgui.WindowFlags_.no_move
                 | imgui.WindowFlags_.no_collapse | imgui.WindowFlags_.no_bring_to_front_on_focus
                 | imgui.WindowFlags_.no_saved_settings)
        imgui.begin("StyleGAN explorer", None, flags)
        wrap = max(io.display_size.x - 2 * imgui.get_style().window_padding.x, 100)
        lines = min(imgui.calc_text_size(self.status or " ", False, wrap).y / imgui.get_text_line_height(), 3)
        status_height = imgui.get_frame_height_with_spacing() + (lines - 1) * imgui.get_text_line_height_with_spacing()
        imgui.set_next_window_size_constraints((280, 0), (max(io.display_size.x - 200, 280), 1e6))
        imgui.begin_child("controls", (PANEL_WIDTH, -status_height), imgui.ChildFlags_.resize_x)
        imgui.push_item_width(-imgui.get_font_size() * 8)  # room for the labels on the right
        for widget in self.widgets:
            imgui.set_next_item_open(self._open[widget.title], imgui.Cond_.once)
            self._open[widget.title] = imgui.collapsing_header(widget.title)
            ui._record(widget.title)
            if self._open[widget.title]:
                imgui.push_id(widget.title)
                widget()
                imgui.pop_id()
        imgui.pop_item_width()
        imgui.end_child()
        ui._record("controls")
        imgui.same_line()
        imgui.begin_child("image", (0, -status_height), 0, imgui.WindowFlags_.horizontal_scrollbar)
        self._draw_image()
        imgui.end_child()
        self._draw_status()
        imgui.end()

    def _draw_status(self) -> None:
        """The status line under everything: the last confirmation or error (errors in red)."""
        imgui.separator()
        if self.status_error:
            ui.error_text(self.status)  # (wrapped: a long error is read whole)
        elif self.status:
            imgui.text_wrapped(self.status)
        else:
            imgui.text_disabled("ready · S saves the image · arrows change the seed · drop a model or a session")
        ui._record("status")

    def _display_scale(self) -> float:
        tex = self.display.texture
        if tex.width == 0:
            return 1.0
        mode = self.state.view.mode
        if mode == "1:1":
            return 1.0
        if mode == "zoom":
            return float(self.state.view.zoom)
        avail = self._image_area
        return max(min(avail[0] / tex.width, avail[1] / tex.height), 1e-3)

    _image_area = (512.0, 512.0)

    def _draw_image(self) -> None:
        avail = imgui.get_content_region_avail()
        self._image_area = (max(avail.x, 1.0), max(avail.y, 1.0))
        tex = self.display.texture
        if self.model is None or tex.width == 0:
            if self.model is not None and not self.loading and self.render_error:
                ui.error_text(f"no image: {self.render_error[1]}")
            else:
                imgui.text_disabled("loading…" if self.loading else "rendering…" if self.model else "no model")
            return
        scale = self._display_scale()
        size = (tex.width * scale, tex.height * scale)
        origin = imgui.get_cursor_screen_pos()
        if size[0] < avail.x:  # centre when smaller than the area
            imgui.set_cursor_pos_x(imgui.get_cursor_pos_x() + (avail.x - size[0]) / 2)
        if size[1] < avail.y:
            imgui.set_cursor_pos_y(imgui.get_cursor_pos_y() + (avail.y - size[1]) / 2)
        origin = imgui.get_cursor_screen_pos()
        imgui.invisible_button("##canvas", size)
        ui._record("canvas")
        if imgui.is_item_active() and imgui.is_mouse_dragging(imgui.MouseButton_.left, 0.0):
            delta = imgui.get_io().mouse_delta
            lat = self.state.latent
            lat.x = clamp_position(lat.x + delta.x / DRAG_PIXELS_PER_SEED)  # (right / down: higher x / y,
            lat.y = clamp_position(lat.y + delta.y / DRAG_PIXELS_PER_SEED)  # as NVIDIA's visualizer drags)
            lat.w_file = None
            self.state.walk.active = False
        imgui.get_window_draw_list().add_image(imgui.ImTextureRef(tex.id), origin,
                                              (origin.x + size[0], origin.y + size[1]))
        if self.display.label != "image":
            imgui.set_cursor_screen_pos((origin.x + 4, origin.y + 4))
            imgui.text(self.display.label)

    def _shortcuts(self) -> None:
        io = imgui.get_io()
        if io.want_text_input or imgui.is_any_item_active():
            return
        pressed = imgui.is_key_pressed
        if pressed(imgui.Key.right_arrow):
            self.step_seed(1)
        if pressed(imgui.Key.left_arrow):
            self.step_seed(-1)
        if pressed(imgui.Key.up_arrow):
            self.step_seed(10)
        if pressed(imgui.Key.down_arrow):
            self.step_seed(-10)
        if pressed(imgui.Key.space, False):
            self.toggle_animation()
        if pressed(imgui.Key.r, False):
            self.reset()
        if pressed(imgui.Key.s, False):
            self.save_image()
        if pressed(imgui.Key.f11, False):
            self.fullscreen_toggle_requested = True

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.cancel()
            self.recorder.join(5)
        self.renderer.close()
        self.display.close()
