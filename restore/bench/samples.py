"""``restore-bench samples``: are the model's plural completions of a hole plausible?

    restore-bench samples                                   # Kodak24, shipped model
    restore-bench samples --temperatures 0.5 1 --samples 8 --max-images 8

Protocol: each clean image ``i`` of ``--images`` (default ``Kodak24``, 8-bit) gets a hole, seeded
with ``seed + i``: a 96 x 96 box at a random place (``box96``) or a LaMa ``medium`` mask. No noise:
the known pixels are kept. Inside the hole, per image then averaged (PSNR in dB, 0-255 scale):

* ``fill``: the deterministic fill (``inpaint``, the decoded prior mean);
* ``best of N``: the best of ``--samples`` draws (``Restorer.sample``'s decoding at
  ``temperature``); ``mean of N``: the PSNR of their average. Targets: best >= fill + 0.5 dB,
  mean >= fill - 0.1 dB;
* ``|log energy ratio|``: ``|log(gradient energy of a draw / of the true content)|`` inside the
  hole (:func:`restore.metrics.gradient_energy`), averaged over draws (target < 0.3); and the
  signed mean (< 0: too smooth, > 0: too rough), with the fill's for comparison;
* ``spread``: the standard deviation across the draws per pixel, mean over the hole (grey levels);
* fine-detail ratio (:func:`restore.metrics.fine_detail`, as ``restore-bench inpaint``): of each
  draw against the true content, the mean over draws and images, the lowest and highest single
  draw (target 0.7-1.3 each), and the fill's.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from restore.bench.common import load_restorer, model_parser
from restore.bench.protocol import data_dir, hole_mask, load_images, rgb_tensor
from restore.bench.reports import SummaryTable, markdown_table
from restore.metrics import fine_detail, gradient_energy, psnr

HOLES = ("box96", "medium")


def box_mask(height: int, width: int, seed: int, side: int = 96) -> np.ndarray:
    """Boolean ``(H, W)``: one ``side`` x ``side`` hole at a place drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
    mask = np.zeros((height, width), bool)
    mask[top : top + side, left : left + side] = True
    return mask


def image_scores(restorer, clean: np.ndarray, holes: np.ndarray, n: int, temperature: float, seed):
    """The scores above for one 8-bit ``(H, W, 3)`` image and bool ``(H, W)`` holes, through
    ``Restorer`` (``inpaint`` and ``sample``, as users get them)."""
    degraded = np.where(holes[..., None], 0, clean).astype(np.uint8)
    fill = rgb_tensor(restorer.inpaint(degraded, holes))
    draws = restorer.sample(degraded, holes, n, sigma=0.0, seed=seed, temperature=temperature)
    draws = torch.cat([rgb_tensor(d) for d in draws])
    clean = rgb_tensor(clean)
    mask = torch.from_numpy(holes).float()[None, None]
    masks = mask.expand(n, -1, -1, -1)
    truth = gradient_energy(clean, mask)
    ratios = torch.log(gradient_energy(draws, masks) / truth)
    detail = fine_detail(draws, masks) / fine_detail(clean, mask).clamp_min(1e-6)
    return dict(
        fill=float(psnr(fill, clean, mask=mask)[0]),
        best=float(psnr(draws, clean.expand_as(draws), mask=masks).max()),
        mean=float(psnr(draws.mean(0, keepdim=True), clean, mask=mask)[0]),
        abs_log_energy=float(ratios.abs().mean()),
        log_energy=float(ratios.mean()),
        fill_log_energy=float(torch.log(gradient_energy(fill, mask) / truth)[0]),
        spread=float(draws.std(0).mean(0)[mask[0, 0] > 0].mean() * 255),
        detail=float(detail.mean()),
        detail_low=float(detail.min()),
        detail_high=float(detail.max()),
        fill_detail=float(fine_detail(fill, mask)[0] / fine_detail(clean, mask)[0]),
    )


def evaluate(
    restorer, samples, n: int, temperatures: Sequence[float], seed: int = 0
) -> Iterator[dict]:
    """One row per hole kind x temperature, as each finishes: the scores averaged over the
    images."""
    for hole in HOLES:
        for temperature in temperatures:
            scores = []
            for i, sample in enumerate(samples):
                h, w = sample.clean.shape[:2]
                holes = (
                    box_mask(h, w, seed + i)
                    if hole == "box96"
                    else hole_mask(sample, i, hole, seed)
                )
                clean = sample.clean if sample.clean.ndim == 3 else sample.clean[..., None]
                clean = np.ascontiguousarray(np.broadcast_to(clean, (h, w, 3)))
                scores.append(image_scores(restorer, clean, holes, n, temperature, seed + i))
            row = {key: float(np.mean([s[key] for s in scores])) for key in scores[0]}
            row["detail_low"] = min(s["detail_low"] for s in scores)
            row["detail_high"] = max(s["detail_high"] for s in scores)
            yield dict(hole=hole, temperature=temperature, images=len(scores), **row)


def main(argv: Sequence[str] | None = None) -> int:
    parser = model_parser("restore-bench samples", __doc__, "first N images only")
    parser.add_argument("--samples", type=int, default=8, help="draws per image (8)")
    parser.add_argument(
        "--temperatures", type=float, nargs="+", default=[1.0], help="sampling temperatures (1)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.samples < 2:
        parser.error("--samples must be at least 2")

    loaded = load_restorer(args)
    if loaded is None:
        return 2
    samples = load_images(args.images or data_dir() / "Kodak24", args.max_images)
    table = SummaryTable(args.out)
    evaluated = evaluate(loaded[0], samples, args.samples, args.temperatures, args.seed)
    rows = [table.add(row) for row in evaluated]
    n = args.samples
    head = [
        "hole",
        "temperature",
        "images",
        "fill",
        f"best of {n}",
        f"mean of {n}",
        "|log energy ratio|",
        "log energy ratio (fill)",
        "spread",
        "fine-detail ratio: draws (lowest-highest draw) / fill",
    ]
    cells = [
        [
            r["hole"],
            f"{r['temperature']:g}",
            r["images"],
            f"{r['fill']:.2f}",
            f"{r['best']:.2f} ({r['best'] - r['fill']:+.2f})",
            f"{r['mean']:.2f} ({r['mean'] - r['fill']:+.2f})",
            f"{r['abs_log_energy']:.2f}",
            f"{r['log_energy']:+.2f} ({r['fill_log_energy']:+.2f})",
            f"{r['spread']:.1f}",
            f"{r['detail']:.2f} ({r['detail_low']:.2f}-{r['detail_high']:.2f}) / "
            f"{r['fill_detail']:.2f}",
        ]
        for r in rows
    ]
    table.finish(
        [
            "# restore-bench samples",
            "",
            f"weights {loaded[1]}; {n} draws per image, seed {args.seed}",
            "",
            markdown_table(head, cells),
        ]
    )
    return 0 if all(math.isfinite(r["fill"]) for r in rows) else 1
