"""stylegan-generate: images from seeds, from saved W+, and style-mixing figures.

Seeds mean what they mean in NVIDIA's tools (z = RandomState(seed).randn(1, z_dim)) and pixels are
converted as theirs, so a seed shows the same image in both. W+ is built by the shared latent
recipe (core.latents.recipe.build_ws), as in the explorer, and W+ files are read and written by
core.latents.wfile.

Every file a call will write is known before anything is rendered: an existing one is refused
(unless --force), and bad inputs are refused, before --outdir is created. A call that fails after
creating --outdir removes it again while it is empty; files are written under a temporary name and
renamed (core/files.py).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from core.checkpoints.default_model import default_model_path
from core.checkpoints.load import load_generator
from core.cli.common import ArgumentParser, check_switches, cli_entry, number, output_folder, parse_seeds, resolve_device, tune_cpu_allocator
from core.errors import UsageError
from core.files import create_folder, refuse_to_replace, remove_new_folders
from core.images import grid, save_png, to_uint8
from core.latents import wplus
from core.latents.recipe import LatentRecipe, StyleMix, build_ws
from core.latents.wfile import read_ws_file, write_ws_file
from core.noise import NOISE_MODES, NoiseControl

PROG = "stylegan-generate"


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=PROG, description="Generate images with a StyleGAN generator.",
        epilog="examples:\n"
               "  stylegan-generate --pkl net.pt --seeds 0-7 --grid --outdir out\n"
               "  stylegan-generate --pkl net.pt --seeds 5 --trunc 0.7 --save-ws --outdir out\n"
               "  stylegan-generate --pkl net.pt --ws out/seed0005.npz --outdir again\n"
               "  stylegan-generate --pkl net.pt --rows 1,2,3 --cols 10,11 --styles coarse --outdir mix",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pkl", metavar="PATH",
                   help="network file: ours, NVIDIA .pkl/.npz, rosinality .pt (default: the bundled emoji model)")
    what = p.add_argument_group("what to render (one of)")
    what.add_argument("--seeds", metavar="LIST", help="seeds, e.g. 0-7,12: one image per seed")
    what.add_argument("--ws", metavar="FILE.npz",
                      help="render W+ saved with --save-ws or NVIDIA's projector (key 'w': [N, num_ws, w_dim], "
                           "or one W [w_dim]), as saved: not truncated again")
    what.add_argument("--rows", metavar="LIST", help="style-mixing figure: seeds giving the base image of each row")
    what.add_argument("--cols", metavar="LIST", help="style-mixing figure: seeds whose styles each column copies")
    p.add_argument("--styles", default=None, metavar="LAYERS",
                   help="layers the columns copy: coarse, middle, fine or e.g. 0-3 (default coarse)")
    p.add_argument("--trunc", type=number(float, minimum=-10, maximum=10), default=None, metavar="PSI",
                   help="truncation psi (default 1: none)")
    p.add_argument("--trunc-cutoff", type=number(int, minimum=0), default=None, metavar="N",
                   help="truncate only layers below N (default all)")
    p.add_argument("--noise-mode", choices=NOISE_MODES, default=None,
                   help="default const (or what a --ws file was saved with)")
    p.add_argument("--noise-strength", type=number(float, minimum=0, maximum=100), default=None, metavar="S",
                   help="scale of all noise (default 1, or what a --ws file was saved with)")
    p.add_argument("--noise-seed", type=number(int, minimum=0, below=2 ** 32), default=None, metavar="N",
                   help="seed for --noise-mode random (default: a new one each run, saved by --save-ws)")
    p.add_argument("--class", dest="class_idx", type=number(int, minimum=0), default=None, metavar="N",
                   help="class label for conditional networks")
    p.add_argument("--translate", type=parse_translate, default=None, metavar="X,Y",
                   help="StyleGAN3: translate the image by X,Y (image widths), as NVIDIA's gen_images.py")
    p.add_argument("--rotate", type=number(float), default=None, metavar="DEG",
                   help="StyleGAN3: rotate the image by DEG degrees, as NVIDIA's gen_images.py")
    p.add_argument("--outdir", default="out", metavar="DIR", help="output folder (default ./out)")
    p.add_argument("--force", action="store_true",
                   help="replace files of the same names in --outdir (default: refuse, before rendering anything)")
    p.add_argument("--grid", action="store_true", help="also write all images as one grid.png "
                   "(a style-mixing figure is written as grid.png anyway)")
    p.add_argument("--save-ws", action="store_true", help="also save each image's W+ as rendered, to replay with "
                   "--ws: seedNNNN.npz for --seeds, ROW-COL.npz for --rows/--cols")
    p.add_argument("--batch", type=number(int, minimum=1), default=8, metavar="N", help="images per forward pass (default 8)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    return p


class ImageMaker:
    """Turns seeds / W+ into uint8 images with one generator and fixed settings."""

    def __init__(self, G, device, args):
        self.G = G
        self.device = device
        self.psi = 1.0 if args.trunc is None else args.trunc
        self.cutoff = args.trunc_cutoff
        self.translate, self.rotate = args.translate or (0.0, 0.0), args.rotate or 0.0  # (StyleGAN3)
        seed = args.noise_seed
        if seed is None and args.noise_mode == "random":  # fresh noise each run; --save-ws keeps the seed used
            seed = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
        self.noise = NoiseControl(mode=args.noise_mode or "const",
                                        strength=1.0 if args.noise_strength is None else args.noise_strength,
                                        seed=seed)
        self.batch = args.batch
        self.class_idx = args.class_idx
        if args.ws is not None and args.class_idx is not None:  # (NVIDIA's --projected-w takes no label either)
            raise UsageError(f"--class has no effect with --ws: the class is part of the W+ in {args.ws}")
        if G.c_dim > 0 and args.ws is None:
            if args.class_idx is None:
                raise UsageError(f"this network is conditional ({G.c_dim} classes): give --class")
            if not 0 <= args.class_idx < G.c_dim:
                raise UsageError(f"--class must be in 0..{G.c_dim - 1}")
        elif args.class_idx is not None:
            raise UsageError("--class given, but this network is not conditional")

    def set_transform(self, translate: tuple[float, float], rotate: float) -> None:
        """StyleGAN3: the input transform every image is drawn with (as NVIDIA's gen_images.py, which
        always sets it: the identity when no --translate/--rotate, whatever the file stored)."""
        if self.G.config.arch == "stylegan3":
            self.translate, self.rotate = translate, rotate
            self.G.synthesis.set_transform(translate, rotate)

    def meta(self) -> dict:
        """What --save-ws stores beside a W+, so that --ws renders the same image again."""
        meta = dict(truncation_psi=self.psi, truncation_cutoff=self.cutoff, noise_mode=self.noise.mode,
                    noise_strength=self.noise.strength, noise_seed=self.noise.seed)
        if self.G.config.arch == "stylegan3":
            meta.update(translate=np.asarray(self.translate, np.float64), rotate=self.rotate)
        return meta

    @torch.inference_mode()
    def ws(self, **recipe) -> torch.Tensor:
        """W+ through the shared recipe, with this command's class and truncation."""
        return build_ws(self.G, LatentRecipe(class_idx=self.class_idx, psi=self.psi, cutoff=self.cutoff, **recipe))

    @torch.inference_mode()
    def images(self, ws: torch.Tensor, keys: list[int], progress: bool = True) -> np.ndarray:
        """keys: one per image, what its random noise is drawn from (with the noise seed): its seed."""
        out = []
        noise = replace(self.noise, keys=list(keys))
        with tqdm(total=len(ws), unit="img", desc="generating", disable=not progress or None) as bar:
            for i in range(0, len(ws), self.batch):
                img = self.G.synthesis(ws[i: i + self.batch].to(self.device), noise=noise.rows(i, i + self.batch))
                out.append(to_uint8(img))
                bar.update(len(img))
        return np.concatenate(out)


def check_noise_options(args, mode: str, where: str) -> None:
    """--noise-seed / --noise-strength that would change nothing with noise mode `mode` are refused
    (`where`: what set the mode, for the message)."""
    if args.noise_seed is not None and mode != "random":
        raise UsageError(f"--noise-seed has no effect: it seeds --noise-mode random, and the noise mode is "
                         f"{mode} ({where})")
    if args.noise_strength is not None and mode == "none":
        raise UsageError(f"--noise-strength has no effect: the noise mode is none ({where})")


@dataclass
class Job:
    """What one call makes: every file it will write (checked before anything is rendered) and the
    function that renders and writes them."""
    files: list[Path]
    run: Callable[[], None]


def plan_seeds(r: ImageMaker, args, outdir: Path) -> Job:
    seeds = parse_seeds(args.seeds)
    files = [outdir / f"seed{seed:04d}.png" for seed in seeds]
    if args.save_ws:
        files += [outdir / f"seed{seed:04d}.npz" for seed in seeds]
    if args.grid:
        files.append(outdir / "grid.png")

    def run() -> None:
        ws = r.ws(seeds=seeds)
        pixels = r.images(ws, keys=seeds)
        for i, seed in enumerate(seeds):
            save_png(pixels[i], outdir / f"seed{seed:04d}.png")
            if args.save_ws:  # the W+ as rendered (truncated): --ws and the explorer use it as is
                write_ws_file(outdir / f"seed{seed:04d}.npz", ws[i: i + 1], seed=seed, **r.meta())
        if args.grid:
            save_png(grid(pixels), outdir / "grid.png")
        print(f"wrote {len(seeds)} image{'s' * (len(seeds) != 1)} to {outdir}")
    return Job(files, run)


def plan_ws(r: ImageMaker, args, outdir: Path) -> Job:
    path = Path(args.ws)
    wfile = read_ws_file(path, r.G.num_ws, r.G.w_dim)  # refused here (one line) before --outdir is made
    n = len(wfile.ws)
    names = [path.stem] if n == 1 else [f"{path.stem}_{i:04d}" for i in range(n)]
    files = [outdir / f"{name}.png" for name in names] + ([outdir / "grid.png"] if args.grid else [])
    # Noise settings and StyleGAN3's input transform saved with the W+ apply unless given on the
    # command line.
    saved = wfile.noise
    if "noise_mode" in saved and args.noise_mode is None:
        r.noise = NoiseControl(mode=saved["noise_mode"], strength=r.noise.strength, seed=r.noise.seed)
    if "noise_strength" in saved and args.noise_strength is None:
        r.noise.strength = saved["noise_strength"]
    if "noise_seed" in saved and args.noise_seed is None:
        r.noise.seed = saved["noise_seed"]
    check_noise_options(args, r.noise.mode, "--noise-mode" if args.noise_mode else
                        f"as {path.name} was saved" if "noise_mode" in saved else "the default")
    saved = wfile.transform
    r.set_transform(args.translate or saved.get("translate", (0.0, 0.0)),
                    saved.get("rotate", 0.0) if args.rotate is None else args.rotate)

    def run() -> None:
        ws = r.ws(ws=wfile.ws)  # final W+: the recipe uses it as saved, not truncated again
        pixels = r.images(ws, keys=wfile.keys)  # the stored seeds (as the images were made), else row numbers
        for px, name in zip(pixels, names):
            save_png(px, outdir / f"{name}.png")
        if args.grid:
            save_png(grid(pixels), outdir / "grid.png")
        print(f"wrote {n} image{'s' * (n != 1)} to {outdir}")
    return Job(files, run)


def plan_style_mixing(r: ImageMaker, args, outdir: Path) -> Job:
    """NVIDIA's style_mixing.py: ROW-COL.png for every mixed cell, SEED-SEED.png for every row and
    column seed unmixed, and grid.png (the figure, on black; columns' sources along the top, rows'
    down the left)."""
    rows, cols = parse_seeds(args.rows), parse_seeds(args.cols)
    layers = wplus.parse_layers(args.styles or "coarse", r.G.num_ws)
    cells = [(i, j) for i in range(len(rows)) for j in range(len(cols))]
    sources = list(dict.fromkeys(rows + cols))  # (a seed in both lists is one image)
    names = [f"{rows[i]}-{cols[j]}" for i, j in cells] + [f"{s}-{s}" for s in sources]
    names = list(dict.fromkeys(names))  # (a row seed equal to a column seed: its cell is its own image)
    files = [outdir / f"{n}.png" for n in names] + [outdir / "grid.png"]
    if args.save_ws:
        files += [outdir / f"{n}.npz" for n in names]

    def run() -> None:
        row_ws, col_ws = r.ws(seeds=rows), r.ws(seeds=cols)
        # Cell (i, j): row i's W+ taking column j's styles on `layers` (both already truncated, as
        # NVIDIA's style_mixing.py truncates both before mixing).
        mask = wplus.layer_weights(layers, r.G.num_ws)
        mixed = r.ws(ws=row_ws.repeat_interleave(len(cols), 0),
                     mix=[StyleMix(weights=mask, ws=col_ws.repeat(len(rows), 1, 1))])
        # A mixed image's noise is its row's (the seed that gives it the coarse styles).
        keys = rows + cols + [rows[i] for i in range(len(rows)) for _ in cols]
        pixels = r.images(torch.cat([row_ws, col_ws, mixed]), keys=keys)
        row_px, col_px, mix_px = np.split(pixels, [len(rows), len(rows) + len(cols)])
        out = {}  # name -> (pixels, W+, noise key); a mixed cell's key is its row's seed (whose noise it has)
        for k, (i, j) in enumerate(cells):
            out[f"{rows[i]}-{cols[j]}"] = (mix_px[k], mixed[k: k + 1], rows[i])
        for px, ws, seeds in ((row_px, row_ws, rows), (col_px, col_ws, cols)):
            for i, seed in enumerate(seeds):
                out[f"{seed}-{seed}"] = (px[i], ws[i: i + 1], seed)
        for name, (px, ws, key) in out.items():
            save_png(px, outdir / f"{name}.png")
            if args.save_ws:  # the W+ as rendered, with what its noise is keyed by: --ws replays it
                write_ws_file(outdir / f"{name}.npz", ws, seed=key, **r.meta())
        blank = np.zeros_like(pixels[:1])  # (NVIDIA's canvas is black)
        figure = [blank, col_px] + [np.concatenate([row_px[i: i + 1], mix_px[i * len(cols): (i + 1) * len(cols)]])
                                    for i in range(len(rows))]
        save_png(grid(np.concatenate(figure), cols=len(cols) + 1), outdir / "grid.png")
        print(f"wrote a {len(rows)}x{len(cols)} style-mixing figure (columns give layers "
              f"{','.join(map(str, layers))}) to {outdir / 'grid.png'}, and its {len(out)} images")
    return Job(files, run)


def parse_translate(text: str) -> tuple[float, float]:
    """'0.12,-0.07' -> (0.12, -0.07)."""
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be X,Y (two numbers), got {text!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise argparse.ArgumentTypeError(f"must be two finite numbers, got {text!r}")
    return x, y


@cli_entry(PROG)
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_switches()
    modes = [m for m in ("seeds", "ws") if getattr(args, m) is not None]
    mixing = args.rows is not None or args.cols is not None
    if len(modes) + mixing != 1:
        raise UsageError("give exactly one of --seeds, --ws or --rows/--cols")
    if mixing and (args.rows is None or args.cols is None):
        raise UsageError("a style-mixing figure needs both --rows and --cols")
    if args.batch < 1:
        raise UsageError("--batch must be at least 1")
    if args.trunc_cutoff is not None and args.trunc_cutoff < 0:
        raise UsageError("--trunc-cutoff must be >= 0")
    if args.save_ws and args.ws is not None:
        raise UsageError(f"--save-ws saves the W+ of --seeds or --rows/--cols; with --ws it is {args.ws} itself")
    # Options that would change nothing here are refused, not ignored.
    if args.ws is not None and (args.trunc is not None or args.trunc_cutoff is not None):
        raise UsageError(f"--trunc/--trunc-cutoff have no effect with --ws: its W+ is rendered as saved "
                         "(already truncated), as NVIDIA's --projected-w")
    if mixing and args.grid:
        raise UsageError("--grid: a style-mixing figure is written as grid.png anyway")
    if args.styles is not None and not mixing:
        raise UsageError("--styles chooses the layers the columns of a style-mixing figure copy: give --rows and --cols")
    if args.ws is None:  # (with --ws: once the file's saved mode is known, in plan_ws)
        check_noise_options(args, args.noise_mode or "const", "--noise-mode" if args.noise_mode else "the default")
    for option in ("seeds", "rows", "cols"):  # fail on a bad list before loading anything
        if getattr(args, option) is not None:
            seeds = parse_seeds(getattr(args, option))
            twice = sorted({s for s in seeds if seeds.count(s) > 1})
            if twice:  # (each seed names its files: a second would overwrite the first)
                raise UsageError(f"--{option}: seed{'s' * (len(twice) > 1)} {', '.join(map(str, twice[:5]))} "
                                 "listed more than once")
    outdir = output_folder(args.outdir, create=False)  # a file in the way: refused now, not after rendering
    device = resolve_device(args.device)
    if device.type == "cpu":
        tune_cpu_allocator()
    G = load_generator(args.pkl or default_model_path(), device)
    if G.growing():  # (a StyleGAN1 snapshot from before the run reached its full resolution)
        print(f"{PROG}: note: this {G.img_resolution}x{G.img_resolution} generator is {G.growing()}", file=sys.stderr)
    if (args.translate is not None or args.rotate is not None) and G.config.arch != "stylegan3":
        raise UsageError(f"--translate/--rotate move StyleGAN3's input; this is a {G.config.arch} network")
    r = ImageMaker(G, device, args)
    r.set_transform(args.translate or (0.0, 0.0), args.rotate or 0.0)  # (--ws: its saved one, unless given)
    plan = plan_seeds if args.seeds is not None else plan_ws if args.ws is not None else plan_style_mixing
    job = plan(r, args, outdir)  # every input checked, every file to write named: nothing rendered yet
    refuse_to_replace(job.files, args.force)  # the README's promise: no file replaced without --force
    made = create_folder(outdir, f"--outdir {outdir}")
    try:
        job.run()
    except BaseException:
        remove_new_folders(made)  # a folder this call made and left empty goes; one that was there stays
        raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
