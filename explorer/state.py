"""Every control of the explorer in one plain object.

Widgets only read and edit an ExplorerState; the renderer turns (model, state) into a frame; a
session file is this object as JSON. Nothing here knows about imgui or OpenGL.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.files import atomic_write, looks_like
from core.latents.wplus import GROUP_NAMES
from core.noise import NOISE_MODES

WALK_MODES = ("slerp", "lerp", "noise")
VIEW_MODES = ("fit", "zoom", "1:1")
SESSION_VERSION = 1
SEED_COUNT = 2 ** 32  # seeds are 0 .. 2**32 - 1, the ones stylegan-generate --seeds takes
MAX_SEED = SEED_COUNT - 1
MAX_DIRECTION_SLIDERS = 32
MAX_NOISE_STRENGTH = 100  # stylegan-generate --noise-strength takes 0..100
MAX_DIRECTION_AMOUNT = 5.0  # a direction slider's range: -5..5 (PCA: standard deviations of W)
MAX_LATENT_SPEED = 5.0  # the latent animation's speed slider: -5..5 seeds per second (NVIDIA's range)


def clamp_position(value: float) -> float:
    """A seed-space coordinate (latent x or y) kept within 0..MAX_SEED, where every position the
    explorer can reach lies (and float64 still tells neighbouring seeds apart)."""
    return min(max(float(value), 0.0), float(MAX_SEED))


@dataclass
class LatentState:
    """Position in seed space: integer (x, y) is seed x + 100 y; between integers the w of the
    four neighbouring seeds are blended bilinearly (as NVIDIA's visualizer does)."""
    x: float = 0.0
    y: float = 0.0
    animate: bool = False
    speed: float = 0.25  # seeds per second along x
    w_file: str | None = None  # a W/W+ .npz written by stylegan-generate replaces the seed
    w_index: int = 0
    class_index: int = 0  # conditional models: the class the seeds (and walks) are mapped with


@dataclass
class StyleSource:
    seed: int = 1
    weights: list[float] = field(default_factory=list)  # per W+ layer: 0 = base, 1 = this source
    class_index: int = 0  # conditional models: this source's class


@dataclass
class TruncationState:
    psi: float = 1.0
    cutoff: int | None = None  # truncate only layers below this (None: all)
    per_group: bool = False  # use group_psi for coarse / middle / fine instead of psi
    group_psi: dict[str, float] = field(default_factory=lambda: {"coarse": 1.0, "middle": 1.0, "fine": 1.0})


@dataclass
class NoiseState:
    mode: str = "const"
    seed: int = 0
    animate: bool = False
    strength: float = 1.0
    layer_strength: list[float] = field(default_factory=list)  # per noise layer; empty = all 1


@dataclass
class WalkState:
    """A walk through latent space: between keyframe seeds (slerp in Z or lerp in W) or a closed
    loop through Z ('noise'). t is the position in keyframe units (0 = first keyframe)."""
    active: bool = False
    mode: str = "slerp"
    keyframes: list[int] = field(default_factory=lambda: [0, 1, 2, 3])
    speed: float = 0.5  # keyframes per second
    loop: bool = True
    playing: bool = False
    t: float = 0.0


@dataclass
class DirectionEntry:
    index: int = 0  # which direction (component)
    amount: float = 0.0
    first_layer: int = 0
    last_layer: int | None = None  # None: up to the last layer


@dataclass
class DirectionsState:
    source: str = "pca"  # 'pca' (computed for the model) or a path to a directions .npz
    count: int = 8  # how many sliders
    entries: list[DirectionEntry] = field(default_factory=list)


@dataclass
class TransformState:
    """StyleGAN3's input transform: what the network draws, translated (in image widths) and rotated
    (degrees) as `stylegan-generate --translate X,Y --rotate DEG` does; with animation, a steady
    drift in x and/or a steady turn, to show the equivariance."""
    translate_x: float = 0.0
    translate_y: float = 0.0
    rotate: float = 0.0
    animate_translate: bool = False
    animate_rotate: bool = False
    translate_speed: float = 0.1  # image widths per second
    rotate_speed: float = 15.0  # degrees per second


@dataclass
class ViewState:
    mode: str = "fit"
    zoom: float = 1.0
    layer: str | None = None  # layer view: a synthesis layer name, or None for the image
    channel: int = 0
    normalize: bool = True


@dataclass
class ExplorerState:
    pkl: str | None = None
    latent: LatentState = field(default_factory=LatentState)
    styles: list[StyleSource] = field(default_factory=list)
    trunc: TruncationState = field(default_factory=TruncationState)
    noise: NoiseState = field(default_factory=NoiseState)
    walk: WalkState = field(default_factory=WalkState)
    directions: DirectionsState = field(default_factory=DirectionsState)
    view: ViewState = field(default_factory=ViewState)
    transform: TransformState = field(default_factory=TransformState)

    def copy(self) -> "ExplorerState":
        return copy.deepcopy(self)

    def to_json(self) -> str:
        return json.dumps({"version": SESSION_VERSION, "state": dataclasses.asdict(self)}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "ExplorerState":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a session file (bad JSON: {exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, dict) or "state" not in data:
            raise ValueError("not a session file (no 'state')")
        if data.get("version") != SESSION_VERSION:
            raise ValueError(f"session version {data.get('version')!r} is not supported")
        state = _build(cls, data["state"], "state")
        if isinstance(state.trunc.group_psi, dict):  # a group the file leaves out is at 1, as the latent recipe's
            state.trunc.group_psi = {name: state.trunc.group_psi.get(name, 1.0) for name in GROUP_NAMES} | {
                k: v for k, v in state.trunc.group_psi.items() if k not in GROUP_NAMES}  # (unknown names: refused below)
        state.validate()
        return state

    def _path_fields(self) -> list[tuple[str, str, object, str]]:
        """(field as the session file spells it, path, owner, attribute) of every file the state
        names: the model, the W file, a directions file ('pca' is no file)."""
        fields = [("state.pkl", self.pkl, self, "pkl"), ("state.latent.w_file", self.latent.w_file, self.latent, "w_file")]
        if self.directions.source != "pca":
            fields.append(("state.directions.source", self.directions.source, self.directions, "source"))
        return [f for f in fields if f[1]]

    def with_absolute_paths(self) -> "ExplorerState":
        """A copy whose file paths are absolute (relative ones taken from the current folder): what a
        session stores, so that it opens from any folder."""
        state = self.copy()
        for _, path, owner, attr in state._path_fields():
            setattr(owner, attr, os.path.abspath(path))
        return state

    def save(self, path: str | Path) -> None:
        atomic_write(path, self.with_absolute_paths().to_json())

    @classmethod
    def load(cls, path: str | Path, check_pkl: bool = True) -> "ExplorerState":
        """A session file: validated (ValueError, one line naming the file and the field), its file
        paths made absolute — a relative one (a hand-written or older session) is looked up beside
        the session file first, then in the current folder. check_pkl=False: the model it names is
        not looked for (--pkl replaces it)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"{path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not a session file (JSON text), but {looks_like(path)}") from None
        try:
            state = cls.from_json(text)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        folder = Path(os.path.abspath(Path(path).parent))
        for where, name, owner, attr in state._path_fields():
            if where == "state.pkl" and not check_pkl:
                continue
            setattr(owner, attr, _find_file(name, folder, where, path))
        return state

    def validate(self) -> None:
        """Refuse what no control could have set and the renderer or the widgets cannot show: a
        ValueError naming the field (as the session file spells it) and the range it must be in."""
        if self.noise.mode not in NOISE_MODES:
            raise ValueError(f"state.noise.mode must be one of {NOISE_MODES}")
        if self.walk.mode not in WALK_MODES:
            raise ValueError(f"state.walk.mode must be one of {WALK_MODES}")
        if self.view.mode not in VIEW_MODES:
            raise ValueError(f"state.view.mode must be one of {VIEW_MODES}")
        if not -1.0 <= self.trunc.psi <= 2.0:
            raise ValueError("state.trunc.psi must be within -1..2")
        if not isinstance(self.trunc.group_psi, dict) or set(self.trunc.group_psi) - set(GROUP_NAMES):
            raise ValueError(f"state.trunc.group_psi must map {', '.join(GROUP_NAMES)} to a psi")
        for name, value in self.trunc.group_psi.items():  # (the same range as psi: the sliders')
            if not -1.0 <= value <= 2.0:
                raise ValueError(f"state.trunc.group_psi.{name} must be within -1..2")
        why = "(stylegan-generate --noise-strength's range)"
        _check_range("state.noise.strength", self.noise.strength, 0, MAX_NOISE_STRENGTH, why)
        for i, value in enumerate(self.noise.layer_strength):
            _check_range(f"state.noise.layer_strength[{i}]", value, 0, MAX_NOISE_STRENGTH, why)
        for where, value in (("state.latent.x", self.latent.x), ("state.latent.y", self.latent.y)):
            if not 0 <= value < SEED_COUNT:
                raise ValueError(f"{where} must be >= 0 and below 2**32 (a position in seed space, where seed = "
                                 f"x + 100 y wraps at 2**32 like stylegan-generate's seeds), got {value!r}")
        for where, value in self._seed_fields():
            _check_range(where, value, 0, MAX_SEED, "(stylegan-generate's seed range)")
        for where, value in self._count_fields():
            _check_range(where, value, 0, None)
        _check_range("state.directions.count", self.directions.count, 1, MAX_DIRECTION_SLIDERS)
        for i, src in enumerate(self.styles):  # (the sliders' range: 0 = the base, 1 = this source)
            for j, value in enumerate(src.weights):
                _check_range(f"state.styles[{i}].weights[{j}]", value, 0, 1, "(0 = the base, 1 = this source)")
        for i, e in enumerate(self.directions.entries):
            _check_range(f"state.directions.entries[{i}].amount", e.amount, -MAX_DIRECTION_AMOUNT,
                         MAX_DIRECTION_AMOUNT, "(the slider's range)")
            if e.last_layer is not None and e.first_layer > e.last_layer:
                raise ValueError(f"state.directions.entries[{i}]: first_layer {e.first_layer} is after "
                                 f"last_layer {e.last_layer} (no layer would move)")
        _check_range("state.latent.speed", self.latent.speed, -MAX_LATENT_SPEED, MAX_LATENT_SPEED, "(seeds per second)")
        if not self.view.zoom > 0:
            raise ValueError(f"state.view.zoom must be above 0, got {self.view.zoom:g}")
        if len(self.walk.keyframes) < (1 if self.walk.mode == "noise" else 2):  # (even with the walk off: it
            raise ValueError("state.walk.keyframes: a walk needs at least two keyframes")  # can be turned on)

    def _seed_fields(self) -> list[tuple[str, int]]:
        """(field, value) of every seed."""
        return ([("state.noise.seed", self.noise.seed)]
                + [(f"state.styles[{i}].seed", s.seed) for i, s in enumerate(self.styles)]
                + [(f"state.walk.keyframes[{i}]", k) for i, k in enumerate(self.walk.keyframes)])

    def _count_fields(self) -> list[tuple[str, int | None]]:
        """(field, value) of every row, class, layer or channel number (None: not set)."""
        fields = [("state.latent.w_index", self.latent.w_index), ("state.latent.class_index", self.latent.class_index),
                  ("state.trunc.cutoff", self.trunc.cutoff), ("state.view.channel", self.view.channel)]
        fields += [(f"state.styles[{i}].class_index", s.class_index) for i, s in enumerate(self.styles)]
        for i, e in enumerate(self.directions.entries):
            fields += [(f"state.directions.entries[{i}].{name}", getattr(e, name))
                       for name in ("index", "first_layer", "last_layer")]
        return fields


def _find_file(name: str, folder: Path, where: str, session: str | Path) -> str:
    """The absolute path of a file a session names: as given when absolute (or, when that is gone,
    the same name beside the session file: a folder moved with its session); a relative one beside
    the session file, else in the current folder. ValueError (one line: the session, the field,
    the path, where it was looked for) when it is in neither."""
    path = Path(name).expanduser()
    if path.is_absolute():
        if path.exists():
            return str(path)
        if (folder / path.name).exists():  # the session moved together with its files
            return str(folder / path.name)
        raise ValueError(f"{session}: {where}: {name}: no such file (nor {path.name} beside the session)")
    for candidate in (folder / path, Path.cwd() / path):
        if candidate.exists():
            return os.path.abspath(candidate)
    raise ValueError(f"{session}: {where}: {name}: no such file beside the session ({folder}) "
                     f"nor in the current folder ({Path.cwd()})")


def _check_range(where: str, value, lo, hi, why: str = "") -> None:
    """ValueError unless lo <= value <= hi (hi None: no upper bound; value None: not set)."""
    if value is None or (lo <= value and (hi is None or value <= hi)):
        return
    bounds = f"within {lo}..{hi}" if hi is not None else f">= {lo}"
    raise ValueError(f"{where} must be {bounds}{' ' + why if why else ''}, got {value!r}")


def _build(cls, data: Any, where: str):
    """Build a (nested) dataclass from plain JSON data, rejecting unknown or mistyped fields."""
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be an object")
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise ValueError(f"unknown setting {where}.{unknown[0]}")
    return cls(**{name: _convert(value, hints[name], f"{where}.{name}") for name, value in data.items()})


def _convert(value: Any, tp: Any, where: str):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):  # X | None
        if value is None:
            return None
        tp = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ValueError(f"{where} must be a list")
        return [_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be an object")
        return {str(k): _convert(v, args[1], f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false")
        return value
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where} must be a number")
        if not math.isfinite(value):  # (Python's JSON reader takes NaN and Infinity)
            raise ValueError(f"{where} must be a finite number, got {value}")
        if tp is int and value != int(value):
            raise ValueError(f"{where} must be a whole number")
        return tp(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string")
        return value
    raise TypeError(f"unsupported field type {tp!r} at {where}")
