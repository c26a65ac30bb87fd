"""Post-hoc calibration of a model's heads on held-out photos (the validation split of the
training photos, never a test set): :func:`fit_calibration` scales the uncertainty head's
predicted error so that 90 % of the errors fall inside the central 90 % interval;
:func:`fit_damage_threshold` picks the damage head's threshold that repairs best.
``restore-calibrate`` (:mod:`restore.calibrate`) runs them on the split of a training config and
writes the weights."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import torch

from restore.geometry import centre_crop
from restore.models.calibration import UncertaintyCalibration, local_gradient

Z90 = 1.6448536  # the central 90 % interval of a Gaussian: mean +- Z90 standard deviations
FIT_SIGMAS = (5, 15, 25, 50)
EXPONENTS = tuple(round(0.05 * k, 2) for k in range(21))  # the noise exponents tried
GRADIENT_SCALES = (0.0, *(round(0.05 * 2 ** (k / 2), 4) for k in range(12)))  # 0.05-2.3
DAMAGE_THRESHOLDS = tuple(round(0.5 + 0.05 * k, 2) for k in range(10))  # 0.5-0.95


def _predict(net, degraded: torch.Tensor, mask: torch.Tensor | None):
    """(restored, std) on the 0-1 scale, whole image, fp32; holes pre-filled as in training."""
    with torch.no_grad():
        return net.restore_with_uncertainty(degraded, mask)


def white_noisy(clean: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    """``clean`` (0-1) with white Gaussian noise of ``sigma`` grey levels (0-255 scale) drawn from
    ``seed``, clipped and rounded to 8 bits."""
    g = torch.Generator().manual_seed(seed)
    noisy = clean + sigma / 255.0 * torch.randn(clean.shape, generator=g)
    return (noisy.clamp(0, 1) * 255).round() / 255


def fit_calibration(
    net,
    files: Sequence[Path],
    seed: int = 0,
    pairs: Mapping[str, Sequence[tuple[torch.Tensor, torch.Tensor]]] | None = None,
    crop: int | None = None,
) -> tuple[UncertaintyCalibration, int]:
    """Fit the :class:`restore.models.calibration.UncertaintyCalibration` of ``net`` so that 90 %
    of the errors fall inside the 90 % interval: the noise exponent and gradient scale that bring
    the tasks' coverage on the known pixels closest to 0.9 (the largest miss smallest, over a
    grid), the scale that gives 0.9 on all known pixels with them, and the scale that gives 0.9
    inside the holes. ``net`` keeps the identity calibration after.

    Args:
        net: a network with an uncertainty head.
        files: clean photos; the tasks are white noise at several sigmas and camera-pipeline
            noise, each without and with holes.
        seed: seed of those corruptions.
        pairs: real noise, by set name: ``(noisy, clean)`` ``(1, C, H, W)`` 0-1 tensors, one task
            per set (validation pairs only, never a test set).
        crop: fit on the centre ``crop`` x ``crop`` pixels of each photo (None: whole photos).

    Returns the calibration and the number of values it was fitted on."""
    from restore.corruption import CameraNoise, IrregularMasks
    from restore.io.images import read_image
    from restore.models.noise_level import residual_level

    net.calibration = UncertaintyCalibration()  # the head's own map
    known: dict[str, list[_Known]] = {}  # task -> the known values of each image
    holes = []  # |error| / std inside the holes
    g_sub = torch.Generator().manual_seed(seed)

    def take(task: str, clean, degraded, mask) -> None:
        restored, std = _predict(net, degraded, mask)
        hole = torch.zeros_like(std, dtype=torch.bool)
        if mask is not None:
            hole = mask.expand_as(std) > 0
        error = (clean - restored).abs()
        holes.append(_subsample((error / std)[hole], g_sub))
        pick = _subsample((~hole).flatten().nonzero().squeeze(1), g_sub)
        gradient = local_gradient(restored).expand_as(std)
        values = [t.flatten()[pick] for t in (error, std, gradient)]
        level = float(residual_level(degraded, restored, mask))
        known.setdefault(task, []).append(_Known(*values, level))

    for i, path in enumerate(files):
        clean = torch.from_numpy(read_image(path)).permute(2, 0, 1)[None].float()
        clean = centre_crop(clean, crop)
        g = torch.Generator().manual_seed(seed + i)
        tasks = [white_noisy(clean, s, seed + i) for s in FIT_SIGMAS]
        tasks.append(CameraNoise()(clean, generator=g).clamp(0, 1))
        mask = IrregularMasks("medium")(clean[:, :1], generator=g)
        for j, degraded in enumerate(tasks):
            take(f"synthetic {j}", clean, degraded, None)
            take(f"synthetic {j} holes", clean, degraded, mask)
    for name, set_pairs in (pairs or {}).items():
        for noisy, clean in set_pairs:
            take(f"real {name}", clean, noisy, None)
    count = sum(k.error.numel() for v in known.values() for k in v)
    count += sum(h.numel() for h in holes)

    def fit(exponent: float, gradient_scale: float) -> tuple[float, float]:
        """(largest miss, scale): each value's least squared scale that covers it, per task."""
        needs = {
            task: torch.cat(
                [
                    ((k.error / Z90) ** 2 - (gradient_scale * k.gradient) ** 2).clamp_min(0)
                    / (k.std * (k.level / 10.0) ** exponent) ** 2
                    for k in values
                ]
            )
            for task, values in known.items()
        }
        scale_sq = _quantile90(torch.cat(list(needs.values())))
        if scale_sq <= 0:  # the gradient alone covers 90 %: too wide where it is high
            return math.inf, 0.0
        miss = max(abs(float((q <= scale_sq).float().mean()) - 0.9) for q in needs.values())
        return miss, math.sqrt(scale_sq)

    grid = [(e, c) for c in GRADIENT_SCALES for e in EXPONENTS]
    fits = [fit(e, c) for e, c in grid]
    best = min(range(len(grid)), key=lambda i: fits[i][0])
    (exponent, gradient_scale), scale = grid[best], fits[best][1]
    hole_scale = _quantile90(torch.cat(holes)) / Z90
    return UncertaintyCalibration(scale, exponent, hole_scale, gradient_scale), count


def fit_damage_threshold(
    restorer, files: Sequence[Path], seed: int = 0, crop: int = 512
) -> tuple[float, dict[float, float]]:
    """The threshold of :data:`DAMAGE_THRESHOLDS` at which ``restorer.repair`` (a
    :class:`restore.restorer.Restorer`'s, its other settings at their defaults) restores damaged
    validation photos best. Each photo (its centre ``crop`` x ``crop`` pixels at most) gets the
    training routine's damage (:func:`restore.corruption.damaged_photo`, ``mixed``: the kinds a
    repair fills, seed ``seed + i``), and the repair's PSNR against the undamaged photo (0-255
    scale, whole photo) is averaged over the photos at each threshold: too low a threshold
    repaints undamaged pixels (the fill of texture and edges costs more than a faint scratch), too
    high a one leaves damage. Returns the best threshold and the mean PSNR at each."""
    from restore.corruption import damaged_photo
    from restore.io.images import read_image
    from restore.metrics import psnr

    channels = restorer.net.image_channels
    totals, count = dict.fromkeys(DAMAGE_THRESHOLDS, 0.0), 0
    for i, path in enumerate(files):
        image = torch.from_numpy(read_image(path, channels)).permute(2, 0, 1)
        clean = (centre_crop(image, crop) * 255.0).round().byte().permute(1, 2, 0).numpy()
        damaged, mask = damaged_photo(clean, "mixed", seed + i)
        if not mask.any():  # nothing drawn (a tiny photo): its PSNR could be infinite
            continue
        count += 1
        probability = restorer.detect_damage(damaged)
        truth = torch.from_numpy(clean).permute(2, 0, 1)[None].float()
        for threshold in DAMAGE_THRESHOLDS:
            repaired, _ = restorer.repair(damaged, threshold=threshold, probability=probability)
            result = torch.from_numpy(repaired).permute(2, 0, 1)[None].float()
            totals[threshold] += float(psnr(result, truth, 255.0)[0])
    if not count:
        raise ValueError("no damage could be drawn on the validation photos (too small)")
    scores = {threshold: total / count for threshold, total in totals.items()}
    return max(scores, key=scores.get), scores


class _Known(NamedTuple):
    """One image's known values of a task (flat tensors) and the noise level it shows."""

    error: torch.Tensor
    std: torch.Tensor
    gradient: torch.Tensor
    level: float


def _subsample(values: torch.Tensor, generator: torch.Generator, size: int = 20_000):
    """At most ``size`` of ``values``, drawn at random (keeps the fit's memory bounded)."""
    if values.numel() <= size:
        return values
    return values[torch.randperm(values.numel(), generator=generator)[:size]]


def _quantile90(values: torch.Tensor) -> float:
    step = max(1, values.numel() // 2_000_000)  # torch.quantile's size limit
    return float(torch.quantile(values[::step], 0.9))
