"""Post-hoc calibration of the uncertainty head: scale its predicted error so that 90 % of the
errors fall inside the central 90 % interval, on held-out photos (the validation split of the
training photos, never a test set). :func:`fit_calibration` fits it; ``restore-calibrate``
(:mod:`restore.calibrate`) runs it on the split of a training config and writes the weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from restore.models.calibration import UncertaintyCalibration

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


def fit_calibration(
    net,
    files: Sequence[Path],
    seed: int = 0,
    pairs: Mapping[str, Sequence[tuple[torch.Tensor, torch.Tensor]]] | None = None,
    crop: int | None = None,
) -> tuple[float, float, float, int]:
    """Fit the :class:`restore.models.calibration.UncertaintyCalibration` of ``net`` so that 90 %
    of the errors fall inside the 90 % interval: the noise exponent that brings the tasks'
    coverage on the known pixels closest to 0.9 (the largest miss smallest, over a grid), the
    scale that gives 0.9 on all known pixels with it, and the scale that gives 0.9 inside the
    holes. ``net`` keeps the identity calibration after.

    Args:
        net: a network with an uncertainty head.
        files: clean photos; the tasks are white noise at several sigmas and camera-pipeline
            noise, each without and with holes.
        seed: seed of those corruptions.
        pairs: real noise, by set name: ``(noisy, clean)`` ``(1, C, H, W)`` 0-1 tensors, one task
            per set (validation pairs only, never a test set).
        crop: fit on the centre ``crop`` x ``crop`` pixels of each photo (None: whole photos).

    Returns ``(scale, noise_exponent, hole_scale, number of values)``."""
    from restore.corruption import CameraNoise, IrregularMasks
    from restore.io.images import read_image
    from restore.models.noise_level import residual_level

    net.calibration = UncertaintyCalibration()  # the head's own map
    known: dict[str, list[tuple[torch.Tensor, float]]] = {}  # task -> (|err| / std, level)
    holes = []
    g_sub = torch.Generator().manual_seed(seed)
    for i, path in enumerate(files):
        clean = torch.from_numpy(read_image(path)).permute(2, 0, 1)[None].float()
        if crop is not None:
            top, left = (max(0, s - crop) // 2 for s in clean.shape[-2:])
            clean = clean[..., top : top + crop, left : left + crop]
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
                task = f"synthetic {j}" + (" holes" if k else "")
                known.setdefault(task, []).append((_subsample(ratio[~hole], g_sub), level))
    for name, set_pairs in (pairs or {}).items():
        for noisy, clean in set_pairs:
            restored, std = _predict(net, noisy, None)
            ratio = ((clean - restored).abs() / std).flatten()
            level = float(residual_level(noisy, restored, None))
            known.setdefault(f"real {name}", []).append((_subsample(ratio, g_sub), level))
    count = sum(r.numel() for v in known.values() for r, _ in v) + sum(h.numel() for h in holes)

    def calibrated(exponent: float) -> dict[str, torch.Tensor]:
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
