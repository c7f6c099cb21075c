"""Directions: the model's principal directions of W (GANSpace) or a directions .npz, a slider per
direction and the layer range it applies to."""

from __future__ import annotations

from imgui_bundle import imgui

from ..state import MAX_DIRECTION_AMOUNT, MAX_DIRECTION_SLIDERS, DirectionEntry
from . import ui


class DirectionsWidget:
    title = "Directions"

    def __init__(self, app):
        self.app = app
        self.file_path = ""
        self.error = ""

    def __call__(self) -> None:
        state, model = self.app.state, self.app.model
        if model is None:
            imgui.text_disabled("no model")
            return
        d = state.directions
        source_label = "PCA of W" if d.source == "pca" else d.source
        imgui.text_wrapped(f"source: {source_label}")
        buttons = imgui.calc_text_size("LoadPCA").x + 6 * imgui.get_style().item_spacing.x
        imgui.set_next_item_width(-buttons)
        entered, self.file_path = ui.input_text("##dirfile", self.file_path, "directions .npz (name -> vector)",
                                                enter=True)
        imgui.same_line()
        if (ui.button("Load##dir") or entered) and self.file_path.strip():
            self.error = self.app.use_directions(self.file_path.strip()) or ""
        imgui.same_line()
        if ui.button("PCA##dir"):
            d.source, d.entries, self.error = "pca", [], ""
        if self.error:
            ui.error_text(self.error)
        _, d.count = ui.slider_int("Sliders##dir", d.count, 1, MAX_DIRECTION_SLIDERS)
        while len(d.entries) < d.count:
            d.entries.append(DirectionEntry(index=len(d.entries)))
        del d.entries[d.count:]
        names = model.directions if model.directions_source == d.source else []
        if not names:
            imgui.text_disabled("computed when a slider first moves" if d.source == "pca" else "loaded when a slider first moves")
        last = model.num_ws - 1
        for i, e in enumerate(d.entries):
            imgui.push_id(f"dir{i}")
            name = names[e.index] if e.index < len(names) else f"direction {e.index}"
            _, e.amount = ui.slider_float(f"{name}###dir{i}", e.amount, -MAX_DIRECTION_AMOUNT, MAX_DIRECTION_AMOUNT, "%.2f")
            if imgui.is_item_hovered():
                imgui.set_tooltip("amount (PCA: in standard deviations of W)")
            imgui.set_next_item_width(160)
            lo, hi = e.first_layer, last if e.last_layer is None else e.last_layer
            changed, lo, hi = ui.drag_int_range2(f"layers##dir{i}", lo, hi, 0.1, 0, last)
            if changed:
                e.first_layer, e.last_layer = min(lo, hi), (None if max(lo, hi) == last else max(lo, hi))
            imgui.pop_id()
        if ui.button("Reset##dir"):
            for e in d.entries:
                e.amount, e.first_layer, e.last_layer = 0.0, 0, None
