"""Compare weights on the real-noise validation sets and a synthetic night set, blind (issue #36);
no test set is read.

    python scripts/validate_noise.py photo runs/photo_v3/<run>/export/model.pt

For each weights (a shipped model's name, a file or a run folder), PSNR (dB) blind on Nam25 (other
cameras) and the four held-out RENOIR scenes, and on 10 held-out photos of ``experiment=photo_v3``
(centre crops of 256 px) with: the night synthesis's training range (``corruption=night``), its
validation setting, and white Gaussian noise of sigma 25; for those, the level the model's noise
estimator reads against the true RMS of the noise (grey levels), and the noisy input's PSNR.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from hydra.utils import instantiate

from restore import Restorer
from restore.calibrate import validation_split
from restore.convert import to_batch
from restore.data import PairedImages
from restore.geometry import centre_crop
from restore.io.images import read_image
from restore.metrics import psnr
from restore.shipped import SHIPPED_MODELS
from restore.training.config import compose_config


def _batch(array: np.ndarray) -> torch.Tensor:
    return to_batch(array)[0]


def _uint8(image: torch.Tensor) -> np.ndarray:
    return (image[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("weights", nargs="+", help="shipped model names, files or run folders")
    parser.add_argument("--photos", type=int, default=10, help="held-out photos (default 10)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    cfg = compose_config(["experiment=photo_v3"])
    data_dir = cfg.paths.data_dir
    night = {
        "night, training range": instantiate(cfg.corruption.night_.train),
        "night, validation setting": instantiate(cfg.corruption.night_.val.night),
    }
    files, _ = validation_split(["experiment=photo_v3"])
    files = files[::3][: args.photos]
    real = {
        "Nam25": PairedImages(f"{data_dir}/real/Nam25", "_noise", "_gt", "Nam25"),
        "RENOIR-val": PairedImages(
            f"{data_dir}/real/RENOIR_T3i", "_noisy", ["_clean", "_reference"], "RENOIR",
            names=["03", "04", "11", "15"],
        ),
    }  # fmt: skip
    crops = [centre_crop(torch.from_numpy(read_image(f, 3)).permute(2, 0, 1), 256) for f in files]
    clean = [_batch(c.permute(1, 2, 0).numpy()) for c in crops]
    g = torch.Generator().manual_seed(7)
    synthetic = {name: [op(c, generator=g).degraded for c in clean] for name, op in night.items()}
    synthetic["gauss25"] = [
        (c + torch.randn(c.shape, generator=g) * 25 / 255).clamp(0, 1) for c in clean
    ]
    for weights in args.weights:
        restorer = (
            Restorer.from_pretrained(weights, precision="fp32")
            if weights in SHIPPED_MODELS
            else Restorer.from_checkpoint(weights, precision="fp32")
        )
        print(f"## {weights}")
        for name, pairs in real.items():
            scores = [
                float(psnr(_batch(restorer.denoise(n)), _batch(c), 1.0)) for n, c in pairs.pairs
            ]
            print(f"{name}: {np.mean(scores):.2f} dB")
        for name, noisy in synthetic.items():
            scores, read, true, inputs = [], [], [], []
            for n, c in zip(noisy, clean, strict=True):
                n8 = _uint8(n)
                scores.append(float(psnr(_batch(restorer.denoise(n8)), c, 1.0)))
                read.append(float(np.mean(restorer.estimate_noise(n8))))
                true.append(
                    float(np.sqrt(np.mean((n8.astype(float) - _uint8(c).astype(float)) ** 2)))
                )
                inputs.append(float(psnr(_batch(n8), c, 1.0)))
            print(
                f"{name}: {np.mean(scores):.2f} dB (noisy {np.mean(inputs):.2f}); level read "
                f"{np.mean(read):.1f} for a true {np.mean(true):.1f}"
            )


if __name__ == "__main__":
    main()
