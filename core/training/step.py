"""One training step of StyleGAN / StyleGAN2 (what NVIDIA's stylegan2-ada-pytorch training_loop +
loss do per iteration).

Per iteration, for a global batch split into chunks (processes x rounds), the phases of NVIDIA's
loop, each followed by its own optimiser step:
  G main   non-saturating logistic loss on D(augment(G(z)))           + style-mixing regularisation
  G reg    path-length regularisation every pl_interval steps (lazy)
  D main   logistic loss on D(augment(G(z))) and D(augment(x))
  D reg    R1 on the reals every r1_interval steps (lazy; gradient w.r.t. the reals before
           augmentation, as NVIDIA's loss takes it)
then the EMA generator and ADA's p. Lazy regularisation as StyleGAN2 (sec. 3.1 / appendix B) and
NVIDIA's code do it: a regulariser's loss is scaled by its interval k and stepped on its own, and
that network's Adam runs with lr * c and betas ** c, c = k / (k + 1); an interval of 1 adds the
regulariser to the main loss in one step without the adjustment (NVIDIA's "Gboth"/"Dboth").
The path-length mean is moved towards the batch's mean length before the penalty uses it (the
gradient flows through it), as NVIDIA's loss does; with several chunks per step it is moved once,
by the mean over all chunks (NVIDIA moves it per chunk, and per GPU), so that N processes still
equal one. w_avg is updated once per step from G main's W (the stylegan3 repository's cadence;
stylegan2-ada-pytorch updates it at every training-mode mapping call).

Everything random in a chunk comes from a generator seeded by (seed, iteration, chunk, phase), and
gradients are the mean over all chunks; so a run resumes bit for bit, and N processes give the same
result as one process doing the same chunks in N rounds.

On a GPU a step never waits for it: random inputs are drawn on the CPU and uploaded without
blocking (core.devices.upload), the running sums (W for w_avg, path lengths, ADA's signs) stay on
the device, and the losses reach the host through StepReadback (one step late). The only reads are
ADA's, once per ada_interval steps. So the CPU queues kernels while the GPU runs the earlier ones.
"""

from __future__ import annotations

import copy
import time
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F


from core.devices import upload
from core.training.augment import AdaController, AugmentPipe
from core.networks.build import build_discriminator
from core.networks.config import DiscriminatorConfig, GeneratorConfig
from core.training.dataset import ImageDataset
from core.networks.generator import Generator
from core.training.config import TrainConfig
from core.noise import NoiseControl
from core.errors import TrainingDiverged
from core.training.distributed import all_reduce_grads, all_reduce_sum
from core.training.losses import d_logistic_loss, g_nonsaturating_loss, path_length_penalty, r1_penalty
from core.training.readback import StepReadback
from core.training.stage import Stage


@dataclass
class StepStats:
    """Sums over the iterations of a tick (divided by counts when reported)."""
    sums: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)

    def add(self, name: str, value: float, count: int = 1) -> None:
        self.sums[name] = self.sums.get(name, 0.0) + float(value)
        self.counts[name] = self.counts.get(name, 0) + count

    def means(self) -> dict:
        return {k: self.sums[k] / self.counts[k] for k in self.sums if self.counts[k]}


def network_configs(cfg: TrainConfig, resolution: int, channels: int, c_dim: int
                    ) -> tuple[GeneratorConfig, DiscriminatorConfig]:
    """The networks a run with these options trains (for `resolution`x`resolution` images with
    `channels` channels and `c_dim` label dimensions)."""
    g_cfg = GeneratorConfig(
        arch=cfg.arch, z_dim=cfg.z_dim, w_dim=cfg.w_dim,
        c_dim=c_dim, img_resolution=resolution, img_channels=channels, mapping_layers=cfg.map_layers,
        channel_base=cfg.cbase, channel_max=cfg.cmax, architecture=cfg.g_arch,
        num_fp16_res=cfg.num_fp16_res, conv_clamp=cfg.conv_clamp)
    d_cfg = DiscriminatorConfig(
        c_dim=c_dim, img_resolution=resolution, img_channels=channels,
        architecture="progressive" if cfg.arch == "stylegan1" else cfg.d_arch,
        channel_base=cfg.d_cbase or cfg.cbase, channel_max=cfg.d_cmax or cfg.cmax,
        num_fp16_res=cfg.num_fp16_res, conv_clamp=cfg.conv_clamp, mbstd_group_size=cfg.mbstd_group)
    return g_cfg, d_cfg


def build_networks(cfg: TrainConfig, resolution: int, channels: int, c_dim: int):
    g_cfg, d_cfg = network_configs(cfg, resolution, channels, c_dim)
    return Generator(g_cfg), build_discriminator(d_cfg)


def lazy_ratio(interval: int) -> float:
    """c = k / (k + 1) for a regulariser run every k > 1 steps in a step of its own (StyleGAN2
    appendix B; NVIDIA's mb_ratio): that network's Adam runs with lr * c and betas ** c. 1 for k = 1."""
    return interval / (interval + 1) if interval > 1 else 1.0


class Trainer:
    """The networks (G, D, G_ema), their optimisers, ADA and the per-step phases of the module
    docstring for one process of `world` (rank `rank`); step() runs one iteration, state() /
    load_state() are what a snapshot holds (resumed bit for bit). timed: synchronise and time each
    phase (benchmarks)."""

    PHASES = ("G main", "G reg (PL)", "D main", "D reg (R1)", "EMA", "ADA")

    def __init__(self, cfg: TrainConfig, dataset: ImageDataset, device: torch.device, rank: int = 0,
                 world: int = 1, timed: bool = False):
        cfg.validate()
        self.cfg, self.dataset, self.device, self.rank, self.world = cfg, dataset, device, rank, world
        if device.type == "cuda":  # fixed shapes every step: let cuDNN time its algorithms once (as NVIDIA)
            torch.backends.cudnn.benchmark = True
        self.batch_gpu = cfg.batch_gpu or cfg.batch // world
        if cfg.batch % (self.batch_gpu * world):
            raise ValueError(f"--batch {cfg.batch} must be a multiple of --batch-gpu x processes "
                             f"({self.batch_gpu} x {world})")
        self.rounds = cfg.batch // (self.batch_gpu * world)
        self.chunks = self.rounds * world
        torch.manual_seed(cfg.seed)  # network initialisation
        self.G, self.D = build_networks(cfg, dataset.resolution, dataset.channels, dataset.c_dim if cfg.cond else 0)
        self.G.to(device).train()
        self.D.to(device).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.frozen = self.freeze_d_layers(cfg.freezed)
        frozen_ids = {id(p) for name in self.frozen for p in self.D.get_submodule(name).parameters()}
        self.d_params = [p for p in self.D.parameters() if id(p) not in frozen_ids]  # what D's optimiser trains
        fused = device.type == "cuda"  # one kernel per update on GPUs (launches are what a GPU step waits on)
        # Lazy regularisation: a regulariser with its own step scales that network's Adam (lazy_ratio).
        self.g_lazy = cfg.pl_weight > 0 and cfg.pl_interval > 1
        self.d_lazy = cfg.gamma > 0 and cfg.r1_interval > 1
        c_G, c_D = lazy_ratio(cfg.pl_interval if self.g_lazy else 1), lazy_ratio(cfg.r1_interval if self.d_lazy else 1)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=cfg.glr * c_G, betas=tuple(b ** c_G for b in cfg.betas),
                                      eps=1e-8, fused=fused)
        self.opt_D = torch.optim.Adam(self.d_params, lr=cfg.dlr * c_D, betas=tuple(b ** c_D for b in cfg.betas),
                                      eps=1e-8, fused=fused)
        self.num_reals = len(dataset) * (2 if cfg.mirror else 1)  # --mirror: index n + i is image i flipped
        self.augment = AugmentPipe(cfg.augpipe) if cfg.aug != "noaug" else None
        self.ada = AdaController(cfg.target, cfg.ada_interval, cfg.ada_kimg, p=cfg.p)
        self.nimg = 0
        self.iteration = 0
        self._pl_mean = torch.zeros((), dtype=torch.float64, device=device)  # on the device: read only in logs
        self._ada_signs = torch.zeros((), dtype=torch.float64, device=device)  # sum sign(D(x)) since ADA's
        self._ada_count = 0                                                      # last update (all processes)
        self._stats = StepStats()
        self.readback = StepReadback(device)
        self._diverged: TrainingDiverged | None = None  # once raised, raised again by settle() and state()
        self.timed = timed
        self.timings = {name: 0.0 for name in self.PHASES}
        self.progressive = cfg.arch == "stylegan1"
        self.stage = self.current_stage()
        self._step: dict = {}  # what one step's phases hand each other (batch, sums for w_avg/pl_mean/ADA)

    def freeze_d_layers(self, count: int) -> list[str]:
        """--freezed N: D's first N layers (Discriminator.layers(), NVIDIA's order) are not trained:
        no gradients, not in D's optimiser. -> their names."""
        if count == 0:
            return []
        layers = self.D.layers()
        if count > len(layers):
            raise ValueError(f"--freezed {count}: this D has {len(layers)} layers (at most {len(layers)})")
        for _, layer in layers[:count]:
            layer.requires_grad_(False)
        return [name for name, _ in layers[:count]]

    @property
    def stats(self) -> StepStats:
        """The losses of the steps so far in this tick (reading them waits for the last step)."""
        self.settle()
        return self._stats

    @stats.setter
    def stats(self, value: StepStats) -> None:
        self.settle()
        self._stats = value

    @property
    def pl_mean(self) -> float:
        """The path-length regulariser's running mean of |J^T y| (a float64 on the device)."""
        return float(self._pl_mean)

    def settle(self) -> None:
        """Read every step's values still on their way: statistics added, TrainingDiverged raised
        for a non-finite loss. The run loop calls it before it logs or saves anything."""
        self._take(self.readback.settle())

    def _take(self, steps) -> None:
        if self._diverged is not None:  # (the weights in memory are not finite any more)
            raise self._diverged
        for values in steps:
            try:
                values.raise_if_diverged()
            except TrainingDiverged as exc:
                self._diverged = exc
                raise
            for kind, name, value in values.items:
                if kind == "stat":
                    self._stats.add(name, value)

    def set_d_training(self, on: bool) -> None:
        """D's trainable parameters take gradients (on) or not; frozen layers never do."""
        for p in self.d_params:
            p.requires_grad_(on)

    # ----------------------------------------------------------------------- randomness ---
    def rng(self, *key) -> torch.Generator:
        """A generator seeded from (run seed, key...): the same numbers whatever the process layout."""
        h = np.random.SeedSequence([self.cfg.seed & 0xFFFFFFFF] + [zlib.crc32(k.encode()) if isinstance(k, str)
                                                                   else int(k) for k in key])
        return torch.Generator().manual_seed(int(h.generate_state(1, np.uint64)[0] & (2 ** 63 - 1)))

    def batch_indices(self) -> torch.Tensor:
        """The global batch's dataset indices: consecutive slices of per-epoch permutations,
        positioned by the number of images seen (so resuming continues the same stream)."""
        n = self.num_reals
        start = self.nimg
        out = []
        while len(out) < self.cfg.batch:
            epoch, pos = divmod(start + len(out), n)
            perm = torch.randperm(n, generator=self.rng("epoch", epoch))
            out.extend(perm[pos: pos + self.cfg.batch - len(out)].tolist())
        return torch.tensor(out)

    def sample_zc(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = upload(torch.randn(n, self.cfg.z_dim, generator=gen), self.device)
        c = None
        if self.G.c_dim:
            idx = torch.randint(len(self.dataset), (n,), generator=gen)
            c = upload(self.dataset.labels[idx], self.device)
        return z, c

    # ------------------------------------------------------------------------ networks ---
    def current_stage(self) -> Stage:
        return Stage.at(self.nimg, self.dataset.resolution, self.progressive, self.cfg.start_res, self.cfg.phase_kimg)

    def run_G(self, z, c, gen: torch.Generator, G=None):
        """-> (images, W+ after style mixing, W of z). w_avg is updated once per step, not here."""
        G = G or self.G
        ws = G.mapping(z, c, update_w_avg=False)
        w = ws[:, 0]
        if self.cfg.style_mixing > 0:
            cutoff = int(torch.randint(1, ws.shape[1], (), generator=gen))
            if float(torch.rand((), generator=gen)) < self.cfg.style_mixing:
                z2 = upload(torch.randn(z.shape, generator=gen), z.device)
                ws = torch.cat([ws[:, :cutoff], G.mapping(z2, c, update_w_avg=False)[:, cutoff:]], dim=1)
        noise = NoiseControl(mode="random", seed=int(torch.randint(2 ** 31, (), generator=gen)))
        return G.synthesis(ws, noise=noise, **self.stage.g_kwargs), ws, w

    def run_D(self, img, c, gen: torch.Generator | None):
        if self.augment is not None and self.ada.p > 0:
            img = self.augment(img, self.ada.p, gen)
        return self.D(img, c, **self.stage.d_kwargs)

    def real_images(self, indices: torch.Tensor):
        """The reals of `indices` as D sees them at this stage; one upload per step and chunk (D main
        and R1 take the same reals)."""
        cache = self._step.setdefault("reals", {})
        key = tuple(indices.tolist())
        if key not in cache:
            cache[key] = self._real_images(indices)
        return cache[key]

    def _real_images(self, indices: torch.Tensor):
        n = len(self.dataset)
        x, c = self.dataset.batch(indices % n, self.device)
        mirrored = indices >= n
        if mirrored.any():  # --mirror: the second half of the index range is the images x-flipped
            x = torch.where(upload(mirrored, x.device)[:, None, None, None], x.flip(-1), x)
        res, alpha = self.stage.resolution, self.stage.alpha
        if res < x.shape[-1]:
            x = F.avg_pool2d(x, x.shape[-1] // res)
        if self.stage.progressive and alpha < 1 and res > self.cfg.start_res:
            # Fade the reals like G's output: the lower resolution, upsampled, blended in.
            x = torch.lerp(F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest"), x, alpha)
        return x, (c if self.G.c_dim else None)

    # ------------------------------------------------------------------------- the step ---
    def my_chunks(self) -> list[int]:
        return [self.rank + self.world * r for r in range(self.rounds)]

    def _tick(self, phase: str, start: float) -> float:
        if self.timed:
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            now = time.perf_counter()
            self.timings[phase] += now - start
            return now
        return start

    def step(self) -> None:
        """One iteration: the phases below in order, each over this process's chunks of the batch
        (timed per phase when `timed`). An optimiser update (no name) is timed with the next phase."""
        cfg, it = self.cfg, self.iteration
        self.stage = self.current_stage()
        self.stage.set_on(self.G, self.G_ema)
        self._step = {"indices": self.batch_indices()}
        pl = cfg.pl_weight > 0 and it % cfg.pl_interval == 0
        r1 = cfg.gamma > 0 and it % cfg.r1_interval == 0
        phases = [("G main", self.g_main, True),
                  ("G reg (PL)", self.g_path_length, pl and not self.g_lazy),  # (interval 1: in the main step)
                  (None, self.g_update, True),
                  ("G reg (PL)", self.g_path_length, pl and self.g_lazy),  # (lazy: a step of its own)
                  (None, self.g_reg_update, pl and self.g_lazy),
                  ("D main", self.d_main, True),
                  ("D reg (R1)", self.d_r1, r1 and not self.d_lazy),
                  (None, self.d_update, True),
                  ("D reg (R1)", self.d_r1, r1 and self.d_lazy),
                  (None, self.d_reg_update, r1 and self.d_lazy),
                  ("EMA", self.ema, True),
                  ("ADA", self.ada_update, True)]
        nimg = self.nimg
        t = time.perf_counter()
        for name, run, active in phases:
            if active:
                run()
                if name is not None:
                    t = self._tick(name, t)
        self._take(self.readback.close(nimg))

    def g_main(self) -> None:
        """G's non-saturating loss on D(augment(G(z))), with style mixing; sums W for w_avg."""
        self.G.requires_grad_(True)
        self.set_d_training(False)
        self.opt_G.zero_grad(set_to_none=True)
        w_sum = torch.zeros(self.cfg.w_dim, dtype=torch.float64, device=self.device)
        for j in self.my_chunks():
            gen = self.rng(self.iteration, j, "G")
            z, c = self.sample_zc(self.batch_gpu, gen)
            img, _, w = self.run_G(z, c, gen)
            w_sum += w.detach().double().sum(0)
            loss = g_nonsaturating_loss(self.run_D(img, c, gen))
            self.readback.check("G loss", loss)
            (loss / self.chunks).backward()
            self.readback.stat("loss_G", loss)
        self._step["w_sum"] = w_sum

    def g_path_length(self) -> None:
        """Path-length regularisation (lazy: every pl_interval steps, weight x interval; its own
        optimiser step, g_reg_update, unless the interval is 1)."""
        cfg = self.cfg
        if self.g_lazy:
            self.opt_G.zero_grad(set_to_none=True)
        pl_sum, pl_count = torch.zeros((), dtype=torch.float64, device=self.device), 0
        for j in self.my_chunks():
            gen = self.rng(self.iteration, j, "PL")
            z, c = self.sample_zc(max(self.batch_gpu // cfg.pl_batch_shrink, 1), gen)
            img, ws, _ = self.run_G(z, c, gen)
            penalty, lengths = path_length_penalty(img, ws, self._pl_mean, gen, cfg.pl_decay)
            self.readback.check("path-length penalty", penalty)
            (penalty * cfg.pl_weight * cfg.pl_interval / self.chunks).backward()
            pl_sum += lengths.detach().sum().double()
            pl_count += len(lengths)
            self.readback.stat("pl_penalty", penalty)
        self._step["pl"] = (pl_sum, pl_count)

    def g_update(self) -> None:
        """G's optimiser step (gradients summed over processes); w_avg and the path-length mean."""
        all_reduce_grads(self.G, self.world)
        self.opt_G.step()
        w_mean = all_reduce_sum(self._step["w_sum"], self.world) / self.cfg.batch
        with torch.no_grad():  # w_avg tracks the mean of W (beta 0.995 per step), as in the mapping
            beta = self.G.mapping.w_avg_beta
            self.G.mapping.w_avg.copy_(w_mean.to(self.G.mapping.w_avg).lerp(self.G.mapping.w_avg, beta))
        if "pl" in self._step:  # (interval 1: the penalty was in this step)
            self._store_pl_mean()

    def g_reg_update(self) -> None:
        """The path-length penalty's own optimiser step (lazy regularisation), then the stored mean."""
        all_reduce_grads(self.G, self.world)
        self.opt_G.step()
        self._store_pl_mean()

    def _store_pl_mean(self) -> None:
        """lerp(pl_mean, mean length over all processes' chunks, decay), in float64 on the device."""
        total, count = all_reduce_sum(self._step["pl"][0], self.world), self._step["pl"][1] * self.world
        self._pl_mean = self._pl_mean + (total / count - self._pl_mean) * self.cfg.pl_decay

    def d_main(self) -> None:
        """D's logistic loss on generated and real images (both augmented); the signs of D's real
        logits for ADA."""
        self.G.requires_grad_(False)
        self.set_d_training(True)
        self.opt_D.zero_grad(set_to_none=True)
        chunk, indices = self.batch_gpu, self._step["indices"]
        sign_sum, sign_count = torch.zeros((), dtype=torch.float64, device=self.device), 0
        for j in self.my_chunks():
            gen = self.rng(self.iteration, j, "D")
            z, c = self.sample_zc(chunk, gen)
            with torch.no_grad():
                fake, _, _ = self.run_G(z, c, gen)
            real, c_real = self.real_images(indices[j * chunk: (j + 1) * chunk])
            fake_logits = self.run_D(fake, c, gen)
            real_logits = self.run_D(real, c_real, gen)
            loss_fake, loss_real = d_logistic_loss(fake_logits, real_logits)
            self.readback.check("D loss", loss_fake + loss_real)
            ((loss_fake + loss_real) / self.chunks).backward()
            sign_sum += real_logits.detach().sign().sum().double()
            sign_count += len(real_logits)
            self.readback.stat("loss_D_fake", loss_fake)
            self.readback.stat("loss_D_real", loss_real)
            self.readback.stat("D_real_logit", real_logits.detach().mean())
        self._step["signs"] = (sign_sum, sign_count)

    def d_r1(self) -> None:
        """R1 on the real images themselves, before augmentation, through the same run_D (NVIDIA's
        loss: the augment pipe is differentiable, grid_sample too); lazy: every r1_interval steps, its
        own optimiser step (d_reg_update) unless the interval is 1."""
        cfg, chunk, indices = self.cfg, self.batch_gpu, self._step["indices"]
        if self.d_lazy:
            self.opt_D.zero_grad(set_to_none=True)
        for j in self.my_chunks():
            gen = self.rng(self.iteration, j, "R1")
            real, c_real = self.real_images(indices[j * chunk: (j + 1) * chunk])
            real = real.detach().requires_grad_(True)
            penalty = r1_penalty(self.run_D(real, c_real, gen), real)
            self.readback.check("R1 penalty", penalty)
            (penalty * (cfg.gamma / 2) * cfg.r1_interval / self.chunks).backward()
            self.readback.stat("r1_penalty", penalty)

    def d_update(self) -> None:
        all_reduce_grads(self.D, self.world)
        self.opt_D.step()

    def d_reg_update(self) -> None:
        """R1's own optimiser step (lazy regularisation)."""
        self.d_update()

    def ema(self) -> None:
        """The step is done: count its images, then move G_ema towards G."""
        self.nimg += self.cfg.batch
        self.iteration += 1
        self.update_ema()

    def ada_update(self) -> None:
        """ADA's overfitting heuristic r_t = E[sign(D(real))], p adjusted every ada_interval steps."""
        if self.cfg.aug != "ada":
            return
        total, count = self._step["signs"]
        self._ada_signs += all_reduce_sum(total, self.world)  # summed on the device, read every ada_interval steps
        self._ada_count += count * self.world
        if self.iteration % self.cfg.ada_interval == 0:
            self.ada.accumulate(float(self._ada_signs), self._ada_count)
            self._ada_signs.zero_()
            self._ada_count = 0
            self.ada.update(self.cfg.batch)

    def update_ema(self) -> None:
        ema_nimg = self.cfg.ema_kimg * 1000
        if self.cfg.ema_rampup is not None:
            ema_nimg = min(ema_nimg, self.nimg * self.cfg.ema_rampup)
        beta = 0.5 ** (self.cfg.batch / max(ema_nimg, 1e-8))
        with torch.no_grad():  # (multi-tensor ops: a few kernel launches for all parameters, not two each)
            ema, params = list(self.G_ema.parameters()), [p.detach() for p in self.G.parameters()]
            torch._foreach_copy_(ema, torch._foreach_lerp(params, ema, beta))  # ema = lerp(p, ema, beta)
            torch._foreach_copy_(list(self.G_ema.buffers()), list(self.G.buffers()))

    # --------------------------------------------------------------------------- state ---
    def state(self) -> dict:
        """Everything needed to continue exactly (plain tensors and numbers: weights_only-safe)."""
        self.settle()  # (a diverged step raises here rather than being saved)
        plain = lambda m: {k: v.detach().cpu().clone() for k, v in m.state_dict().items()}  # noqa: E731
        ada = self.ada.state()
        if self._ada_count:  # the signs since ADA's last update, as AdaController.accumulate would hold them
            ada.update(sign_sum=ada["sign_sum"] + float(self._ada_signs), count=ada["count"] + self._ada_count)
        return {
            "config": self.cfg.to_dict(),
            "G": plain(self.G), "D": plain(self.D), "G_ema": plain(self.G_ema),
            "D_config": self.D.config.to_dict(),
            "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
            "ada": ada, "nimg": self.nimg, "iteration": self.iteration,
            "pl_mean": self.pl_mean, "stage": self.stage.to_list(),
        }

    def load_state(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        self.ada.load(state["ada"])
        self._ada_signs.zero_()
        self._ada_count = 0
        self.nimg, self.iteration = int(state["nimg"]), int(state["iteration"])
        self._pl_mean = torch.tensor(float(state["pl_mean"]), dtype=torch.float64, device=self.device)
        self.stage = self.current_stage()
        self.stage.set_on(self.G, self.G_ema)
