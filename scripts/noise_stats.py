"""Print the noise statistics of the real pairs next to those of the synthetic noise models.

    python scripts/noise_stats.py            # ../shared/data (or $RESTORE_DATA_DIR)

The README's table of real against synthetic camera noise comes from this script.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch

from restore.corruption import CameraNoise, CorrelatedNoise, GaussianNoise, noise_statistics
from restore.data import PairedImages
from restore.io import list_images, read_image

REAL = {"CC15": ("real/CC15", "_real", "_mean"), "Nam25": ("real/Nam25", "_noise", "_gt")}


def _tensor(arrays) -> torch.Tensor:
    return torch.stack(
        [torch.from_numpy(np.asarray(a, np.float32).transpose(2, 0, 1).copy()) for a in arrays]
    )


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
    parser.add_argument(
        "--crops", type=int, default=16, help="CBSD432 crops for the synthetic rows"
    )
    args = parser.parse_args()

    rows = []
    for name, (folder, noisy, clean) in REAL.items():
        pairs = PairedImages(args.data / folder, noisy, clean, name)
        stats = [
            noise_statistics(_tensor([n / 255.0]), _tensor([c / 255.0])) for n, c in pairs.pairs
        ]
        rows.append((f"real, {name} ({len(pairs)} pairs)", stats))

    files = list_images(args.data / "train" / "CBSD432")[: args.crops]
    clean = _tensor([read_image(f)[:320, :320] for f in files])
    for label, op in (
        ("white Gaussian, sigma 5", GaussianNoise(5.0, clip=False)),
        ("`CameraNoise(shot=(1e-3, 3e-3))`", CameraNoise(shot=(1e-3, 3e-3), clip=False)),
        ("`CameraNoise()` (the training range)", CameraNoise(clip=False)),
        ("`CorrelatedNoise((1, 15))`", CorrelatedNoise((1.0, 15.0), clip=False)),
    ):
        noisy = op(clean, generator=torch.Generator().manual_seed(0))
        rows.append(
            (
                f"{label} on {len(files)} CBSD432 crops",
                [noise_statistics(n[None], c[None]) for n, c in zip(noisy, clean, strict=False)],
            )
        )

    print(
        "| residual | RMS (0-255) | neighbour correlation (luma) | channel correlation | "
        "variance left after a 2-px blur |"
    )
    print("|---|---|---|---|---|")
    for label, stats in rows:
        cells = [
            np.mean([getattr(s, k) for s in stats])
            for k in ("rms", "neighbour_correlation", "channel_correlation", "low_frequency_share")
        ]
        rms = [s.rms for s in stats]
        print(
            f"| {label} | {cells[0]:.1f} ({min(rms):.1f}-{max(rms):.1f}) | {cells[1]:.2f} | "
            f"{cells[2]:.2f} | {cells[3]:.2f} |"
        )


if __name__ == "__main__":
    main()
