"""Where frames go: an offscreen EGL framebuffer (headless: screenshots, tests, benchmarks) or a GLFW
window. Each owns the GL context and imgui's renderer and runs `Explorer.frame` once per frame.
"""

from __future__ import annotations

import time

import numpy as np
from imgui_bundle import imgui  # (before glfw: both ship a libglfw, the first one loaded wins)

CLEAR_COLOUR = (0.09, 0.09, 0.11, 1.0)


def pace(app, frame_start: float, max_fps: float) -> None:
    """Sleep off the rest of 1/max_fps (1/app.idle_fps when the app is idle) — but wake as soon as
    the renderer publishes a frame, so a finished frame reaches the screen without waiting.
    max_fps 0: no pacing at all (headless captures and tests run frames back to back)."""
    fps = 0.0 if max_fps <= 0 else app.idle_fps if app.idle() else max_fps
    rest = 1.0 / fps - (time.perf_counter() - frame_start) if fps > 0 else 0.0
    if rest > 0:
        app.renderer.frame_ready.wait(rest)
    app.renderer.frame_ready.clear()


def _new_imgui_context() -> None:
    imgui.create_context()
    io = imgui.get_io()
    io.set_ini_filename("")  # never write imgui.ini into the user's folder
    io.set_log_filename("")


class HeadlessPlatform:
    """An OpenGL context without any window system, drawing the UI into an offscreen framebuffer.
    Input arrives through imgui's io events (tests and scripts use the helpers below)."""

    def __init__(self, width: int = 1280, height: int = 800, max_fps: float = 0.0, device=None,
                 egl: str | None = None):
        """max_fps > 0 paces frames like the window loop (benchmarks); 0 runs them back to back.
        device: the torch device frames come from — CUDA draws on that GPU's EGL device (so the
        frame can go into the texture without leaving the GPU), a CPU on Mesa's surfaceless
        platform; egl ('device' or 'surfaceless') overrides the choice."""
        from imgui_bundle.python_backends.opengl_backend_programmable import ProgrammablePipelineRenderer
        self.max_fps = max_fps

        from .gl import Framebuffer, HeadlessContext
        self.width, self.height = width, height
        cuda = device is not None and getattr(device, "type", None) == "cuda"
        cuda_index = (device.index if device.index is not None else 0) if cuda else None
        self.context = HeadlessContext(prefer=egl or ("device" if cuda else "surfaceless"), cuda_index=cuda_index)
        self.gl_info = f"{self.context.renderer_name()} (EGL {self.context.platform} platform)"
        self.framebuffer = Framebuffer(width, height)
        _new_imgui_context()
        imgui.get_io().display_size = (width, height)
        self.backend = ProgrammablePipelineRenderer()

    def run_frame(self, app, dt: float = 1 / 60) -> None:
        from OpenGL import GL
        start = time.perf_counter()
        io = imgui.get_io()
        io.display_size = (self.width, self.height)
        io.delta_time = dt
        app.gl_info = self.gl_info
        app.frame(dt)
        self.framebuffer.bind()
        GL.glClearColor(*CLEAR_COLOUR)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT)
        self.backend.render(imgui.get_draw_data())
        GL.glFinish()
        if app.window_shot_requested:
            app.window_shot_requested = False
            app.save_window_pixels(self.read_window())
        pace(app, start, self.max_fps)

    def read_window(self) -> np.ndarray:
        return self.framebuffer.read()[..., :3]

    # Input helpers: the same events a real window would deliver.
    def mouse_move(self, x: float, y: float) -> None:
        imgui.get_io().add_mouse_pos_event(x, y)

    def mouse_button(self, down: bool, button: int = 0) -> None:
        imgui.get_io().add_mouse_button_event(button, down)

    def key(self, key, down: bool) -> None:
        imgui.get_io().add_key_event(key, down)

    def type_text(self, text: str) -> None:
        imgui.get_io().add_input_characters_utf8(text)

    # Whole gestures on a control (by the label it was drawn with), one event per UI frame.
    def centre(self, label: str) -> tuple[float, float]:
        x0, y0, x1, y1 = self.rect(label)
        return (x0 + x1) / 2, (y0 + y1) / 2

    def text_point(self, label: str) -> tuple[float, float]:
        """A point a fifth of the way into a control: on its text part, left of an input field's -/+
        buttons and on the first of several components (a label, if any, is on the right)."""
        x0, y0, x1, y1 = self.rect(label)
        return x0 + (x1 - x0) / 5, (y0 + y1) / 2

    def rect(self, label: str) -> tuple[float, float, float, float]:
        from .widgets.ui import RECTS
        if label not in RECTS:
            raise KeyError(f"no control {label!r} on screen (open its panel first)")
        return RECTS[label]

    def click(self, app, label: str) -> None:
        self.mouse_move(*self.centre(label))
        self.run_frame(app)
        self.mouse_button(True)
        self.run_frame(app)
        self.mouse_button(False)
        self.run_frame(app)
        self.run_frame(app)  # the UI as it looks after the click

    def enter_value(self, app, label: str, text: str) -> None:
        """Ctrl+click a slider or field (on its text part), type `text`, press Enter — as a user types
        a value."""
        self.mouse_move(*self.text_point(label))
        self.run_frame(app)
        for event in (lambda: self.key(imgui.Key.mod_ctrl, True), lambda: self.mouse_button(True),
                      lambda: self.mouse_button(False), lambda: self.key(imgui.Key.mod_ctrl, False)):
            event()
            self.run_frame(app)
        self.key(imgui.Key.a, True)  # select what is there (Ctrl+A)
        self.key(imgui.Key.mod_ctrl, True)
        self.run_frame(app)
        self.key(imgui.Key.a, False)
        self.key(imgui.Key.mod_ctrl, False)
        self.type_text(text)
        self.run_frame(app)
        self.press(app, imgui.Key.enter)

    def drag(self, app, label: str, dx: float, dy: float, steps: int = 4) -> None:
        x, y = self.centre(label)
        self.mouse_move(x, y)
        self.run_frame(app)
        self.mouse_button(True)
        self.run_frame(app)
        for i in range(1, steps + 1):
            self.mouse_move(x + dx * i / steps, y + dy * i / steps)
            self.run_frame(app)
        self.mouse_button(False)
        self.run_frame(app)

    def press(self, app, key) -> None:
        self.key(key, True)
        self.run_frame(app)
        self.key(key, False)
        self.run_frame(app)
        self.run_frame(app)

    def close(self) -> None:
        self.backend.shutdown()
        imgui.destroy_context()
        self.framebuffer.delete()
        self.context.close()


class WindowPlatform:
    """A real window (GLFW) with imgui's GLFW backend; files dropped on it open in the explorer."""

    def __init__(self, width: int = 1280, height: int = 800, title: str = "StyleGAN explorer"):
        import glfw
        from imgui_bundle.python_backends.glfw_backend import GlfwRenderer
        self.glfw = glfw
        glfw.ERROR_REPORTING = "ignore"  # failures become our own one-line errors
        if not glfw.init():
            reason = (glfw.get_error()[1] or b"").decode(errors="replace") or "no display?"
            raise RuntimeError(f"cannot open a window ({reason}); --screenshot renders without one")
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
        self.window = glfw.create_window(width, height, title, None, None)
        if not self.window:
            reason = (glfw.get_error()[1] or b"").decode(errors="replace")
            glfw.terminate()
            raise RuntimeError(f"cannot create an OpenGL 3.3 window ({reason or 'unknown reason'})")
        glfw.make_context_current(self.window)
        glfw.swap_interval(1)
        _new_imgui_context()
        self.backend = GlfwRenderer(self.window)
        self.dropped: list[str] = []
        glfw.set_drop_callback(self.window, lambda _w, paths: self.dropped.extend(paths))
        self._windowed_geometry = None
        from OpenGL import GL
        self.gl_info = f"{GL.glGetString(GL.GL_RENDERER).decode()} (GLFW window)"

    def should_close(self) -> bool:
        return self.glfw.window_should_close(self.window)

    def run_frame(self, app, max_fps: float = 60.0) -> None:
        from OpenGL import GL
        glfw = self.glfw
        start = time.perf_counter()
        app.gl_info = self.gl_info
        app.renderer.wake = glfw.post_empty_event  # a frame or a load event ends an idle wait at once
        if app.idle():  # nothing moves: sleep until input (or a frame, or 1/idle_fps) — no busy UI
            glfw.wait_events_timeout(1.0 / app.idle_fps)
        else:
            glfw.poll_events()
        self.backend.process_inputs()
        for path in self.dropped:
            app.open_file(path)
        self.dropped.clear()
        app.frame(imgui.get_io().delta_time)
        width, height = glfw.get_framebuffer_size(self.window)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        GL.glViewport(0, 0, width, height)
        GL.glClearColor(*CLEAR_COLOUR)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT)
        self.backend.render(imgui.get_draw_data())
        if app.window_shot_requested:
            from .gl import read_default_framebuffer
            app.window_shot_requested = False
            app.save_window_pixels(read_default_framebuffer(width, height)[..., :3])
        glfw.swap_buffers(self.window)
        if app.fullscreen_toggle_requested:
            app.fullscreen_toggle_requested = False
            self.toggle_fullscreen()
        # No vsync under a virtual screen: do not spin faster than max_fps (the renderer needs the CPU).
        if not app.idle():
            pace(app, start, max_fps)

    def toggle_fullscreen(self) -> None:
        glfw = self.glfw
        if glfw.get_window_monitor(self.window):
            x, y, w, h = self._windowed_geometry
            glfw.set_window_monitor(self.window, None, x, y, w, h, 0)
        else:
            monitor = glfw.get_primary_monitor()
            if not monitor:
                return
            self._windowed_geometry = (*glfw.get_window_pos(self.window), *glfw.get_window_size(self.window))
            mode = glfw.get_video_mode(monitor)
            glfw.set_window_monitor(self.window, monitor, 0, 0, mode.size.width, mode.size.height,
                                    mode.refresh_rate)

    def close(self) -> None:
        self.backend.shutdown()
        imgui.destroy_context()
        self.glfw.destroy_window(self.window)
        self.glfw.terminate()
