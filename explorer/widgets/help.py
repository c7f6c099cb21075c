"""Keyboard shortcuts."""

from __future__ import annotations

from imgui_bundle import imgui

SHORTCUTS = [
    ("Left / Right", "previous / next seed"),
    ("Down / Up", "seed - 10 / + 10"),
    ("Space", "start / stop animation (the walk when it is on)"),
    ("R", "reset every control (keeps the model)"),
    ("S", "save the image at network resolution"),
    ("F11", "full screen"),
    ("drag on image", "move through seed space"),
    ("drop a file", ".pt/.npz opens a model, .json a session"),
]


class HelpWidget:
    title = "Keyboard"

    def __init__(self, app):
        self.app = app

    def __call__(self) -> None:
        if imgui.begin_table("shortcuts", 2, imgui.TableFlags_.sizing_fixed_fit):
            imgui.table_setup_column("key", imgui.TableColumnFlags_.width_fixed)
            imgui.table_setup_column("what", imgui.TableColumnFlags_.width_stretch)
            for key, what in SHORTCUTS:
                imgui.table_next_row()
                imgui.table_next_column()
                imgui.text(key)
                imgui.table_next_column()
                imgui.text_wrapped(what)  # wraps at the panel's edge, whatever its width
            imgui.end_table()
