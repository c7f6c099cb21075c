"""Network: which model file is loaded (path field, recent files, drag and drop onto the window)."""

from __future__ import annotations

from imgui_bundle import imgui

from . import ui


class NetworkWidget:
    title = "Network"

    def __init__(self, app):
        self.app = app
        self.path_field = app.state.pkl or ""

    def __call__(self) -> None:
        app = self.app
        _, self.path_field = ui.input_text("##pkl", self.path_field, "model file (.pt, .npz)")
        imgui.same_line()
        if ui.button("Load##pkl") and self.path_field.strip():
            app.open_model(self.path_field.strip())
        if app.recent_files:
            changed, choice = ui.combo("Recent##pkl", "", app.recent_files)
            if changed:
                self.path_field = choice
                app.open_model(choice)
        model = app.model
        if model is not None:
            imgui.text(f"{model.arch} · {model.resolution}² · {model.num_ws} W+ layers · w_dim {model.w_dim}")
            imgui.text_disabled(model.path)
        elif app.loading:
            imgui.text("loading…")
        else:
            imgui.text("no model loaded: give a file above or drop one on the window")
        if app.model_error:
            ui.error_text(app.model_error)
