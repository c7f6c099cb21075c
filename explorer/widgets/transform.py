"""StyleGAN3's input transform: translate x / y and rotate sliders, and a steady drift or turn — the
equivariance NVIDIA's visualizer shows. The same values as `stylegan-generate --translate/--rotate`."""

from __future__ import annotations

from imgui_bundle import imgui

from . import ui


class TransformWidget:
    title = "Input transform"

    def __init__(self, app):
        self.app = app

    def __call__(self) -> None:
        model, t = self.app.model, self.app.state.transform
        if model is None or model.arch != "stylegan3":
            imgui.text_wrapped("StyleGAN3 networks only: their input is a continuous signal that can be "
                               "moved and turned.")
            return
        _, t.translate_x = ui.slider_float("Translate x", t.translate_x, -1.0, 1.0, "%.3f")
        _, t.translate_y = ui.slider_float("Translate y", t.translate_y, -1.0, 1.0, "%.3f")
        _, t.animate_translate = ui.checkbox("Drift##transform", t.animate_translate)
        imgui.same_line()
        imgui.set_next_item_width(120)
        _, t.translate_speed = ui.slider_float("widths/s", t.translate_speed, -1.0, 1.0, "%.2f")
        _, t.rotate = ui.slider_float("Rotate", t.rotate, -180.0, 180.0, "%.1f deg")
        _, t.animate_rotate = ui.checkbox("Turn##transform", t.animate_rotate)
        imgui.same_line()
        imgui.set_next_item_width(120)
        _, t.rotate_speed = ui.slider_float("deg/s", t.rotate_speed, -90.0, 90.0, "%.0f")
        if ui.button("Reset##transform"):
            t.translate_x = t.translate_y = t.rotate = 0.0
            t.animate_translate = t.animate_rotate = False
