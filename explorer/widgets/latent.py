"""Latent: the seed (or a position between seeds), its class (conditional models), its animation,
and W/W+ loaded from a file (refused, with the reason, when it does not fit the model)."""

from __future__ import annotations

from imgui_bundle import imgui

from ..latents import seed_at
from ..state import MAX_LATENT_SPEED, clamp_position
from . import ui


class LatentWidget:
    title = "Latent"

    def __init__(self, app):
        self.app = app
        self.w_path = ""
        self.w_error = ""

    def __call__(self) -> None:
        lat = self.app.state.latent
        fx, fy = round(lat.x), round(lat.y)  # the nearest seed, as NVIDIA's visualizer shows it
        changed, seed = ui.input_seed("Seed", seed_at(fx, fy))
        if changed:
            lat.x, lat.y = float(seed), 0.0
        model = self.app.model
        if model is not None and model.c_dim:
            class_control(lat, model.c_dim, "Class##latent")
        # The position's offset from that seed, -0.5..0.5 (as NVIDIA's visualizer shows it), not x and y
        # themselves: imgui drags float32, which cannot tell seeds above 2**24 apart.
        changed, offset = ui.drag_float2("Offset x, y##latent", (lat.x - fx, lat.y - fy), 0.01, 0.0, 0.0, "%+.2f")
        if changed:
            lat.x, lat.y = clamp_position(fx + offset[0]), clamp_position(fy + offset[1])
        ui.help_marker("Drag on the image, or drag the offset, to move between seeds; between integers the "
                       "neighbouring seeds' w are blended. Seed = x + 100 y, the nearest one to the position: the "
                       "offset is how far from the seed's x and y the position is.")
        _, lat.animate = ui.checkbox("Animate##latent", lat.animate)
        imgui.same_line()
        imgui.set_next_item_width(150)
        _, lat.speed = ui.slider_float("Speed##latent", lat.speed, -MAX_LATENT_SPEED, MAX_LATENT_SPEED, "%.2f seeds/s")
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
            if ui.button("Back to seeds##wfile"):
                lat.w_file = None


def class_control(target, c_dim: int, label: str) -> None:
    """A class picker (0 .. c_dim-1) for an object with a class_index (the base latent, a style source)."""
    changed, value = ui.slider_int(label, target.class_index, 0, c_dim - 1)
    if changed:  # (a session's class beyond the model's is kept, shown at the end, and said by the renderer)
        target.class_index = min(max(value, 0), c_dim - 1)
