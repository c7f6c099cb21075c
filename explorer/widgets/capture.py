"""View and capture: fit / zoom / 1:1, save the image or the window, save and load sessions."""

from __future__ import annotations

from imgui_bundle import imgui

from ..state import VIEW_MODES
from . import ui


class CaptureWidget:
    title = "View and capture"

    def __init__(self, app):
        self.app = app
        self.session_path = "session.json"
        self.confirm_replace: str | None = None  # a session file that exists: Save again replaces it

    def __call__(self) -> None:
        app, view = self.app, self.app.state.view
        _, view.mode = ui.combo("View##view", view.mode, list(VIEW_MODES))
        if view.mode == "zoom":
            _, view.zoom = ui.slider_float("Zoom##view", view.zoom, 0.1, 8.0, "%.2fx")
        _, app.outdir = ui.input_text("Save to##out", app.outdir, "folder")
        if ui.button("Save image (S)##cap"):
            app.save_image()
        imgui.same_line()
        if ui.button("Save window##cap"):
            app.request_window_shot()
        _, self.session_path = ui.input_text("Session##sess", self.session_path, "session.json")
        if ui.button("Save session##sess"):  # over an existing file only when pressed again for it
            saved = app.save_session(self.session_path, replace=self.confirm_replace == self.session_path)
            self.confirm_replace = None if saved else self.session_path
        imgui.same_line()
        if ui.button("Load session##sess"):
            app.load_session(self.session_path)
        ui.help_marker("What was saved, and where, is said in the status line at the bottom.")
