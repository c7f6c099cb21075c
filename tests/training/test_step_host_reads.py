"""A training step never reads a value the networks computed back to the host while it runs.

On a GPU such a read (float(loss), .tolist(), if tensor:, torch.equal) makes the Python thread wait
for every queued kernel, and the GPU then idles while the next ones are launched: CPU and GPU stop
overlapping (the H200 run spent ~90 ms per 46 ms of GPU work in G's phase). The step's losses go
through StepReadback instead, the running sums stay on the device, and ADA reads its signs once per
ada_interval steps.

CI has no GPU, so this runs the real Trainer on the CPU and follows the data: every tensor computed
from a parameter, a buffer or a loss is marked (a TorchDispatchMode sees every op, the backward
passes included), and any read of a marked tensor during a phase fails the test with the op and
the line that did it; so does a blocking `.to(device)` of a host-made tensor (on a GPU a copy and
a synchronisation: core.devices.upload is the non-blocking way). Random numbers and ADA's matrices
are drawn on the host and stay unmarked — reading them is free. (On a GPU, tests/kernels/test_cuda_kernels.py checks the same with CUDA's
own synchronisation detector.)
"""

from __future__ import annotations

import traceback
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils._pytree import tree_flatten
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from core.training.config import TrainConfig, preset
from core.training.dataset import DatasetWriter, ImageDataset
from core.training.step import Trainer

# Ops that make the host wait for a CUDA tensor's values (a read, or an output size that depends on them).
READS = {"aten._local_scalar_dense.default", "aten.equal.default", "aten.is_nonzero.default", "aten.nonzero.default",
         "aten.masked_select.default", "aten._unique2.default", "aten.unique_consecutive.default",
         "aten.unique_dim.default", "aten.repeat_interleave.Tensor"}


class DeviceValues(TorchDispatchMode):
    """Marks every tensor computed from a marked one; records host reads of marked tensors."""

    def __init__(self, seeds):
        super().__init__()
        self.marked: dict[int, weakref.ref] = {}  # id -> the tensor (weakly: ids of dead tensors are reused)
        self.reads: list[str] = []
        for t in seeds:
            self.mark(t)

    def mark(self, t: torch.Tensor) -> None:
        self.marked[id(t)] = weakref.ref(t)

    def is_marked(self, t) -> bool:
        ref = self.marked.get(id(t)) if isinstance(t, torch.Tensor) else None
        return ref is not None and ref() is t

    def read(self, what: str) -> None:
        here = [f for f in traceback.extract_stack() if "/core/" in f.filename or "/kernels/" in f.filename]
        line = f"{what} at {here[-1].filename.split('/work/')[-1]}:{here[-1].lineno}" if here else what
        if not (self.reads and self.reads[-1] == line and what.startswith("Tensor.")):
            self.reads.append(line)  # (Tensor.tolist comes here twice under a function mode)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        inputs = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        tainted = any(self.is_marked(t) for t in inputs)
        boolean_index = str(func) in ("aten.index.Tensor", "aten.index_put_.default", "aten.index_put.default") and \
            any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in tree_flatten(args[1])[0])
        if tainted and (str(func) in READS or boolean_index):
            self.read(str(func))
        out = func(*args, **kwargs)
        if tainted:
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor):
                    self.mark(t)
        return out


class BlockingUploads(TorchFunctionMode):
    """Records the copies that block on a GPU: `.to(<device>)`, `.cuda()` or `copy_` of a host-made
    (unmarked) tensor, a factory given data and a device (`torch.tensor(..., device=)`), and `.cpu()`
    of a computed one — all outside core.devices.upload. What upload returns is marked (on a GPU it
    is device memory: reading it would synchronise too)."""

    def __init__(self, values: DeviceValues):
        super().__init__()
        self.values = values

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        what = self.blocking(func, args, kwargs)
        if what and not any(f.filename.endswith("core/devices.py") for f in traceback.extract_stack()):
            self.values.read(what)
        return func(*args, **kwargs)

    def blocking(self, func, args, kwargs) -> str | None:
        """What blocking copy this call is, if any (the caller then checks it is not upload's own)."""
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        host = first is not None and not self.values.is_marked(first)
        if func is torch.Tensor.to and host and not kwargs.get("non_blocking"):
            if any(isinstance(a, (torch.device, torch.Tensor)) or (isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda"))
                   for a in (*args[1:], kwargs.get("device"), kwargs.get("other"))):
                return "Tensor.to(<device>) of a host tensor"
        elif func is torch.Tensor.cuda or (func is torch.Tensor.copy_ and len(args) > 1 and isinstance(args[1], torch.Tensor)
                                           and not self.values.is_marked(args[1]) and not kwargs.get("non_blocking")):
            return f"Tensor.{func.__name__} from a host tensor"
        elif func in (torch.tensor, torch.as_tensor) and kwargs.get("device") not in (None, "cpu"):
            return f"torch.{func.__name__}(..., device=)"  # (device="cpu" spelled out: host by intent, e.g. Adam's step)
        elif func is torch.Tensor.cpu and first is not None and self.values.is_marked(first):
            return "Tensor.cpu of a computed tensor"
        return None


@pytest.fixture
def marked_uploads(monkeypatch):
    """What core.devices.upload returns is marked in the active watch (every module's import of it)."""
    import core.devices
    import core.training.augment
    import core.training.dataset
    import core.training.losses
    import core.training.step
    holder = {}
    original = core.devices.upload

    def upload(t, device):
        out = original(t, device)
        mode = holder.get("mode")
        if mode is not None:
            mode.mark(out)
        return out
    for module in (core.devices, core.training.augment, core.training.dataset, core.training.losses,
                   core.training.step):
        monkeypatch.setattr(module, "upload", upload)
    return holder


@pytest.fixture
def tolist_watch(monkeypatch):
    """.tolist() and .numpy() read without going through the dispatcher: watch them too."""
    holder = {}
    for name in ("tolist", "numpy"):
        original = getattr(torch.Tensor, name)

        def watched(self, *a, _original=original, _name=name, **k):
            mode = holder.get("mode")
            if mode is not None and mode.is_marked(self):
                mode.read(f"Tensor.{_name}")
            return _original(self, *a, **k)
        monkeypatch.setattr(torch.Tensor, name, watched)
    return holder


def small_trainer(tmp_path: Path, arch: str, cond: bool, **overrides) -> Trainer:
    rng = np.random.default_rng(0)
    writer = DatasetWriter(tmp_path / "data.zip")
    for i in range(16):
        writer.add(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), label=i % 3 if cond else None)
    writer.close()
    dataset = ImageDataset(tmp_path / "data.zip")
    cfg = TrainConfig(data=str(tmp_path / "data.zip"), arch=arch, batch=8)
    for k, v in preset("stylegan1" if arch == "stylegan1" else "auto", 16).items():
        setattr(cfg, k, v)
    cfg.batch, cfg.batch_gpu, cfg.mbstd_group, cfg.cbase, cfg.cmax = 8, 4, 4, 256, 16
    cfg.z_dim = cfg.w_dim = 16
    cfg.cond, cfg.mirror, cfg.p, cfg.ada_interval = cond, True, 0.5, 4  # every augmentation, both halves
    if arch == "stylegan1":
        cfg.start_res, cfg.phase_kimg = 8, 0.02  # fading in during the steps below
    for k, v in overrides.items():
        setattr(cfg, k, v)
    return Trainer(cfg, dataset, torch.device("cpu"))


PHASES = ["g_main", "g_path_length", "g_update", "d_main", "d_r1", "d_update", "ema", "ada_update"]


@pytest.mark.parametrize("arch,cond,kernels", [("stylegan2", True, "auto"), ("stylegan2", False, "op"),
                                                ("stylegan1", False, "auto")])
def test_no_phase_reads_a_computed_value(tmp_path, tolist_watch, marked_uploads, monkeypatch, arch, cond, kernels):
    """(kernels "op": through the custom ops' wrappers and autograd, the path a GPU takes.)"""
    monkeypatch.setenv("STYLEGAN_KERNELS", kernels)
    tr = small_trainer(tmp_path, arch, cond)
    tr.step()  # (first-use work out of the way)
    modes = []

    def watched(name):
        run = getattr(tr, name)

        def phase():
            seeds = [*tr.G.parameters(), *tr.G.buffers(), *tr.D.parameters(), *tr.D.buffers(),
                     *tr.G_ema.parameters(), *tr.G_ema.buffers(), tr._pl_mean, tr._ada_signs]
            # the device-side sums a phase hands the next (the batch's indices are host-made)
            sums = [tr._step.get("w_sum"), *tr._step.get("pl", ()), *tr._step.get("signs", ())]
            seeds += [v for v in sums if isinstance(v, torch.Tensor)]
            seeds += [t for t in tr.readback._values]
            mode = DeviceValues(seeds)
            modes.append((name, mode))
            tolist_watch["mode"] = marked_uploads["mode"] = mode
            with mode, BlockingUploads(mode):
                run()
            tolist_watch["mode"] = marked_uploads["mode"] = None
        return phase

    for name in PHASES:
        setattr(tr, name, watched(name))
    steps = 0
    while steps < 16 or tr.iteration % tr.cfg.ada_interval == 0:  # every lazy regulariser, PL and R1
        if (tr.iteration + 1) % tr.cfg.ada_interval == 0:  # ADA's read, once per interval, is allowed
            tr.ada_update = type(tr).ada_update.__get__(tr)
        else:
            tr.ada_update = watched("ada_update")
        tr.step()
        steps += 1
    reads = sorted({f"{name}: {r}" for name, mode in modes for r in mode.reads})
    assert not reads, "host reads of computed values during a step:\n" + "\n".join(reads)
    expected = set(PHASES) - ({"g_path_length"} if tr.cfg.pl_weight == 0 else set())  # (StyleGAN1: no PL)
    assert {name for name, _ in modes} == expected  # every phase ran under the watch
    assert tr.stats.means()["loss_G"] > 0 and np.isfinite(tr.pl_mean)


def test_the_watch_sees_a_read(tmp_path, tolist_watch, marked_uploads):
    """The detector itself: a float() of a loss, a .tolist() and an `if` on a computed tensor are caught."""
    tr = small_trainer(tmp_path, "stylegan2", False)
    w = torch.randn(2, 16)
    mode = DeviceValues([*tr.G.parameters(), *tr.G.buffers()])
    tolist_watch["mode"] = marked_uploads["mode"] = mode
    import core.devices
    with mode, BlockingUploads(mode):
        ws = tr.G.mapping(w, None).detach()
        float(ws.sum())
        ws[0, 0].tolist()
        if ws.mean() > -1e9:
            pass
        float(torch.randn(3).sum())  # host-drawn: not a read of a computed value
        torch.randn(3).to(ws.device)  # a blocking upload
        z = core.devices.upload(torch.randn(3), ws.device)  # the non-blocking one: fine, but then on the device
        ws.to(ws.device)  # (a computed tensor: already there)
        bool(z.min() < -5)  # a read of uploaded data
        ws[ws > 0]  # boolean-mask indexing (nonzero on CUDA)
        ws.detach().cpu()
        torch.tensor([1.0, 2.0], device=ws.device)
        ws.new_zeros(3).copy_(torch.ones(3))
    tolist_watch["mode"] = marked_uploads["mode"] = None
    reads = [r.split(" at ")[0] for r in mode.reads]
    assert reads[:2] == ["aten._local_scalar_dense.default", "Tensor.tolist"]
    assert reads[2] in ("aten.is_nonzero.default", "aten._local_scalar_dense.default")
    assert reads[3] == "Tensor.to(<device>) of a host tensor"
    assert reads[4] in ("aten.is_nonzero.default", "aten._local_scalar_dense.default")
    assert reads[5:] == ["aten.index.Tensor", "Tensor.cpu of a computed tensor", "torch.tensor(..., device=)",
                         "Tensor.copy_ from a host tensor"]


def test_a_diverged_trainer_never_hands_out_its_state(tmp_path):
    """Losses are checked after the step (on a GPU one step later), when the optimiser has already
    moved: once divergence is found, settle() and state() keep raising it, so nothing saves it."""
    from core.errors import TrainingDiverged
    tr = small_trainer(tmp_path, "stylegan2", False, glr=1e30, dlr=1e30)
    with pytest.raises(TrainingDiverged, match="became") as first:
        for _ in range(20):
            tr.step()
    for call in (tr.settle, tr.state, tr.step):
        with pytest.raises(TrainingDiverged) as again:
            call()
        assert str(again.value) == str(first.value)
