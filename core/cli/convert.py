"""stylegan-convert: turn a network file into our checkpoint format (and back to NVIDIA names).

    stylegan-convert IN.npz OUT.pt   NVIDIA-named state dict + config_json -> our .pt
    stylegan-convert IN.pt OUT.npz   our .pt -> NVIDIA-named state dict + config_json
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ..checkpoint import load_generator, save_generator
from ..nvidia_npz import write_nvidia_npz
from .common import UsageError, cli_entry

PROG = "stylegan-convert"
OUTPUT_SUFFIXES = (".pt", ".npz")


@cli_entry(PROG)
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="network file: our .pt or an NVIDIA-named .npz")
    p.add_argument("output", help="file to write: .pt (ours) or .npz (NVIDIA names)")
    args = p.parse_args(argv)
    src, dst = Path(args.input), Path(args.output)
    if dst.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"output must end in {' or '.join(OUTPUT_SUFFIXES)}: {dst}")
    if dst.exists() and dst.resolve() == src.resolve():
        raise UsageError("input and output are the same file")
    G = load_generator(src)
    if dst.suffix.lower() == ".pt":
        save_generator(dst, G, meta={"converted_from": src.name})
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=dst.parent, suffix=".npz", delete=False) as tmp:
            pass
        try:
            write_nvidia_npz(tmp.name, G)
            Path(tmp.name).replace(dst)
        finally:
            Path(tmp.name).unlink(missing_ok=True)
    cfg = G.config
    print(f"wrote {dst}: {cfg.flavour} generator, {cfg.img_resolution}x{cfg.img_resolution}x"
          f"{cfg.img_channels}, {G.num_ws} W+ layers, "
          f"{sum(p.numel() for p in G.parameters()) / 1e6:.2f}M parameters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
