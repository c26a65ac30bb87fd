"""``restore-bench uncertainty``: how well the predicted per-pixel uncertainty matches the errors,
and its calibration.

    restore-bench uncertainty                       # Kodak24 and the real pairs, shipped model
    restore-bench uncertainty --weights run/export/model.pt --calibrate calibrated.pt

Tasks: white Gaussian noise (sigma 15 / 25 / 50, rounded and clipped to 8 bits, as in a photo)
with and without LaMa ``medium`` holes on ``--images`` (default ``Kodak24``), and the real pairs of
CC15 and Nam25, blind. Per task, over the images: PSNR, the coverage of the central 90 % interval
(target 0.88-0.92), the calibration error over the 10-90 % intervals and the AUSE
(:mod:`restore.metrics`), from the model's ``restore_with_uncertainty``, per pixel and channel.

``--calibrate OUT`` first fits the post-hoc calibration (:func:`fit_calibration`: on the known
pixels a factor that follows the image's measured noise level, inside holes a factor of their
own, so that 90 % of the errors fall inside the 90 % interval) on the validation split of the
training photos (``train/CBSD432`` and ``train/SunHays80``, the split training uses), with the
same kinds of noise and camera-pipeline noise, and writes the weights with the calibration stored
in them to ``OUT``; the evaluation then uses it.
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


def fit_calibration(net, files: Sequence[Path], seed: int = 0) -> tuple[float, float, float, int]:
    """Fit :meth:`RestorationVAE.calibrate_uncertainty` on ``files`` (white noise at several
    sigmas and camera-pipeline noise, each without and with holes) so that 90 % of the errors fall
    inside the 90 % interval: the noise exponent that brings the tasks' coverage on the known
    pixels closest to 0.9 (the largest miss smallest, over a grid), the scale that gives 0.9 on
    all known pixels with it, and the scale that gives 0.9 inside the holes. Returns ``(scale,
    noise_exponent, hole_scale, number of values)``."""
    from restore.corruption import CameraNoise, IrregularMasks
    from restore.io import read_image
    from restore.models.vae import residual_level

    net.calibrate_uncertainty(1.0)
    known: dict[int, list[tuple[torch.Tensor, float]]] = {}  # task -> (|err| / std, level)
    holes = []
    g_sub = torch.Generator().manual_seed(seed)
    for i, path in enumerate(files):
        clean = rgb_tensor(read_image(path))
        g = torch.Generator().manual_seed(seed + i)
        tasks = [_noisy(clean, s, seed + i) for s in FIT_SIGMAS]
        tasks.append(CameraNoise()(clean, generator=g).clamp(0, 1))
        mask = IrregularMasks("medium")(clean[:, :1], generator=g)
        for j, degraded in enumerate(tasks):
            for k, task_mask in enumerate((None, mask)):
                restored, std = _predict(net, degraded, task_mask)
                ratio = ((clean - restored).abs() / std).flatten()
                hole = torch.zeros_like(ratio, dtype=torch.bool)
                if task_mask is not None:
                    hole = (task_mask.expand_as(std) > 0).flatten()
                    holes.append(_subsample(ratio[hole], g_sub))
                level = float(residual_level(degraded, restored, task_mask))
                known.setdefault(2 * j + k, []).append((_subsample(ratio[~hole], g_sub), level))
    count = sum(r.numel() for v in known.values() for r, _ in v) + sum(h.numel() for h in holes)

    def calibrated(exponent: float) -> dict[int, torch.Tensor]:
        return {
            t: torch.cat([r / (lv / 10.0) ** exponent for r, lv in v]) for t, v in known.items()
        }

    def miss(exponent: float) -> float:
        ratios = calibrated(exponent)
        scale = _quantile90(torch.cat(list(ratios.values()))) / Z90
        return max(abs(float((r <= Z90 * scale).float().mean()) - 0.9) for r in ratios.values())

    exponent = min((round(0.05 * k, 2) for k in range(21)), key=miss)
    scale = _quantile90(torch.cat(list(calibrated(exponent).values()))) / Z90
    hole_scale = _quantile90(torch.cat(holes)) / Z90
    return scale, float(exponent), hole_scale, count


def _subsample(values: torch.Tensor, generator: torch.Generator, size: int = 100_000):
    """At most ``size`` of ``values``, drawn at random (keeps the fit's memory bounded)."""
    if values.numel() <= size:
        return values
    return values[torch.randperm(values.numel(), generator=generator)[:size]]


def _quantile90(values: torch.Tensor) -> float:
    step = max(1, values.numel() // 2_000_000)  # torch.quantile's size limit
    return float(torch.quantile(values[::step], 0.9))


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

    from restore.models.weights import export_weights

    net = load_model_with(args, "scale_head", "uncertainty head")
    if net is None:
        return 2
    if args.calibrate is not None:
        from restore.data import ImageFolderDataModule

        roots = [data_dir() / "train" / "CBSD432", data_dir() / "train" / "SunHays80"]
        module = ImageFolderDataModule(root=[str(r) for r in roots if r.is_dir()], cache=False)
        module.build_datasets()
        scale, exponent, hole_scale, count = fit_calibration(net, module.val_files, args.seed)
        net.calibrate_uncertainty(scale, exponent, hole_scale)
        export_weights(net, args.calibrate, dtype=torch.float16)
        print(
            f"scale {scale:.4f}, noise exponent {exponent:.2f}, hole scale {hole_scale:.4f}"
            f" fitted on {len(module.val_files)} validation photos ({count} values); wrote"
            f" {args.calibrate}"
        )
    samples = load_images(args.images or data_dir() / "Kodak24", args.max_images)
    pairs = {}
    if not args.no_real:
        for name, spec in REAL_SETS.items():
            pairs[name] = load_real_pairs(data_dir(), spec, args.max_images)
    rows = evaluate(net, samples, pairs, args.sigmas, args.seed)
    print(
        f"uncertainty scale {net.uncertainty_scale:.4f}, noise exponent"
        f" {net.uncertainty_noise_exponent:.2f}, hole scale {net.uncertainty_hole_scale:.4f}"
    )
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
