"""``restore-bench uncertainty``: how well the predicted per-pixel uncertainty matches the errors,
and its calibration.

    restore-bench uncertainty                       # Kodak24 and the real pairs, shipped model
    restore-bench uncertainty --weights run/export/model.pt

Tasks: white Gaussian noise (sigma 15 / 25 / 50, rounded and clipped to 8 bits, as in a photo)
with and without LaMa ``medium`` holes on ``--images`` (default ``Kodak24``), and the real pair
sets (:data:`restore.bench.protocol.REAL_SETS`), blind. Per task, over the images: PSNR, the
coverage of the central 90 % interval (target 0.88-0.92), the calibration error over the
10-90 % intervals and the AUSE (:mod:`restore.metrics`), per pixel and channel, from what users
get: :meth:`restore.Restorer.restore` and :meth:`restore.Restorer.uncertainty` (tiled, the map
RMS over the colour channels).

The calibration itself is fitted by ``restore-calibrate`` (:mod:`restore.calibrate`), on the
validation split of the training photos.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from restore.bench.common import load_restorer, model_parser
from restore.bench.protocol import (
    REAL_SETS,
    data_dir,
    hole_mask,
    load_images,
    load_real_pairs,
    noisy_pair,
    rgb_tensor,
)
from restore.bench.reports import SummaryTable, markdown_table
from restore.metrics import ause, calibration_error, interval_coverage, psnr


def predict(restorer, degraded: torch.Tensor, mask: torch.Tensor | None):
    """``(restored, std)`` of ``restorer`` on a ``(1, 3, H, W)`` 0-1 image, both on the 0-1 scale
    (std ``(1, 1, H, W)``), blind."""
    return restorer.restore(degraded, mask), restorer.uncertainty(degraded, mask) / 255.0


def evaluate(restorer, samples, pairs, sigmas, seed: int = 0) -> Iterator[dict]:
    """One row per task, as each finishes: PSNR, 90 % coverage, calibration error, AUSE (means
    over images)."""
    tasks = [(f"gauss{s:g}", s, False) for s in sigmas]
    tasks += [(f"gauss{s:g} + medium holes", s, True) for s in sigmas]
    for name, sigma, holes in tasks:
        scores = []
        for i, sample in enumerate(samples):
            clean = rgb_tensor(sample.clean)
            mask = None
            if holes:
                mask = torch.from_numpy(hole_mask(sample, i, "medium", seed)).float()[None, None]
            noisy = rgb_tensor(noisy_pair(sample, i, sigma, seed)[1])
            restored, std = predict(restorer, noisy, mask)
            scores.append(_scores(restored, std, clean))
        yield _row(name, len(samples), scores)
    for set_name, set_pairs in pairs.items():
        scores = [
            _scores(*predict(restorer, rgb_tensor(p.noisy), None), rgb_tensor(p.clean))
            for p in set_pairs
        ]
        yield _row(f"real {set_name}", len(set_pairs), scores)


def _scores(restored, std, clean) -> list[float]:
    shuffled = torch.rand(std.shape, generator=torch.Generator().manual_seed(0))
    return [
        float(f(restored, std, clean)[0]) for f in (interval_coverage, calibration_error, ause)
    ] + [float(ause(restored, shuffled, clean)[0]), float(psnr(restored, clean)[0])]


def _row(name: str, count: int, scores: list[list[float]]) -> dict:
    coverage, cal, area, random_area, db = np.mean(scores, axis=0)
    return dict(
        task=name,
        images=count,
        psnr=db,
        coverage90=coverage,
        calibration_error=cal,
        ause=area,
        ause_random=random_area,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = model_parser("restore-bench uncertainty", __doc__, "first N images (and pairs) only")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[15, 25, 50])
    parser.add_argument("--no-real", action="store_true", help="leave out the real pairs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    loaded = load_restorer(args, "uncertainty")
    if loaded is None:
        return 2
    restorer = loaded[0]
    samples = load_images(args.images or data_dir() / "Kodak24", args.max_images)
    pairs = {}
    if not args.no_real:
        for name, spec in REAL_SETS.items():
            pairs[name] = load_real_pairs(data_dir(), spec, args.max_images)
    table = SummaryTable(args.out)
    rows = [table.add(row) for row in evaluate(restorer, samples, pairs, args.sigmas, args.seed)]
    head = [
        "task",
        "images",
        "PSNR",
        "coverage of the 90 % interval",
        "calibration error (10-90 %)",
        "AUSE (RMSE)",
        "AUSE of a random ordering",
    ]
    cells = [
        [r["task"], r["images"], f"{r['psnr']:.2f}", f"{r['coverage90']:.3f}"]
        + [f"{r[k]:.3f}" for k in ("calibration_error", "ause", "ause_random")]
        for r in rows
    ]
    table.finish(
        [
            "# restore-bench uncertainty",
            "",
            f"weights {loaded[1]}; uncertainty calibration: {restorer.net.calibration}",
            "",
            markdown_table(head, cells),
        ]
    )
    return 0
