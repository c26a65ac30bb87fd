"""Print the noise statistics of real noisy photos next to those of the synthetic noise models.

    python scripts/noise_stats.py            # ../shared/data (or $RESTORE_DATA_DIR)
    python scripts/noise_stats.py --crops docs/noise_crops.png   # and real/synthetic crops

Every row is measured the same way, on the flattest 64-px cells of the noisy photos less their
planes (``restore.corruption.fitted.flat_residuals``), so photos without a clean reference
(DND33, RNI15) compare with the pairs and with the synthetic noise; the synthetic rows put each
model's noise (``conf/corruption/<name>.yaml``'s training op) on the clean images of the RENOIR
training triplets, the scenes of the first row. No test set is read. The model card's table of
real against synthetic noise comes from this script.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np
import torch
from hydra.utils import instantiate

from restore.bench.reports import markdown_table
from restore.convert import to_batch
from restore.corruption import noise_statistics
from restore.corruption.fitted import flat_residuals
from restore.data import PairedImages
from restore.io import list_images, read_image
from restore.training.config import compose_config

RENOIR = ("real/RENOIR_T3i", "_noisy", ["_clean", "_reference"])
RENOIR_HELD_OUT = ["03", "04", "11", "15", "17"]  # validation, and one whose scene moved
VALIDATION = {"Nam25 (validation; other cameras)": ("real/Nam25", "_noise", "_gt")}
UNPAIRED = {
    "DND33 (four cameras, one a phone)": "real/DND33",
    "RNI15 (old and odd photos)": "real/RNI15",
}
SYNTHETIC = ("camera", "night")
KEYS = (
    "rms",
    "neighbour_correlation",
    "channel_correlation",
    "low_frequency_share",
    "chroma_share",
)


def _batch(array: np.ndarray) -> torch.Tensor:
    return to_batch(array)[0]


def _flat(noisy: torch.Tensor) -> list:
    cells = flat_residuals(noisy)
    return [noise_statistics(c[None], torch.zeros_like(c[None])) for c in cells]


def _row(label: str, stats: list) -> list[str]:
    cells = [np.mean([getattr(s, k) for s in stats]) for k in KEYS]
    rms = np.array([s.rms for s in stats])
    spread = f"{cells[0]:.1f} ({np.percentile(rms, 10):.1f}-{np.percentile(rms, 90):.1f})"
    return [label, spread, *(f"{c:.2f}" for c in cells[1:])]


def _synthetic_op(name: str):
    return instantiate(compose_config([f"corruption={name}"]).corruption.train)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default = Path(
        os.environ.get("RESTORE_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    parser.add_argument(
        "--data", type=Path, default=default, help="data folder (default: %(default)s)"
    )
    parser.add_argument("--crops", type=Path, help="also write real and synthetic crops here")
    args = parser.parse_args()
    torch.manual_seed(0)

    renoir = PairedImages(args.data / RENOIR[0], *RENOIR[1:], "RENOIR_T3i", exclude=RENOIR_HELD_OUT)
    clean = [_batch(c) for _, c in renoir.pairs]
    rows = [_row(f"real, RENOIR T3i low light ({len(clean)} training scenes)",
                 [s for n, _ in renoir.pairs for s in _flat(_batch(n))])]  # fmt: skip
    for label, (folder, noisy, ref) in VALIDATION.items():
        pairs = PairedImages(args.data / folder, noisy, ref, label)
        rows.append(_row(f"real, {label}", [s for n, _ in pairs.pairs for s in _flat(_batch(n))]))
    for label, folder in UNPAIRED.items():
        files = list_images(args.data / folder)
        rows.append(
            _row(f"real, {label}", [s for f in files for s in _flat(_batch(read_image(f)))])
        )
    generator = torch.Generator().manual_seed(0)
    synthetic = {}
    for name in SYNTHETIC:
        op = _synthetic_op(name)
        synthetic[name] = [op(c, generator=generator).degraded for c in clean]
        rows.append(_row(f"synthetic `corruption={name}` on those scenes",
                         [s for n in synthetic[name] for s in _flat(n)]))  # fmt: skip
    head = [
        "noise (flattest 64-px cells)",
        "RMS, 0-255 (10th-90th percentile)",
        "neighbour correlation (luma)",
        "channel correlation",
        "variance left after a 2-px blur",
        "chroma share of the variance",
    ]
    print(markdown_table(head, rows))
    if args.crops:
        _write_crops(args, renoir, synthetic)


def _write_crops(args, renoir: PairedImages, synthetic: dict) -> None:
    """Rows: real noisy crops (RENOIR, DND33), then each synthetic model's on RENOIR scenes."""
    size = 128
    dnd = list_images(args.data / "real" / "DND33")
    real = [
        _batch(renoir.pairs[i][0])[0].permute(1, 2, 0).numpy()[:size, :size] * 255
        for i in (0, 5, 10, 14)
    ]
    real += [read_image(f)[:size, :size] * 255 for f in dnd[:4]]
    lines = [np.concatenate(real, 1)]
    for name in SYNTHETIC:
        crops = [
            synthetic[name][i][0].permute(1, 2, 0).numpy()[:size, :size] * 255
            for i in (0, 5, 10, 14)
        ]
        lines.append(np.concatenate(crops + [np.full_like(crops[0], 255)] * 4, 1))
    sheet = np.clip(np.concatenate(lines, 0), 0, 255).astype(np.uint8)
    cv2.imwrite(str(args.crops), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"crops: {args.crops}")


if __name__ == "__main__":
    main()
