"""Quality guards: the shipped model against trivial baselines on a small real photo
(tests/data/astronaut_crop.png), so that a method that does nothing useful cannot pass. Margins
are set below what the shipped models reach (MODEL_CARD.md) and far above what the baselines
reach."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from restore.bench.protocol import psnr
from restore.corruption import Damage, Dust, IrregularMasks, Scratches
from restore.metrics import damage_average_precision
from restore.models.fill import harmonic_fill

CROP = Path(__file__).parent / "data" / "astronaut_crop.png"


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return np.asarray(Image.open(CROP).convert("RGB")).copy()


def _noisy(clean: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, clean.shape)
    return np.clip(np.round(clean + noise), 0, 255).astype(np.uint8)


def best_blur(noisy: np.ndarray, clean: np.ndarray) -> float:
    """A Gaussian blur with its width tuned on the clean image itself: the trivial denoiser."""
    widths = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
    return max(psnr(cv2.GaussianBlur(noisy, (0, 0), s), clean) for s in widths)


@pytest.mark.parametrize("sigma", [15, 25, 50])
def test_denoising_beats_a_tuned_blur_by_2_db(shipped, clean, sigma):
    noisy = _noisy(clean, sigma)
    baseline = best_blur(noisy, clean)
    assert baseline > psnr(noisy, clean) + 3  # the baseline itself is no straw man
    assert psnr(shipped.denoise(noisy), clean) > baseline + 2.0


def test_inpainting_beats_the_harmonic_fill_it_starts_from(shipped, clean):
    x = torch.from_numpy(clean).permute(2, 0, 1)[None].float() / 255
    holes = IrregularMasks("medium")(x[:, :1], generator=torch.Generator().manual_seed(0))
    mask = holes[0, 0].numpy() > 0.5
    filled = harmonic_fill(x, holes)[0].permute(1, 2, 0).numpy()
    baseline = psnr(np.round(filled * 255).clip(0, 255), clean, mask)
    masked = clean.copy()
    masked[mask] = 0
    assert psnr(shipped.inpaint(masked, mask), clean, mask) > baseline + 0.5


def test_the_damage_head_finds_scratches_and_dust(shipped, clean):
    x = torch.from_numpy(clean).permute(2, 0, 1)[None].float() / 255
    damage = Damage(kinds=[Scratches(), Dust()], reference_size=192)
    damaged, truth = damage(x, generator=torch.Generator().manual_seed(1))
    image = np.round(damaged[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    found = torch.from_numpy(shipped.detect_damage(image))[None, None]
    share = float(truth.mean())
    assert float(damage_average_precision(found, truth)) > max(0.35, 3 * share)


def test_the_uncertainty_map_covers_the_errors(shipped, clean):
    noisy = _noisy(clean, 25, seed=1)
    std = shipped.uncertainty(noisy)
    error = np.sqrt(((shipped.denoise(noisy).astype(np.float64) - clean) ** 2).mean(-1))
    coverage = float((error <= 1.645 * std).mean())
    assert 0.75 < coverage < 0.97, coverage
    far = error > np.percentile(error, 90)  # the worst pixels get wider intervals than the rest
    assert std[far].mean() > std[~far].mean()
