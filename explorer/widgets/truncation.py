"""Truncation: ψ in −1…2 with a layer cutoff, or a ψ per group (coarse / middle / fine)."""

from __future__ import annotations

from imgui_bundle import imgui

from core.latents.wplus import GROUP_NAMES, layer_groups

from . import ui


class TruncationWidget:
    title = "Truncation"

    def __init__(self, app):
        self.app = app

    def __call__(self) -> None:
        tr = self.app.state.trunc
        model = self.app.model
        num_ws = model.num_ws if model else 18
        if not tr.per_group:
            _, tr.psi = ui.slider_float("psi", tr.psi, -1.0, 2.0, "%.2f")
        all_layers = tr.cutoff is None
        changed, all_layers = ui.checkbox("All layers##trunc", all_layers)
        if changed:
            tr.cutoff = None if all_layers else num_ws
        if tr.cutoff is not None:
            imgui.same_line()
            imgui.set_next_item_width(150)
            _, tr.cutoff = ui.slider_int("Cutoff", tr.cutoff, 0, num_ws)
            ui.help_marker("Only layers below the cutoff are truncated.")
        _, tr.per_group = ui.checkbox("Per-group psi", tr.per_group)
        if tr.per_group:
            groups = layer_groups(num_ws)
            for name in GROUP_NAMES:
                r = groups[name]
                label = f"{name} ({r.start}-{r.stop - 1})##psi" if len(r) else f"{name} (none)##psi"
                _, tr.group_psi[name] = ui.slider_float(label, tr.group_psi[name], -1.0, 2.0, "%.2f")
        if ui.button("Reset##trunc"):
            tr.psi, tr.cutoff, tr.per_group = 1.0, None, False
            tr.group_psi = {name: 1.0 for name in GROUP_NAMES}
