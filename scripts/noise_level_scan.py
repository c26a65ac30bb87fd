"""How much a model leaves on the table by reading the noise level itself: PSNR of blind denoising
against the network told k x the true noise level (the RMS of noisy - clean) for a grid of k, on
real noisy/clean pair sets, and the level the model reads over the true one (MODEL_CARD.md).

python scripts/noise_level_scan.py [--weights W | --model photo] [--sets Nam25 RENOIR-val]
"""

from __future__ import annotations

import argparse

import numpy as np

from restore import Restorer
from restore.bench.protocol import REAL_SETS, data_dir, load_real_pairs, psnr
from restore.bench.reports import markdown_row, markdown_table
from restore.shipped import DEFAULT_MODEL, SHIPPED_MODELS

FACTORS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="weights file, checkpoint or run folder")
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=list(SHIPPED_MODELS))
    parser.add_argument("--sets", nargs="+", default=["Nam25", "RENOIR-val"], choices=REAL_SETS)
    parser.add_argument("--factors", type=float, nargs="+", default=list(FACTORS))
    args = parser.parse_args()
    if args.weights:
        r = Restorer.from_checkpoint(args.weights, device="cpu", precision="fp32")
    else:
        r = Restorer.from_pretrained(args.model, device="cpu", precision="fp32")
    heads = [f"told {k:g}x" for k in args.factors]
    print(markdown_table(["set", "blind", "read / true level", *heads], []))
    for name in args.sets:
        pairs = load_real_pairs(data_dir(), REAL_SETS[name])
        blind = np.mean([psnr(r.denoise(p.noisy), p.clean) for p in pairs])
        told = [
            np.mean([psnr(r.denoise(p.noisy, min(255.0, k * p.sigma)), p.clean) for p in pairs])
            for k in args.factors
        ]
        read = "-"
        if r.net.noise_estimator is not None:
            ratios = [np.sqrt(np.mean(r.estimate_noise(p.noisy) ** 2)) / p.sigma for p in pairs]
            read = f"{np.mean(ratios):.2f}"
        cells = [f"{name} ({len(pairs)})", f"{blind:.2f}", read, *(f"{t:.2f}" for t in told)]
        print(markdown_row(cells), flush=True)  # each set as it is done
