"""Latent walks: slerp / lerp between keyframe seeds or a looping noise walk; play, scrub, record."""

from __future__ import annotations

from imgui_bundle import imgui

from ..state import MAX_SEED, WALK_MODES
from . import ui

MAX_SCALE = 16
MAX_FPS = 120


class WalkWidget:
    title = "Latent walk"

    def __init__(self, app):
        self.app = app
        self.keys_text = ",".join(map(str, app.state.walk.keyframes))
        self.keys_error = ""
        self.record_path = ""
        self.fps = 30
        self.scale = 1

    def __call__(self) -> None:
        app, walk = self.app, self.app.state.walk
        _, walk.active = ui.checkbox("Walk instead of seed", walk.active)
        _, walk.mode = ui.combo("Mode##walk", walk.mode, list(WALK_MODES))
        ui.help_marker("slerp: great circles between the keyframes' z; lerp: straight lines between "
                       "their w; noise: a closed loop through z (keyframes give its two axes).")
        changed, self.keys_text = ui.input_text("Keyframes", self.keys_text, "seeds, e.g. 0,1,2,3")
        if changed:
            try:
                keys = [int(k) for k in self.keys_text.replace(" ", "").split(",") if k]
                if len(keys) < 2 or min(keys) < 0 or max(keys) > MAX_SEED:
                    raise ValueError
                walk.keyframes, self.keys_error = keys, ""
            except ValueError:
                self.keys_error = f"keyframes: two or more seeds (0..{MAX_SEED}), comma-separated"
        if self.keys_error:
            ui.error_text(self.keys_error)
        _, walk.speed = ui.slider_float("Speed##walk", walk.speed, 0.05, 4.0, "%.2f keys/s")
        _, walk.loop = ui.checkbox("Loop##walk", walk.loop)
        imgui.same_line()
        if ui.button("Pause##walk" if walk.playing else "Play##walk"):
            walk.playing = not walk.playing
            walk.active = True
        segments = len(walk.keyframes) if walk.loop or walk.mode == "noise" else len(walk.keyframes) - 1
        _, walk.t = ui.slider_float("Position##walk", walk.t, 0.0, float(max(segments, 1)), "%.2f")
        imgui.separator()
        rec = app.recorder
        if rec is not None and not rec.finished:
            imgui.progress_bar(rec.progress, (-1, 0), f"recording {rec.done_frames}/{rec.total}")
            if ui.button("Cancel##rec"):
                rec.cancel()
            return
        _, self.record_path = ui.input_text("##recpath", self.record_path, "walk.mp4, walk.gif or a folder")
        imgui.set_next_item_width(imgui.get_font_size() * 6)
        _, self.fps = ui.input_int("fps##rec", self.fps, 5, 1, MAX_FPS)
        imgui.same_line()
        imgui.set_next_item_width(imgui.get_font_size() * 6)
        _, self.scale = ui.input_int("scale##rec", self.scale, 1, 1, MAX_SCALE)
        if app.model is not None:  # the output size, each frame upscaled by a whole factor (nearest neighbour)
            imgui.same_line()
            side = app.model.resolution * self.scale
            imgui.text_disabled(f"{side}x{side}")
        if ui.button("Record##walk"):
            app.record_walk(self.record_path.strip() or None, self.fps, self.scale)
        if rec is not None and rec.finished:
            if rec.error:
                ui.error_text(f"recording failed: {rec.error}")
            else:
                imgui.text_wrapped(f"wrote {rec.total} frames ({rec.width}x{rec.height}) to {rec.path}")
