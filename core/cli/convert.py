"""stylegan-convert: any supported network file -> our .pt, and ours -> the other tools' formats.

    stylegan-convert stylegan2-ffhq-config-f.pkl ffhq.pt          NVIDIA (PyTorch or TensorFlow) -> ours
    stylegan-convert 550000.pt ffhq.pt                            rosinality -> ours
    stylegan-convert ffhq.pt ffhq-rosinality.pt --to rosinality   ours -> rosinality (g_ema, latent_avg)
    stylegan-convert ffhq.pt ffhq.npz                             ours -> NVIDIA names + config_json
                                                                  (StyleGAN2 or StyleGAN3)
    stylegan-convert run/network-snapshot-000200.pt net.pt --to networks
                                      snapshot -> G, G_ema, D and ADA p, no optimiser state (for --init)

Foreign pickles are read through an allowlist: no code stored in a file is ever run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.checkpoints.ours import atomic_save, save_generator
from core.checkpoints.network_file import generator_from
from core.checkpoints.snapshot import networks_from
from core.checkpoints.read import read_network
from core.checkpoints.rosinality import rosinality_channel_multiplier, to_rosinality
from core.checkpoints.read import read_networks
from core.checkpoints.nvidia_npz import write_nvidia_npz
from core.cli.common import ArgumentParser, cli_entry
from core.errors import UsageError
from core.files import create_folder, refuse_to_replace, remove_new_folders

PROG = "stylegan-convert"
TARGETS = ("ours", "rosinality", "npz", "networks")


@cli_entry(PROG)
def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="network file: ours, NVIDIA .pkl/.npz (PyTorch or TensorFlow), rosinality .pt")
    p.add_argument("output", help="file to write")
    p.add_argument("--to", choices=TARGETS, help="output format (default: npz for .npz, else ours)")
    p.add_argument("--force", action="store_true", help="replace OUTPUT if it exists (default: refuse)")
    args = p.parse_args(argv)
    src, dst = Path(args.input), Path(args.output)
    target = args.to or ("npz" if dst.suffix.lower() == ".npz" else "ours")
    if target == "npz" and dst.suffix.lower() != ".npz":
        raise UsageError("--to npz writes a .npz file")
    if target != "npz" and dst.suffix.lower() != ".pt":
        if args.to is None:
            raise UsageError(f"{dst}: give an output ending in .pt (ours) or .npz (NVIDIA's names), or --to")
        raise UsageError(f"--to {target} writes a .pt file")
    if dst.exists() and dst.resolve() == src.resolve():
        raise UsageError("input and output are the same file")
    if dst.is_dir():
        raise UsageError(f"{dst} is a folder; give the file to write")
    refuse_to_replace([dst], args.force)
    # Where it will write is checked before the network is read (exit 2, naming the output): a file
    # in the way, a folder that cannot be made or written. A folder made here goes again if the
    # conversion fails.
    for part in dst.parents:
        if part.exists() and not part.is_dir():
            raise UsageError(f"{dst}: {part} is a file, not a folder")
    made = create_folder(dst.parent, str(dst))
    try:
        return write_networks(src, dst) if target == "networks" else convert(src, dst, target)
    except BaseException:
        remove_new_folders(made)
        raise


def convert(src: Path, dst: Path, target: str) -> int:
    f = read_network(src)  # (read once: a foreign pickle can be hundreds of MB)
    kind, G = f.kind, generator_from(f, src).eval().requires_grad_(False)
    notes = f.notes
    if target == "ours":
        save_generator(dst, G, meta={"converted_from": src.name, "source_format": kind, "notes": notes})
    elif target == "rosinality":
        atomic_save(to_rosinality(G), dst)
        cfg = G.config
        notes.append(f"rosinality's generate.py loads it with --size {cfg.img_resolution} --channel_multiplier "
                     f"{rosinality_channel_multiplier(cfg)}"
                     + ("" if (cfg.w_dim, cfg.mapping_layers) == (512, 8) else
                        f" once its hard-coded latent (512) and n_mlp (8) read {cfg.w_dim} and {cfg.mapping_layers}"))
    else:
        write_nvidia_npz(dst, G)
    for note in notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    cfg = G.config
    growing = G.growing()
    print(f"wrote {dst} ({target}) from {kind}: {cfg.arch} generator, {cfg.img_resolution}x{cfg.img_resolution}x"
          f"{cfg.img_channels}{f', {growing}' if growing else ''}, {G.num_ws} W+ layers, "
          f"{sum(p.numel() for p in G.parameters()) / 1e6:.2f}M parameters")
    return 0


def write_networks(src: Path, dst: Path) -> int:
    """What NVIDIA's network pickles hold (G, D, G_ema, ADA p) without the optimiser state: a third
    of a snapshot's size, and what `stylegan-train --init` needs to start a new run where this one
    was. From a snapshot, a networks file, an NVIDIA .pkl or a rosinality checkpoint."""
    out = networks_from(read_networks(src), src.name)
    atomic_save(out, dst)
    p = out["networks"].get("ada_p")
    kimg = out["meta"].get("kimg")
    print(f"wrote {dst} (networks: G, G_ema, D{f', ADA p {p:.3f}' if p is not None else ''}) from {src.name}"
          + (f" at {kimg:.0f} kimg" if kimg is not None else f" ({out['meta'].get('source_format', 'ours')})"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
