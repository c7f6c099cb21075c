"""The renderer: turns (model, state) into frames on a worker thread, so the UI never waits.

The UI posts the current state whenever it changed; the worker always takes the newest request
and drops the ones it never got to. Model loading happens on the same worker; a file that fails to
load leaves the previous model in place and reports its one-line error. A file the state names that
does not fit (a W file, a directions file) is reported the same way ("refused"), as is a render that
fails ("error"); nothing the worker meets takes the app down.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.checkpoints.load import load_generator
from core.errors import CheckpointError, ToolkitError, first_line
from core.images import to_uint8
from kernels import to_rgba

from .latents import LatentComposer
from .state import ExplorerState


@dataclass
class Frame:
    version: int  # which request this frame answers
    pixels: object  # HxWx4 uint8: a numpy array, or a CUDA tensor on GPUs
    render_ms: float
    label: str = ""  # what is shown ("image", or the layer and channel)
    feature_channels: int = 0  # channels of the layer shown (layer view)


@dataclass
class ModelInfo:
    path: str
    arch: str
    resolution: int
    img_channels: int
    num_ws: int
    w_dim: int
    num_noise_layers: int
    layer_info: list[dict]  # per W+ row: resolution and the layers it drives
    feature_layers: list[str]  # names usable in the layer view
    c_dim: int = 0  # classes of a conditional model (0: unconditional)
    directions: list[str] = field(default_factory=list)
    directions_source: str | None = None


@dataclass
class Stats:
    requested: int = 0
    rendered: int = 0
    dropped: int = 0  # requests replaced by newer ones before they were rendered
    last_render_ms: float = 0.0


class Renderer:
    """Turns (model, state) into Frames on its worker thread (or inside request() when sync): the
    UI posts states with request(), the newest wins, and reads the newest frame with latest();
    load() swaps the model on the same thread; what goes wrong comes back through take_events()."""

    def __init__(self, device: torch.device, sync: bool = False):
        """sync=True renders inside request() (deterministic; used for headless captures)."""
        self.device = device
        self.sync = sync
        self.frame_ready = threading.Event()  # set whenever a new frame is published
        self.wake = None  # also called then (and on events): a window's UI thread may be waiting for input
        self.stats = Stats()
        self.model: ModelInfo | None = None
        self._events: list[tuple[str, str]] = []  # (kind, path or message): see take_events
        self._G = None
        self._composer: LatentComposer | None = None
        self._cond = threading.Condition()
        # The network is used by one thread at a time: the worker's renders and a recording's
        # (render_now, on the recorder's thread) share its buffers (StyleGAN3's input transform, the
        # composer's W cache, the layer view's hook).
        self._net_lock = threading.Lock()
        self._pending_state: tuple[int, ExplorerState] | None = None
        self._pending_load: str | None = None
        self._frame: Frame | None = None
        self._refused_layer: str | None = None  # a view.layer this model lacks, already reported
        self._directions_seen: tuple | None = None  # the directions source (key) last loaded or refused
        self._said: set[str] = set()  # what the state asks of this model that it lacks, already reported
        self._busy = False
        self._closed = False
        self._thread = None
        if not sync:
            self._thread = threading.Thread(target=self._run, name="stylegan-renderer", daemon=True)
            self._thread.start()

    # ---------------------------------------------------------------------------- UI side ---
    def load(self, path: str) -> None:
        with self._cond:
            self._pending_load = path
            self._cond.notify()
        if self.sync:
            self._work_once()

    def request(self, state: ExplorerState, version: int) -> None:
        with self._cond:
            self.stats.requested += 1
            if self._pending_state is not None:
                self.stats.dropped += 1
            self._pending_state = (version, state.copy())
            self._cond.notify()
        if self.sync:
            self._work_once()

    def latest(self) -> Frame | None:
        with self._cond:
            return self._frame

    def take_events(self) -> list[tuple[str, str]]:
        """What happened since the last call, oldest first: ("loaded", path), ("load_failed", one-line
        message), ("refused", one-line message: a file the state names — W file, directions — does
        not fit, and the frame is not drawn or drawn without it) or ("error", one-line message: a
        render failed)."""
        with self._cond:
            events, self._events = self._events, []
        return events

    def _report(self, kind: str, message: str) -> None:
        with self._cond:
            self._events.append((kind, message))
        self._wake()

    def _wake(self) -> None:
        self.frame_ready.set()
        if self.wake is not None:
            self.wake()

    def idle(self) -> bool:
        with self._cond:
            return not self._busy and self._pending_state is None and self._pending_load is None

    def wait_idle(self, timeout: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def render_now(self, state: ExplorerState) -> np.ndarray:
        """Render a state synchronously on the calling thread: HxWx4 uint8 numpy."""
        return self.pinned_render()(state)

    def pinned_render(self):
        """A function state -> HxWx4 uint8 numpy that renders with the model loaded now, on the
        calling thread, even after another model is loaded (a recording keeps its model), taking
        turns with the worker. RuntimeError when no model is loaded."""
        with self._cond:
            G, composer = self._G, self._composer
        if G is None:
            raise RuntimeError("no model loaded")

        def render(state: ExplorerState) -> np.ndarray:
            with self._net_lock, torch.inference_mode():
                set_input_transform(G, state)
                img = G.synthesis(composer.ws(state), noise=composer.noise(state))
            return rgba(to_uint8(img)[0])
        return render

    # ------------------------------------------------------------------------ worker side ---
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and self._pending_state is None and self._pending_load is None:
                    self._cond.wait()
                if self._closed:
                    return
            self._work_once()

    def _work_once(self) -> None:
        with self._cond:
            load, self._pending_load = self._pending_load, None
            request, self._pending_state = self._pending_state, None
            self._busy = True
        try:
            if load is not None:
                self._load(load)
            if request is not None and self._G is not None:
                self._render(*request)
        except Exception as exc:  # a render must never take the app down
            self._report("error", f"render failed: {type(exc).__name__}: {first_line(exc, 160)}")
        finally:
            with self._cond:
                self._busy = False

    def _load(self, path: str) -> None:
        try:
            G = load_generator(path, self.device)
        except CheckpointError as exc:
            self._report("load_failed", str(exc))
            return
        except (OSError, RuntimeError) as exc:
            self._report("load_failed", f"{path}: cannot load ({first_line(exc, 160)})")
            return
        syn = G.synthesis
        names = [name for name, m in syn.named_modules() if name.count(".") == 1 and name.split(".")[1]
                 in ("input", "conv0", "conv1")]
        if G.config.arch == "stylegan3":  # the input and every layer (L0_36_512, ...) but ToRGB
            names = ["input"] + list(syn.layer_names[:-1])
        info = ModelInfo(path=str(path), arch=G.config.arch, resolution=G.img_resolution,
                         img_channels=G.img_channels, num_ws=G.num_ws, w_dim=G.w_dim,
                         num_noise_layers=0 if G.config.arch == "stylegan3" else syn.num_layers,
                         layer_info=syn.layer_info(),
                         feature_layers=names, c_dim=G.c_dim)
        with self._cond:
            self._G = G
            self._composer = LatentComposer(G, self.device)
            self.model = info
            self._frame = None
            self._refused_layer = None
            self._directions_seen = None
            self._said = set()
            self._events.append(("loaded", str(path)))

    def _directions(self, state: ExplorerState) -> None:
        """Load the state's directions source when it is new (its names for the sliders); one that
        cannot be loaded is reported ("refused") and the frame drawn without it."""
        source = state.directions.source
        key = self._composer.directions_key(source)  # (a file written again is new)
        if self._directions_seen == key:
            return
        self._directions_seen = key
        try:
            d = self._composer.directions(source)
        except (ValueError, ToolkitError) as exc:
            self._report("refused", first_line(exc, 1000))
            d = None
        self.model.directions = d.names if d else []
        self.model.directions_source = source

    def _render(self, version: int, state: ExplorerState) -> None:
        with self._net_lock:
            self._render_locked(version, state)

    def _render_locked(self, version: int, state: ExplorerState) -> None:
        t0 = time.perf_counter()
        G, composer = self._G, self._composer
        if state.directions.source != "pca" or any(e.amount != 0 for e in state.directions.entries):
            self._directions(state)  # (a file at once, so a missing one is said even before a slider moves)
        try:
            ws = composer.ws(state)
        except (ValueError, ToolkitError) as exc:  # e.g. a W file that is missing or does not fit
            self._report("refused", first_line(exc, 1000))
            return
        for message in composer.mismatches(state):  # drawn all the same, and said once per model
            if message not in self._said:
                self._said.add(message)
                self._report("refused", message)
        captured = {}
        hook = None
        layer = state.view.layer
        if layer and layer not in self.model.feature_layers:  # drawn as the image, and said once per model
            if self._refused_layer != layer:
                self._refused_layer = layer
                self._report("refused", f"state.view.layer: {layer!r} is not a layer of {Path(self.model.path).name} "
                                        f"(its layers: {', '.join(self.model.feature_layers)})")
        else:
            self._refused_layer = None
        if layer and layer in self.model.feature_layers:
            hook = G.synthesis.get_submodule(layer).register_forward_hook(
                lambda m, i, o: captured.__setitem__("x", o))
        try:
            with torch.inference_mode():
                set_input_transform(G, state)
                img = G.synthesis(ws, noise=composer.noise(state))
        finally:
            if hook is not None:
                hook.remove()
        label, channels = "image", 0
        if "x" in captured:
            feat = captured["x"][0].float()
            channels = feat.shape[0]
            ch = min(max(state.view.channel, 0), channels - 1)
            pixels = feature_rgba(feat[ch], state.view.normalize)
            label = f"{layer} channel {ch}/{channels}"
        elif self.device.type == "cuda":
            pixels = to_rgba(img)  # stays on the GPU (the conversion kernel when it builds)
        else:
            pixels = rgba(to_uint8(img)[0])
        if self.device.type == "cuda":
            torch.cuda.current_stream().synchronize()  # the frame is complete before the GL copy
        ms = (time.perf_counter() - t0) * 1e3
        with self._cond:
            self._frame = Frame(version, pixels, ms, label, channels)
            self.stats.rendered += 1
            self.stats.last_render_ms = ms
        self._wake()


def set_input_transform(G, state: ExplorerState) -> None:
    """StyleGAN3: the state's translate/rotate into the input's transform buffer (as stylegan-generate
    --translate/--rotate sets it); other networks have no input transform."""
    if G.config.arch == "stylegan3":
        t = state.transform
        G.synthesis.set_transform((t.translate_x, t.translate_y), t.rotate)


def rgba(pixels: np.ndarray) -> np.ndarray:
    """HxWxC uint8 -> HxWx4 with opaque alpha: C >= 3 shows the first three channels, fewer the
    first as grey (as kernels.to_rgba, the GPU path)."""
    h, w, c = pixels.shape
    out = np.empty((h, w, 4), np.uint8)
    out[..., :3] = pixels[..., :3] if c >= 3 else pixels[..., :1]
    out[..., 3] = 255
    return out


def feature_rgba(feat: torch.Tensor, normalize: bool) -> np.ndarray:
    """One feature-map channel as a grey image: min..max, or [-1, 1], mapped to 0..255."""
    if normalize:
        lo, hi = float(feat.min()), float(feat.max())
        x = (feat - lo) / (hi - lo) if hi > lo else torch.zeros_like(feat)
    else:
        x = feat * 0.5 + 0.5
    grey = (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()
    return rgba(np.repeat(grey[..., None], 3, axis=2))
