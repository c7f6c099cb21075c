"""Record a latent walk to MP4 (imageio-ffmpeg), GIF, or a folder of PNGs (lossless).

The recorder renders exactly the states the screen shows while the walk plays: the state with
walk.t stepped at the video's frame rate. A non-looping walk ends on its last keyframe; a looping
one stops one frame before it would return to the first. The recording is written under a
temporary name beside its destination and renamed when complete: a cancelled or failed recording
leaves nothing behind, never a truncated video under the name asked for.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np

from core.errors import first_line
from core.images import save_png

from .state import ExplorerState


RECORD_SUFFIXES = (".mp4", ".gif", "")  # a video, an animated GIF, a folder of PNGs


def walk_times(state: ExplorerState, fps: float) -> list[float]:
    """Walk positions (keyframe units) of every recorded frame."""
    walk = state.walk
    if walk.speed <= 0:
        raise ValueError("walk speed must be positive to record")
    n = len(walk.keyframes)
    segments = n if walk.loop or walk.mode == "noise" else n - 1
    if segments < 1:
        raise ValueError("a walk needs at least two keyframes")
    frames = max(int(round(segments / walk.speed * fps)), 1)
    if walk.loop or walk.mode == "noise":
        return [i * segments / frames for i in range(frames)]
    return [i * segments / frames for i in range(frames + 1)]


class WalkRecorder:
    def __init__(self, render, state: ExplorerState, path: str | Path, fps: float = 30.0, scale: int = 1):
        """render: state -> HxWx4 uint8 array (the renderer's synchronous path); scale: each frame
        upscaled by this whole factor (nearest neighbour: the network's pixels, bigger)."""
        if int(scale) != scale or scale < 1:
            raise ValueError(f"the recording's scale must be a whole number >= 1, not {scale}")
        self.scale = int(scale)
        self.width = self.height = 0  # of the frames written (known after the first)
        self.render = render
        self.state = state.copy()
        self.state.walk.active = True
        self.state.walk.playing = False
        self.path = Path(path)
        if self.path.suffix.lower() not in RECORD_SUFFIXES:
            raise ValueError(f"record to .mp4, .gif or a folder (no suffix), not {self.path.suffix}")
        self.fps = float(fps)
        self.times = walk_times(self.state, self.fps)
        self.done_frames = 0
        self.error: str | None = None
        self.cancelled = False
        self.finished = False
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="walk-recorder", daemon=True)

    @property
    def total(self) -> int:
        return len(self.times)

    @property
    def progress(self) -> float:
        return self.done_frames / max(self.total, 1)

    def start(self) -> "WalkRecorder":
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _writer(self, temp: Path):
        import imageio.v2 as iio
        suffix = self.path.suffix.lower()
        if suffix == ".mp4":
            return iio.get_writer(temp, fps=self.fps, codec="libx264", quality=9,
                                  macro_block_size=1, ffmpeg_log_level="error")
        if suffix == ".gif":
            return iio.get_writer(temp, mode="I", duration=1000.0 / self.fps, loop=0)
        temp.mkdir()
        return _PngFolder(temp)

    def _run(self) -> None:
        temp = self.path.with_name(f".{self.path.stem}.partial-{os.getpid()}{self.path.suffix}")  # (imageio: by suffix)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            writer = self._writer(temp)
            try:
                for t in self.times:
                    if self._cancel.is_set():
                        self.error, self.cancelled = "cancelled (nothing written)", True
                        break
                    self.state.walk.t = t
                    pixels = self.render(self.state)[..., :3]
                    if self.scale > 1:
                        pixels = pixels.repeat(self.scale, axis=0).repeat(self.scale, axis=1)
                    self.height, self.width = pixels.shape[:2]
                    writer.append_data(np.ascontiguousarray(pixels))
                    self.done_frames += 1
            finally:
                writer.close()
            if self.error is None:
                if self.path.exists():  # (appeared meanwhile: the destination was free when recording began)
                    raise FileExistsError(f"{self.path} appeared while recording; not replaced")
                os.rename(temp, self.path)
        except OSError as exc:  # reported in the UI (the panel and the status line); the app keeps running
            self.error = f"{exc.strerror or first_line(exc, 160)}{f' ({exc.filename})' if exc.filename else ''}"
        except Exception as exc:  # (a render or an encoder that failed)
            self.error = first_line(exc, 160)
        finally:
            if temp.is_dir():
                shutil.rmtree(temp, ignore_errors=True)
            elif temp.exists():
                temp.unlink()
        self.finished = True


class _PngFolder:
    def __init__(self, folder: Path):
        self.folder = folder
        self.index = 0

    def append_data(self, pixels: np.ndarray) -> None:
        save_png(pixels, self.folder / f"frame{self.index:05d}.png")
        self.index += 1

    def close(self) -> None:
        pass


def default_record_path(state: ExplorerState) -> str:
    keys = "-".join(map(str, state.walk.keyframes[:6]))
    return f"walk_{state.walk.mode}_{keys}.mp4"

