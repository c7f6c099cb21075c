"""Noise: const / random / none, the noise seed (animated), global and per-layer strength."""

from __future__ import annotations

from imgui_bundle import imgui

from core.noise import NOISE_MODES
from . import ui


class NoiseWidget:
    title = "Noise"

    def __init__(self, app):
        self.app = app

    def __call__(self) -> None:
        noise, model = self.app.state.noise, self.app.model
        if model is not None and model.num_noise_layers == 0:
            imgui.text_wrapped(f"This {model.arch} network has no noise inputs.")
            return
        _, noise.mode = ui.combo("Mode##noise", noise.mode, list(NOISE_MODES))
        if noise.mode == "random":
            imgui.set_next_item_width(imgui.get_font_size() * ui.SEED_FIELD_EMS)  # leaves room for Animate
            _, noise.seed = ui.input_seed("Noise seed", noise.seed)
            imgui.same_line()
            _, noise.animate = ui.checkbox("Animate##noise", noise.animate)
        _, noise.strength = ui.slider_float("Strength##noise", noise.strength, 0.0, 4.0, "%.2f")
        if model is not None and imgui.tree_node("Per layer##noise"):
            n = model.num_noise_layers
            if len(noise.layer_strength) != n:
                noise.layer_strength = (list(noise.layer_strength) + [1.0] * n)[:n]
            names = [name for info in model.layer_info for name in info["layers"] if "torgb" not in name]
            for i in range(n):
                label = names[i] if i < len(names) else str(i)
                _, noise.layer_strength[i] = ui.slider_float(f"{label}##noise{i}", noise.layer_strength[i],
                                                             0.0, 4.0, "%.2f")
            imgui.tree_pop()
        if ui.button("Reset##noise"):
            noise.mode, noise.strength, noise.layer_strength, noise.animate = "const", 1.0, [], False
