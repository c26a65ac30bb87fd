"""The README's old-photo picture: scan | damage found (red) | repaired | uncertainty, one row per
scan of ``old_photos/old_w_scratch`` in ../shared/data (microsoft/Bringing-Old-Photos-Back-to-Life,
MIT licence; real scratches, dust and creases, no masks), as ``restore-image --auto-mask
--uncertainty`` makes them; then the same for undamaged colour photos of Kodak24 (thin real
structures and vivid colours that must be left alone), where every pixel found is a false positive.

    python scripts/old_photo_figure.py --out docs/old_photo_repair.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from restore import Restorer
from restore.bench.protocol import data_dir
from restore.io import read_image
from restore.models.weights import load_net
from restore.visualize import uncertainty_picture

SIDE = 256  # each tile's longer side, pixels


def _tile(pixels: np.ndarray) -> Image.Image:
    image = Image.fromarray(pixels)
    image.thumbnail((SIDE, SIDE), Image.Resampling.LANCZOS)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/old_photo_repair.png"))
    parser.add_argument("--weights", type=Path, help="default: the shipped model")
    parser.add_argument("--scans", nargs="+", default=["a", "c", "d"])
    parser.add_argument("--undamaged", nargs="*", default=["kodim05", "kodim14", "kodim23"])
    args = parser.parse_args()
    r = Restorer(load_net(args.weights))
    rows = []
    photos = [("scan", data_dir() / "old_photos" / "old_w_scratch", name) for name in args.scans]
    photos += [("undamaged photo", data_dir() / "Kodak24", name) for name in args.undamaged]
    for what, folder, name in photos:
        scan = (read_image(folder / f"{name}.png", 3) * 255).round().astype(np.uint8)
        repaired, found = r.repair(scan)
        marked = scan.copy()
        marked[found] = (255, 0, 0)
        spread = r.uncertainty(scan, found, 0.0)
        spread[~found] = 0.0  # the known pixels are kept as they are
        tiles = [_tile(p) for p in (scan, marked, repaired, uncertainty_picture(spread))]
        labels = [f"{what} {name}", f"damage found (red): {found.mean():.1%}",
                  "repaired (--auto-mask)", "uncertainty"]  # fmt: skip
        rows.append(list(zip(tiles, labels, strict=True)))
        print(f"{name}: {found.mean():.2%} of the pixels found")
    width = max(sum(t.width + 4 for t, _ in row) for row in rows)
    height = sum(max(t.height for t, _ in row) + 18 for row in rows)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    y = 0
    for row in rows:
        x = 0
        for tile, label in row:
            draw.text((x + 2, y + 3), label, fill="black")
            sheet.paste(tile, (x, y + 18))
            x += tile.width + 4
        y += max(t.height for t, _ in row) + 18
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
