"""Latent: the seed (or a position between seeds), its animation, and W/W+ loaded from a file."""

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

    def __call__(self) -> None:
        lat = self.app.state.latent
        seed = int(math.floor(lat.x)) + int(math.floor(lat.y)) * SEED_STEP_Y
        changed, new_seed = ui.input_int("Seed", seed)
        if changed:
            lat.x, lat.y = float(max(new_seed, 0)), 0.0
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
        _, self.w_path = ui.input_text("##wfile", self.w_path, "W or W+ .npz from stylegan-generate")
        imgui.same_line()
        if ui.button("Use##wfile") and self.w_path.strip():
            lat.w_file, lat.w_index = self.w_path.strip(), 0
        if lat.w_file:
            imgui.text_wrapped(f"using {lat.w_file} (its W+ replaces the seed, as saved: psi applies to style sources only)")
            _, lat.w_index = ui.input_int("Row##wfile", lat.w_index)
            lat.w_index = max(lat.w_index, 0)
            if ui.button("Back to seeds##wfile"):
                lat.w_file = None
