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

from core.files import atomic_write, unused_path
import torch
from imgui_bundle import imgui

from core.images import save_png

from .display import FrameDisplay
from .latents import SEED_STEP_Y
from .recorder import WalkRecorder, default_record_path
from .renderer import Renderer
from .state import ExplorerState
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

PANEL_WIDTH = 400
DRAG_PIXELS_PER_SEED = 300.0
NOISE_SEEDS_PER_SECOND = 30.0
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


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "stylegan-toolkit"


class Explorer:
    def __init__(self, state: ExplorerState, device: torch.device, sync: bool = False, outdir: str = "."):
        self.state = state
        self.device = device
        self.device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        self.renderer = Renderer(device, sync=sync)
        self.display = FrameDisplay()
        self.perf = Perf()
        self.outdir = outdir
        self.status = ""
        self.model_error = ""
        self.recorder: WalkRecorder | None = None
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
        self.renderer.load(str(path))

    def open_file(self, path: str) -> None:
        """A dropped or typed file: a session (.json) or a model."""
        if str(path).lower().endswith(".json"):
            self.load_session(path)
        else:
            self.open_model(path)

    def _poll_renderer(self) -> None:
        for kind, message in self.renderer.take_events():
            if kind == "loaded":
                self.state.pkl = message
                self._remember(message)
                self.model_error = ""
                self._loading_path = None
                self._requested = None  # render the current state with the new model
            elif kind == "load_failed":
                self.model_error = message
                self._loading_path = None
                self.state.pkl = self.model.path if self.model else None  # the previous model stays
            else:
                self.status = message

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

    def step_seed(self, delta: int) -> None:
        lat = self.state.latent
        seed = max(int(math.floor(lat.x)) + int(math.floor(lat.y)) * SEED_STEP_Y + delta, 0)
        lat.x, lat.y, lat.w_file = float(seed), 0.0, None
        self.state.walk.active = False

    def toggle_animation(self) -> None:
        if self.state.walk.active:
            self.state.walk.playing = not self.state.walk.playing
        else:
            self.state.latent.animate = not self.state.latent.animate

    def image_name(self) -> str:
        lat = self.state.latent
        if not self.state.walk.active and not lat.w_file and lat.x == int(lat.x) and lat.y == int(lat.y):
            return f"seed{int(lat.x) + int(lat.y) * SEED_STEP_Y:04d}"
        return time.strftime("explorer-%Y%m%d-%H%M%S")

    def network_image(self):
        """The image in the texture, read back at network resolution (HxWx3 uint8)."""
        if self.display.version < 0:
            raise RuntimeError("no frame has been shown yet")
        return self.display.texture.read()[..., :3]

    def save_image(self, path: str | None = None) -> str | None:
        try:
            pixels = self.network_image()
            target = Path(path) if path else unused_path(Path(self.outdir) / f"{self.image_name()}.png")
            target.parent.mkdir(parents=True, exist_ok=True)
            save_png(pixels, target)
            self.status = f"saved {target}"
            return str(target)
        except (OSError, RuntimeError) as exc:
            self.status = f"could not save the image: {exc}"
            return None

    def request_window_shot(self) -> None:
        self.window_shot_requested = True

    def save_window_pixels(self, pixels, path: str | None = None) -> str | None:
        """Called by the platform with the whole window's pixels after a window shot request."""
        target = Path(path) if path else unused_path(Path(self.outdir) / time.strftime("window-%Y%m%d-%H%M%S.png"))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            save_png(pixels, target)
            self.status = f"saved {target}"
            return str(target)
        except OSError as exc:
            self.status = f"could not save the window: {exc.strerror}"
            return None

    def save_session(self, path: str) -> None:
        try:
            self.state.save(path)
            self.status = f"saved session {path}"
        except OSError as exc:
            self.status = f"could not save the session: {exc.strerror}"

    def load_session(self, path: str) -> None:
        try:
            state = ExplorerState.load(path)
        except ValueError as exc:
            self.status = str(exc)
            return
        pkl = state.pkl
        state.pkl = self.state.pkl
        self.state = state
        if pkl and pkl != (self.model.path if self.model else None):
            self.open_model(pkl)
        self.status = f"loaded session {path}"

    def record_walk(self, path: str | None, fps: float) -> None:
        if self.model is None:
            self.status = "load a model first"
            return
        try:
            target = path or str(Path(self.outdir) / default_record_path(self.state))
            self.recorder = WalkRecorder(self.renderer.render_now, self.state, target, fps).start()
        except ValueError as exc:
            self.status = str(exc)

    # ---------------------------------------------------------------------------- frame ---
    def advance(self, dt: float) -> None:
        """Animations move the state forward by dt seconds."""
        s = self.state
        if s.latent.animate and not s.walk.active:
            s.latent.x += s.latent.speed * dt
        if s.noise.animate and s.noise.mode == "random":
            s.noise.seed = int(s.noise.seed + max(1, round(NOISE_SEEDS_PER_SECOND * dt)))
        tf = s.transform
        if tf.animate_translate:
            tf.translate_x = (tf.translate_x + tf.translate_speed * dt + 1) % 2 - 1  # wraps within ±1 width
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
        self._poll_renderer()
        self.advance(dt)
        ui.RECTS.clear()
        imgui.new_frame()
        self._draw()
        self._shortcuts()
        imgui.render()
        self._request_render()
        self._show_latest()

    def _request_render(self) -> None:
        if self.model is None or self.state == self._requested:
            return
        self._version += 1
        self._change_time[self._version] = time.perf_counter()
        self._requested = self.state.copy()
        self.renderer.request(self._requested, self._version)

    def _show_latest(self) -> None:
        frame = self.renderer.latest()
        if frame is None:
            return
        self.display.texture.set_nearest(self._display_scale() >= 1)
        if self.display.show(frame):
            self.feature_channels = frame.feature_channels
            started = self._change_time.get(frame.version)
            if started is not None:
                latency = (time.perf_counter() - started) * 1e3
                self.perf.latency_ms = latency
                self.latency_samples.append(latency)
            for v in [v for v in self._change_time if v <= frame.version]:
                del self._change_time[v]

    # --------------------------------------------------------------------------- layout ---
    def _draw(self) -> None:
        io = imgui.get_io()
        imgui.set_next_window_pos((0, 0))
        imgui.set_next_window_size(io.display_size)
        flags = (imgui.WindowFlags_.no_title_bar | imgui.WindowFlags_.no_resize | imgui.WindowFlags_.no_move
                 | imgui.WindowFlags_.no_collapse | imgui.WindowFlags_.no_bring_to_front_on_focus
                 | imgui.WindowFlags_.no_saved_settings)
        imgui.begin("StyleGAN explorer", None, flags)
        imgui.begin_child("controls", (PANEL_WIDTH, 0))
        imgui.push_item_width(-110)  # room for the labels on the right
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
        imgui.same_line()
        imgui.begin_child("image", (0, 0), 0, imgui.WindowFlags_.horizontal_scrollbar)
        self._draw_image()
        imgui.end_child()
        imgui.end()

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
            lat.x = max(lat.x - delta.x / DRAG_PIXELS_PER_SEED, 0.0)
            lat.y = max(lat.y - delta.y / DRAG_PIXELS_PER_SEED, 0.0)
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
