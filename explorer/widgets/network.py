"""Network: which model file is loaded (path field — Enter or Load opens it —, recent files, drag
and drop onto the window); the loaded model's file name first, then its folder."""

from __future__ import annotations

from pathlib import Path

from imgui_bundle import imgui

from . import ui


class NetworkWidget:
    title = "Network"

    def __init__(self, app):
        self.app = app
        self.path_field = app.state.pkl or ""

    def __call__(self) -> None:
        app = self.app
        imgui.set_next_item_width(-imgui.calc_text_size("Load").x - 3 * imgui.get_style().item_spacing.x)
        entered, self.path_field = ui.input_text("##pkl", self.path_field, "model file (.pt, .pkl, .npz): Enter loads",
                                                 enter=True)
        imgui.same_line()
        if (ui.button("Load##pkl") or entered) and self.path_field.strip():
            app.open_model(self.path_field.strip())
        if app.recent_files:
            labels = {recent_label(p): p for p in app.recent_files}
            changed, choice = ui.combo("Recent##pkl", "", list(labels))
            if changed:
                self.path_field = labels[choice]
                app.open_model(labels[choice])
        model = app.model
        if model is not None:
            imgui.text(Path(model.path).name)
            imgui.text_wrapped(f"{model.arch} · {model.resolution}² · {model.num_ws} W+ layers · w_dim {model.w_dim}"
                               + (f" · {model.c_dim} classes" if model.c_dim else ""))
            imgui.push_style_color(imgui.Col_.text, imgui.get_style_color_vec4(imgui.Col_.text_disabled))
            imgui.text_wrapped(f"in {Path(model.path).resolve().parent}")
            imgui.pop_style_color()
        elif app.loading:
            imgui.text("loading…")
        else:
            imgui.text("no model loaded: give a file above or drop one on the window")
        if app.model_error:
            ui.error_text(app.model_error)


def recent_label(path: str) -> str:
    """A recent file as the list shows it: the file name first, then its folder."""
    p = Path(path)
    return f"{p.name}  ({p.parent})"  # (recent paths are stored resolved)
