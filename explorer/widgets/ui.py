"""Thin wrappers over imgui controls that also record where each control was drawn.

Every number is handed to imgui within what its control holds (imgui's int controls take a C
int; seeds go through a double field, which holds every seed exactly): a state value outside is
shown clamped and kept unless the user edits it.

The recorded rectangles (label -> (x0, y0, x1, y1) in window pixels) let tests and scripts aim
real mouse and keyboard events at a control, the way a user would.
"""

from __future__ import annotations

import math

from imgui_bundle import imgui

from ..state import MAX_SEED

INT_MAX = 2 ** 31 - 1  # imgui's int controls take a C int
SEED_FIELD_EMS = 10  # a seed field's width in font sizes: the ten digits of 4294967295 and -/+
RECTS: dict[str, tuple[float, float, float, float]] = {}


def _record(label: str) -> None:
    """Remember the last item's rectangle under its label ('###id' alone when the label has one,
    since the visible part of such a label changes)."""
    lo, hi = imgui.get_item_rect_min(), imgui.get_item_rect_max()
    key = label[label.index("###"):] if "###" in label else label
    RECTS[key] = (lo.x, lo.y, hi.x, hi.y)


def _decimal(value: float) -> float:
    """imgui works in float32: 0.7 typed comes back as 0.699999988. Six decimals give the user's
    number back, so a typed ψ of 0.7 means exactly what --trunc 0.7 means."""
    return round(float(value), 6)


def slider_float(label: str, value: float, lo: float, hi: float, fmt: str = "%.3f") -> tuple[bool, float]:
    """A float slider over lo..hi; a number typed into it (Ctrl+click) is clamped to lo..hi too, the
    range a session file is checked against."""
    changed, new = imgui.slider_float(label, float(value), lo, hi, fmt, imgui.SliderFlags_.always_clamp)
    _record(label)
    return changed, _decimal(new) if changed else value


def _clamp(value: int, lo: int, hi: int) -> int:
    return min(max(int(value), lo), hi)


def slider_int(label: str, value: int, lo: int, hi: int) -> tuple[bool, int]:
    """An int slider over lo..hi. A value outside is shown at the nearer end (imgui takes a C int)
    and given back unchanged unless the user moves the slider."""
    changed, new = imgui.slider_int(label, _clamp(value, lo, hi), lo, hi)
    _record(label)
    return changed, new if changed else value


def input_int(label: str, value: int, step: int = 1, lo: int = 0, hi: int = INT_MAX) -> tuple[bool, int]:
    """An int field with -/+ buttons; what the user enters is clamped to lo..hi (within a C int). A
    value outside is shown clamped and given back unchanged unless edited."""
    changed, new = imgui.input_int(label, _clamp(value, lo, hi), step)
    _record(label)
    return changed, _clamp(new, lo, hi) if changed else value


def input_seed(label: str, value: int) -> tuple[bool, int]:
    """A seed field (0..MAX_SEED, wider than a C int: a double holds every seed exactly) with -/+
    buttons (Ctrl: 100). What is typed is rounded to a whole seed and clamped to 0..MAX_SEED."""
    changed, new = imgui.input_double(label, float(_clamp(value, 0, MAX_SEED)), 1.0, 100.0, "%.0f")
    _record(label)
    if not changed:
        return False, value
    return True, _clamp(round(new), 0, MAX_SEED) if math.isfinite(new) else value


def drag_int_range2(label: str, first: int, last: int, speed: float, lo: int, hi: int) -> tuple[bool, int, int]:
    """A pair of ints dragged within lo..hi; values outside are shown clamped and given back
    unchanged unless dragged."""
    changed, new_first, new_last = imgui.drag_int_range2(label, _clamp(first, lo, hi), _clamp(last, lo, hi),
                                                         speed, lo, hi)
    _record(label)
    return (True, new_first, new_last) if changed else (False, first, last)


def drag_float2(label: str, values: tuple[float, float], speed: float = 0.01, lo: float = 0.0,
                hi: float = 0.0, fmt: str = "%.3f") -> tuple[bool, tuple[float, float]]:
    changed, new = imgui.drag_float2(label, [float(v) for v in values], speed, lo, hi, fmt)
    _record(label)
    return changed, (_decimal(new[0]), _decimal(new[1])) if changed else tuple(values)


def checkbox(label: str, value: bool) -> tuple[bool, bool]:
    changed, value = imgui.checkbox(label, bool(value))
    _record(label)
    return changed, value


def button(label: str, width: float = 0) -> bool:
    clicked = imgui.button(label, (width, 0))
    _record(label)
    return clicked


def input_text(label: str, value: str, hint: str = "", enter: bool = False) -> tuple[bool, str]:
    """A text field. enter=True: returns (True, text) when Enter is pressed in it (the text is kept
    up to date on every keystroke either way)."""
    flags = imgui.InputTextFlags_.enter_returns_true if enter else 0
    changed, value = imgui.input_text_with_hint(label, hint, value or "", flags)
    _record(label)
    return changed, value


def combo(label: str, current: str, options: list[str]) -> tuple[bool, str]:
    changed = False
    if imgui.begin_combo(label, current):
        for option in options:
            selected = option == current
            if imgui.selectable(option, selected)[0] and not selected:
                current, changed = option, True
        imgui.end_combo()
    _record(label)
    return changed, current


def help_marker(text: str) -> None:
    imgui.same_line()
    imgui.text_disabled("(?)")
    if imgui.is_item_hovered():
        imgui.set_tooltip(text)


def error_text(text: str) -> None:
    imgui.push_style_color(imgui.Col_.text, imgui.ImVec4(1.0, 0.45, 0.4, 1.0))
    imgui.text_wrapped(text)
    imgui.pop_style_color()
