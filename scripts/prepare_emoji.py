"""The Noto Color Emoji glyphs (Debian fonts-noto-color-emoji, Apache-2.0) as a folder of PNGs: the
first step of preparing the bundled default model's training data.

    apt-get install -y fonts-noto-color-emoji && pip install fonttools
    python scripts/prepare_emoji.py /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf emoji/
    stylegan-dataset emoji/ emoji64.zip --resolution 64 --transform pad --background white

The font stores every glyph as a 136x128 RGBA PNG in its CBDT table; this writes them unchanged
(named by glyph id); stylegan-dataset then pads them to squares on white and resizes them to 64x64.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("font", help="NotoColorEmoji.ttf")
    p.add_argument("out", help="folder to write the PNGs to")
    args = p.parse_args()
    from fontTools.ttLib import TTFont
    font = TTFont(args.font)
    strikes = font["CBDT"].strikeData
    if not strikes:
        raise SystemExit(f"{args.font}: no colour bitmaps (CBDT) in this font")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, glyph in sorted(strikes[0].items()):
        data = getattr(glyph, "imageData", None)
        if not data:
            continue
        (out / f"{name}.png").write_bytes(data)
        count += 1
    print(f"wrote {count} glyph images to {out}")


if __name__ == "__main__":
    main()
