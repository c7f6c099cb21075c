"""Layer view: show one channel of an intermediate feature map instead of the image."""

from __future__ import annotations

from imgui_bundle import imgui

from . import ui


class LayerViewWidget:
    title = "Layer view"

    def __init__(self, app):
        self.app = app

    def __call__(self) -> None:
        view, model = self.app.state.view, self.app.model
        if model is None:
            imgui.text_disabled("no model")
            return
        options = ["image"] + model.feature_layers
        changed, choice = ui.combo("Layer##view", view.layer or "image", options)
        if changed:
            view.layer = None if choice == "image" else choice
            view.channel = 0
        if view.layer and view.layer not in model.feature_layers:  # (a session's, or the previous model's)
            ui.error_text(f"{view.layer} is not a layer of this network: the image is shown; pick a layer above")
        elif view.layer:
            channels = max(self.app.feature_channels, 1)
            _, view.channel = ui.slider_int("Channel##view", view.channel, 0, channels - 1)
            _, view.normalize = ui.checkbox("Normalize##view", view.normalize)
            ui.help_marker("Normalize maps the channel's min..max to black..white; otherwise -1..1.")
