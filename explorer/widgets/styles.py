"""Styles: per-layer mixing from source seeds (0 = base, 1 = source), with coarse / middle / fine
group sliders that drive their layers together."""

from __future__ import annotations

from imgui_bundle import imgui

from core.latents.wplus import GROUP_NAMES, layer_groups

from ..state import MAX_SEED, StyleSource
from . import ui
from .latent import class_control


class StylesWidget:
    title = "Style mixing"

    def __init__(self, app):
        self.app = app

    def __call__(self) -> None:
        state, model = self.app.state, self.app.model
        if model is None:
            imgui.text_disabled("no model")
            return
        num_ws = model.num_ws
        groups = layer_groups(num_ws)
        remove = None
        for k, src in enumerate(state.styles):
            if len(src.weights) != num_ws:
                src.weights = (list(src.weights) + [0.0] * num_ws)[:num_ws]
            imgui.push_id(k)
            imgui.set_next_item_width(imgui.get_font_size() * ui.SEED_FIELD_EMS)  # room for the label and Remove
            _, src.seed = ui.input_seed(f"Source seed##src{k}", src.seed)
            imgui.same_line()
            if ui.button(f"Remove##src{k}"):
                remove = k
            if model.c_dim:
                class_control(src, model.c_dim, f"Class##src{k}")
            for name in GROUP_NAMES:
                layers = list(groups[name])
                if not layers:
                    continue
                value = sum(src.weights[i] for i in layers) / len(layers)
                changed, value = ui.slider_float(f"{name}##src{k}", value, 0.0, 1.0, "%.2f")
                if changed:
                    for i in layers:
                        src.weights[i] = value
            if imgui.tree_node(f"Layers##src{k}"):
                for i in range(num_ws):
                    res = model.layer_info[i]["resolution"]
                    _, src.weights[i] = ui.slider_float(f"{i} ({res}²)##src{k}", src.weights[i], 0.0, 1.0, "%.2f")
                imgui.tree_pop()
            imgui.pop_id()
            imgui.separator()
        if remove is not None:
            del state.styles[remove]
        if ui.button("Add source##styles"):
            seed = min(max([s.seed for s in state.styles], default=0) + 1, MAX_SEED)
            state.styles.append(StyleSource(seed=seed, weights=[0.0] * num_ws))
        imgui.same_line()
        if ui.button("Reset##styles"):
            state.styles.clear()
