"""``restore-bench uncertainty``: how well the predicted per-pixel uncertainty matches the errors,
and its calibration.

    restore-bench uncertainty                       # Kodak24 and the real pairs, shipped model
    restore-bench uncertainty --weights run/export/model.pt --calibrate calibrated.pt

Tasks: white Gaussian noise (sigma 15 / 25 / 50, rounded and clipped to 8 bits, as in a photo)
with and without LaMa ``medium`` holes on ``--images`` (default ``Kodak24``), and the real pairs of
CC15 and Nam25, blind. Per task, over the images: PSNR, the coverage of the central 90 % interval
(target 0.88-0.92), the calibration error over the 10-90 % intervals and the AUSE
(:mod:`restore.metrics`), from the model's ``restore_with_uncertainty``, per pixel and channel.

``--calibrate OUT`` first fits the post-hoc scale (sigma scaling: one factor on the predicted
standard deviation, so that 90 % of the errors fall inside the 90 % interval) on the validation
split of the training photos (``train/CBSD432`` and ``train/SunHays80``, the split training
uses), with the same kinds of noise and camera-pipeline noise, and writes the weights with the
scale stored in them to ``OUT``; the evaluation then uses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from restore.bench.cli import load_model_with, model_parser
from restore.bench.protocol import (
    REAL_SETS,
    data_dir,
    hole_mask,
    load_images,
    load_real_pairs,
    rgb_tensor,
)
from restore.metrics import ause, calibration_error, interval_coverage, psnr

Z90 = 1.6448536  # the central 90 % interval of a Gaussian: mean +- Z90 standard deviations
FIT_SIGMAS = (5, 15, 25, 50)


def _predict(net, degraded: torch.Tensor, mask: torch.Tensor | None):
    """(restored, std) on the 0-1 scale, whole image, fp32; holes pre-filled as in training."""
    with torch.no_grad():
        return net.restore_with_uncertainty(degraded, mask)


def _noisy(clean: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    noisy = clean + sigma / 255.0 * torch.randn(clean.shape, generator=g)
    return (noisy.clamp(0, 1) * 255).round() / 255


def fit_scale(net, files: Sequence[Path], seed: int = 0) -> tuple[float, int]:
    """The factor on the predicted std that puts 90 % of the errors inside the 90 % interval, on
    ``files`` (white noise at several sigmas, camera-pipeline noise, half with holes); and the
    number of values it was fitted on."""
    from restore.corruption import CameraNoise, IrregularMasks
    from restore.io import read_image

    ratios = []
    for i, path in enumerate(files):
        clean = rgb_tensor(read_image(path))
        g = torch.Generator().manual_seed(seed + i)
        tasks = [_noisy(clean, s, seed + i) for s in FIT_SIGMAS]
        tasks.append(CameraNoise()(clean, generator=g).clamp(0, 1))
        for j, degraded in enumerate(tasks):
            mask = None
            if j % 2 == 1:
                mask = IrregularMasks("medium")(clean[:, :1], generator=g)
            restored, std = _predict(net, degraded, mask)
            keep = std > 0
            ratios.append(((clean - restored).abs()[keep] / std[keep]).flatten())
    values = torch.cat(ratios)
    step = max(1, values.numel() // 2_000_000)  # torch.quantile's size limit
    return float(torch.quantile(values[::step], 0.9)) / Z90, int(values.numel())


def evaluate(net, samples, pairs, sigmas, seed: int = 0) -> list[dict]:
    """One row per task: PSNR, 90 % coverage, calibration error, AUSE (means over images)."""
    rows = []
    tasks = [(f"gauss{s:g}", s, False) for s in sigmas]
    tasks += [(f"gauss{s:g} + medium holes", s, True) for s in sigmas]
    for name, sigma, holes in tasks:
        scores = []
        for i, sample in enumerate(samples):
            clean = rgb_tensor(sample.clean)
            mask = None
            if holes:
                mask = torch.from_numpy(hole_mask(sample, i, "medium", seed)).float()[None, None]
            restored, std = _predict(net, _noisy(clean, sigma, seed + i), mask)
            scores.append(_scores(restored, std, clean))
        rows.append(_row(name, len(samples), scores))
    for set_name, set_pairs in pairs.items():
        scores = [
            _scores(*_predict(net, rgb_tensor(p.noisy), None), rgb_tensor(p.clean))
            for p in set_pairs
        ]
        rows.append(_row(f"real {set_name}", len(set_pairs), scores))
    return rows


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
    parser.add_argument("--no-real", action="store_true", help="leave out CC15 and Nam25")
    parser.add_argument(
        "--calibrate",
        type=Path,
        metavar="OUT",
        help="fit the scale on the training photos' validation split, write OUT",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from restore.io.weights import export_weights

    net = load_model_with(args, "scale_head", "uncertainty head")
    if net is None:
        return 2
    if args.calibrate is not None:
        from restore.data import ImageFolderDataModule

        roots = [data_dir() / "train" / "CBSD432", data_dir() / "train" / "SunHays80"]
        module = ImageFolderDataModule(root=[str(r) for r in roots if r.is_dir()], cache=False)
        module.build_datasets()
        net.uncertainty_scale = 1.0
        scale, count = fit_scale(net, module.val_files, args.seed)
        net.uncertainty_scale = scale
        net.config["uncertainty_scale"] = scale
        export_weights(net, args.calibrate, dtype=torch.float16)
        print(
            f"scale {scale:.4f} fitted on {len(module.val_files)} validation photos "
            f"({count} values); wrote {args.calibrate}"
        )
    samples = load_images(args.images or data_dir() / "Kodak24", args.max_images)
    pairs = {}
    if not args.no_real:
        for name, (folder, noisy, clean) in REAL_SETS.items():
            pairs[name] = load_real_pairs(data_dir() / folder, noisy, clean, args.max_images)
    rows = evaluate(net, samples, pairs, args.sigmas, args.seed)
    print(f"uncertainty scale {net.uncertainty_scale:.4f}")
    print(
        "| task | images | PSNR | coverage of the 90 % interval | calibration error (10-90 %) "
        "| AUSE (RMSE) | AUSE of a random ordering |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['task']} | {r['images']} | {r['psnr']:.2f} | {r['coverage90']:.3f} | "
            f"{r['calibration_error']:.3f} | {r['ause']:.3f} | {r['ause_random']:.3f} |"
        )
    return 0
