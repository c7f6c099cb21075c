"""Latent: the seed (or a position between seeds), its class (conditional models), its animation,
and W/W+ loaded from a file (refused, with the reason, when it does not fit the model)."""

from __future__ import annotations

import math

from imgui_bundle import imgui

from ..latents import SEED_STEP_Y
from . import ui


class LatentWidget:
    title = "Latent"

    def __init__(self, app):
        self.app = app
        self.w_path = ""
        self.w_error = ""

    def __call__(self) -> None:
        lat = self.app.state.latent
        seed = int(math.floor(lat.x)) + int(math.floor(lat.y)) * SEED_STEP_Y
        changed, new_seed = ui.input_int("Seed", seed)
        if changed:
            lat.x, lat.y = float(max(new_seed, 0)), 0.0
        model = self.app.model
        if model is not None and model.c_dim:
            class_control(lat, model.c_dim, "Class##latent")
        changed, xy = ui.drag_float2("x, y##latent", (lat.x, lat.y), 0.01, 0.0, 1e9, "%.2f")
        if changed:
            lat.x, lat.y = max(xy[0], 0.0), max(xy[1], 0.0)
        ui.help_marker("Drag on the image to move between seeds; between integers the neighbouring "
                       "seeds' w are blended. Seed = x + 100 y.")
        _, lat.animate = ui.checkbox("Animate##latent", lat.animate)
        imgui.same_line()
        imgui.set_next_item_width(150)
        _, lat.speed = ui.slider_float("Speed##latent", lat.speed, 0.0, 4.0, "%.2f seeds/s")
        if ui.button("Snap##latent"):
            lat.x, lat.y = float(round(lat.x)), float(round(lat.y))
        imgui.same_line()
        if ui.button("Reset##latent"):
            lat.x = lat.y = 0.0
            lat.animate = False
            lat.w_file = None
        imgui.separator()
        imgui.set_next_item_width(-imgui.calc_text_size("Use").x - 3 * imgui.get_style().item_spacing.x)
        entered, self.w_path = ui.input_text("##wfile", self.w_path, "W or W+ .npz from stylegan-generate", enter=True)
        imgui.same_line()
        if (ui.button("Use##wfile") or entered) and self.w_path.strip():
            self.w_error = self.app.use_w_file(self.w_path.strip()) or ""
        if self.w_error:
            ui.error_text(self.w_error)
        if lat.w_file:
            imgui.text_wrapped(f"using {lat.w_file} (its W+ replaces the seed, as saved: psi applies to style sources only)")
            _, lat.w_index = ui.input_int("Row##wfile", lat.w_index)
            lat.w_index = max(lat.w_index, 0)
            if ui.button("Back to seeds##wfile"):
                lat.w_file = None


def class_control(target, c_dim: int, label: str) -> None:
    """A class picker (0 .. c_dim-1) for an object with a class_index (the base latent, a style source)."""
    _, value = ui.slider_int(label, min(target.class_index, c_dim - 1), 0, c_dim - 1)
    target.class_index = min(max(value, 0), c_dim - 1)
