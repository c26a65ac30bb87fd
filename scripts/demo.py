"""`make demo`: corrupt sample photos, restore them with `restore-image`, compare.

Sample photos are the astronaut, chelsea and coffee PNGs that ship inside scikit-image (no
download). Writes, under demo/ (or --out):
  clean/      the originals
  degraded/   <name>_noise.png (Gaussian noise, sigma 25) and <name>_holes.png (LaMa medium mask)
  masks/      <name>_holes.png (white = hole)
  restored/   restore-image's output for every degraded image
  comparison.png  one row per degraded image: degraded | restored | clean
  psnr.md     PSNR / SSIM of degraded and restored images against the originals
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid, save_image

from restore import metrics
from restore.bench.reports import markdown_table
from restore.corruption import GaussianNoise, IrregularMasks, corrupt

SAMPLES = ("astronaut", "chelsea", "coffee")
SIGMA = 25.0
SEED = 0


def _load(name: str) -> torch.Tensor:
    with resources.as_file(resources.files("skimage") / "data" / f"{name}.png") as path:
        rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(rgb).permute(2, 0, 1)[None]


def _save(x: torch.Tensor, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    array = (x[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    Image.fromarray(array.squeeze()).save(path)


def _read(path: Path) -> torch.Tensor:
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(rgb).permute(2, 0, 1)[None]


def _scores(x: torch.Tensor, clean: torch.Tensor) -> tuple[float, float]:
    return metrics.psnr(x, clean).item(), metrics.ssim(x, clean).item()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo"))
    parser.add_argument("--weights", type=Path, help="weights to use instead of the shipped model")
    args = parser.parse_args()
    out = args.out
    g = torch.Generator().manual_seed(SEED)
    cases = []  # (file name, clean tensor)
    for name in SAMPLES:
        clean = _load(name)
        _save(clean, out / "clean" / f"{name}.png")
        noisy = corrupt(clean, [GaussianNoise(SIGMA)], generator=g).degraded
        _save(noisy, out / "degraded" / f"{name}_noise.png")
        holes = corrupt(clean, masks=IrregularMasks("medium"), generator=g)
        _save(holes.degraded, out / "degraded" / f"{name}_holes.png")
        _save(holes.mask, out / "masks" / f"{name}_holes.png")
        cases += [(f"{name}_noise.png", clean), (f"{name}_holes.png", clean)]

    cmd = [
        sys.executable,
        "-m",
        "restore.cli",
        str(out / "degraded"),
        "-o",
        str(out / "restored"),
        "--masks",
        str(out / "masks"),
    ]
    if args.weights:
        cmd += ["--weights", str(args.weights)]
    print("$", " ".join(cmd), flush=True)
    if subprocess.run(cmd).returncode != 0:
        return 1

    rows, tiles = [], []
    for file, clean in cases:
        degraded, restored = _read(out / "degraded" / file), _read(out / "restored" / file)
        (p0, s0), (p1, s1) = _scores(degraded, clean), _scores(restored, clean)
        rows.append([file, f"{p0:.2f}", f"{s0:.3f}", f"{p1:.2f}", f"{s1:.3f}", f"{p1 - p0:+.2f}"])
        size = (256, round(256 * clean.shape[-1] / clean.shape[-2]))
        tiles += [
            torch.nn.functional.interpolate(t, size=size, mode="area")[0]
            for t in (degraded, restored, clean)
        ]
    width = max(t.shape[-1] for t in tiles)
    tiles = [torch.nn.functional.pad(t, (0, width - t.shape[-1]), value=1.0) for t in tiles]
    save_image(make_grid(tiles, nrow=3, padding=4, pad_value=1.0), out / "comparison.png")
    head = [
        "image",
        "degraded PSNR (dB)",
        "degraded SSIM",
        "restored PSNR (dB)",
        "restored SSIM",
        "gain (dB)",
    ]
    table = "\n".join(
        [
            f"Gaussian noise sigma {SIGMA:g} (0-255) and LaMa `medium` holes, seed {SEED}.",
            "",
            markdown_table(head, rows),
            "",
        ]
    )
    (out / "psnr.md").write_text(table)
    print(table)
    print(f"comparison picture: {out / 'comparison.png'} (rows: degraded | restored | clean)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
