"""Performance: UI frame rate, render time, slider-to-frame latency, dropped frames, device."""

from __future__ import annotations

from imgui_bundle import imgui


class PerformanceWidget:
    title = "Performance"

    def __init__(self, app):
        self.app = app

    def __call__(self) -> None:
        app = self.app
        perf, stats = app.perf, app.renderer.stats
        imgui.text(f"UI      {perf.fps:6.1f} fps  ({perf.frame_ms:5.1f} ms/frame)")
        imgui.text(f"render  {stats.last_render_ms:6.1f} ms")
        imgui.text(f"latency {perf.latency_ms:6.1f} ms (state change -> frame in texture)")
        imgui.text(f"frames  {stats.rendered} rendered, {stats.dropped} dropped as stale")
        imgui.text(f"device  {app.device_name}")
        imgui.text_wrapped(f"upload  {app.display.path}")
        imgui.text_wrapped(f"GL      {app.gl_info}")
