"""What a training step reports to the host — its losses for the log and the check that they are
finite — read without making the Python thread wait for the GPU.

Reading a CUDA tensor's value (`float(t)`, `.item()`, `if t:`) synchronises: the Python thread
stops until every kernel queued so far has run, and the GPU then idles while the next kernels are
launched — a few of those per step and the CPU's launching and the GPU's computing no longer
overlap. NVIDIA's training loop reads nothing during a step (its statistics stay on the device until
a tick ends). Here a step's scalars are collected on the device, copied at the end of the step into
pinned host memory without blocking, and read at the end of the *next* step, behind an event that
by then has long completed. On the CPU they are read at once, at the end of their own step.

A non-finite value is therefore reported (as TrainingDiverged, with the kimg of the step that made
it) one step late on a GPU; the run loop settles every pending step before it writes statistics or
a snapshot, so a diverged state is never saved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.errors import TrainingDiverged


@dataclass
class StepValues:
    """One step's scalars as read on the host: (kind, name, value) in the order they were recorded;
    kind "check" (must be finite) or "stat" (averaged into the log)."""
    nimg: int
    items: list[tuple[str, str, float]]

    def raise_if_diverged(self) -> None:
        """TrainingDiverged for the first non-finite checked value, as '<what> became nan at 1.2 kimg'."""
        for kind, name, value in self.items:
            if kind == "check" and not math.isfinite(value):
                raise TrainingDiverged(f"{name} became {value} at {self.nimg / 1000:.1f} kimg")


class StepReadback:
    """Collects one step's scalar tensors; `close` hands back the values of a finished step."""

    def __init__(self, device: torch.device):
        self.device = torch.device(device)
        self._keys: list[tuple[str, str]] = []
        self._values: list[torch.Tensor] = []
        self._pending: tuple[int, list, torch.Tensor, torch.cuda.Event] | None = None

    def check(self, name: str, value: torch.Tensor) -> None:
        """A scalar that must be finite (a loss, a penalty); `name` says what it is."""
        self._keys.append(("check", name))
        self._values.append(value.detach().reshape(()))

    def stat(self, name: str, value: torch.Tensor) -> None:
        """A scalar for the statistics (StepStats averages them over a tick)."""
        self._keys.append(("stat", name))
        self._values.append(value.detach().reshape(()))

    def close(self, nimg: int) -> list[StepValues]:
        """The step that started at `nimg` images is queued. -> the steps whose values are now read:
        on the CPU this one; on a GPU the previous one (this one's copy is queued behind its kernels)."""
        keys, values = self._keys, self._values
        self._keys, self._values = [], []
        if not values:
            return self.settle()
        packed = torch.stack([v.to(torch.float64) for v in values])
        if self.device.type != "cuda":
            return [StepValues(nimg, _items(keys, packed.tolist()))]
        done = self.settle()
        host = torch.empty(packed.shape, dtype=torch.float64, pin_memory=True)
        host.copy_(packed, non_blocking=True)
        event = torch.cuda.Event()
        event.record(torch.cuda.current_stream(packed.device))
        self._pending = (nimg, keys, host, event)
        return done

    def settle(self) -> list[StepValues]:
        """The values still on their way, waiting for them (nothing is lost if none are)."""
        if self._pending is None:
            return []
        nimg, keys, host, event = self._pending
        self._pending = None
        event.synchronize()
        return [StepValues(nimg, _items(keys, host.tolist()))]


def _items(keys: list[tuple[str, str]], values: list[float]) -> list[tuple[str, str, float]]:
    return [(kind, name, value) for (kind, name), value in zip(keys, values)]
