"""The README picture: noisy | BM3D | restore | clean, masked | Telea | restore | clean, and a
real grainy scan | the gaussian model | the photo model.

Crops of scikit-image's public-domain sample photos (astronaut, coffee) and of an old scan from
microsoft/Bringing-Old-Photos-Back-to-Life (MIT; `old_photos/old/d.png` in ../shared/data, the
row is left out without it), so the picture can be redistributed. Needs the bench extra
(`pip install -e .[bench]`) for BM3D.

    python scripts/readme_figure.py --out docs/restore_vs_peers.png
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

import bm3d
import cv2
import numpy as np
import torch
from PIL import Image, ImageDraw

from restore import Restorer
from restore.bench.protocol import data_dir, psnr
from restore.corruption import IrregularMasks
from restore.models.weights import load_net

CROP = 192
SIGMA = 25.0


def _photo(name: str, top: int, left: int) -> np.ndarray:
    with resources.as_file(resources.files("skimage") / "data" / f"{name}.png") as path:
        rgb = np.asarray(Image.open(path).convert("RGB"))
    return rgb[top : top + CROP, left : left + CROP]


def _row(tiles: list[np.ndarray], labels: list[str]) -> Image.Image:
    row = Image.new("RGB", (len(tiles) * (CROP + 4), CROP + 18), "white")
    draw = ImageDraw.Draw(row)
    for i, (tile, label) in enumerate(zip(tiles, labels, strict=False)):
        row.paste(Image.fromarray(tile), (i * (CROP + 4), 18))
        draw.text((i * (CROP + 4) + 2, 3), label, fill="black")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/restore_vs_peers.png"))
    parser.add_argument("--weights", type=Path, help="default: the shipped model")
    args = parser.parse_args()
    r = Restorer(load_net(args.weights))
    rows = []

    clean = _photo("astronaut", 40, 150)
    rng = np.random.default_rng(0)
    noisy = np.clip(np.round(clean + rng.normal(0, SIGMA, clean.shape)), 0, 255).astype(np.uint8)
    ref = (
        (bm3d.bm3d_rgb(noisy / 255.0, sigma_psd=SIGMA / 255) * 255)
        .clip(0, 255)
        .round()
        .astype(np.uint8)
    )
    ours = r.denoise(noisy)
    rows.append(
        _row(
            [noisy, ref, ours, clean],
            [
                f"noisy s={SIGMA:g} {psnr(noisy, clean):.1f} dB",
                f"BM3D {psnr(ref, clean):.1f} dB",
                f"restore {psnr(ours, clean):.1f} dB",
                "clean",
            ],
        )
    )

    clean = _photo("coffee", 100, 200)
    x = torch.from_numpy(clean.copy()).permute(2, 0, 1)[None].float() / 255
    mask = IrregularMasks("medium")(x, generator=torch.Generator().manual_seed(0))[0, 0].numpy() > 0
    masked = clean.copy()
    masked[mask] = 0
    telea = cv2.inpaint(masked, mask.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
    ours = r.inpaint(masked, mask)
    rows.append(
        _row(
            [masked, telea, ours, clean],
            [
                "masked (LaMa medium)",
                f"Telea hole {psnr(telea, clean, mask):.1f} dB",
                f"restore hole {psnr(ours, clean, mask):.1f} dB",
                "clean",
            ],
        )
    )

    scan = data_dir() / "old_photos" / "old" / "d.png"
    if scan.is_file():
        grainy = np.asarray(Image.open(scan).convert("RGB"))[338 : 338 + CROP, 245 : 245 + CROP]
        gaussian = Restorer.from_pretrained("gaussian").denoise(grainy)
        rows.append(
            _row(
                [grainy, gaussian, r.denoise(grainy)],
                ["old scan, real grain", "gaussian model", "restore (photo model)"],
            )
        )

    figure = Image.new("RGB", (rows[0].width, sum(row.height + 6 for row in rows) - 6), "white")
    top = 0
    for row in rows:
        figure.paste(row, (0, top))
        top += row.height + 6
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
