"""The default model shipped in the package: loads offline and really restores."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from restore import Restorer
from restore.bench.protocol import psnr
from restore.corruption import GaussianNoise, IrregularMasks, corrupt
from restore.data import synthetic_image
from restore.io import read_image

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def restorer() -> Restorer:
    return Restorer.from_pretrained(device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    """A 192x256 uint8 test image: a real photo crop when ../shared/data is there, else
    synthetic."""
    from conftest import SHARED_DATA

    photo = SHARED_DATA / "CBSD68" / "101085.png"
    image = (
        read_image(photo)[:192, :256] if photo.is_file() else synthetic_image(5, (192, 256), seed=3)
    )
    return (image * 255 + 0.5).astype(np.uint8)


def _noisy(clean: np.ndarray, sigma: float) -> np.ndarray:
    x = torch.from_numpy(clean).permute(2, 0, 1)[None].float() / 255
    y = corrupt(x, [GaussianNoise(sigma)], generator=torch.Generator().manual_seed(0)).degraded
    return (y[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def test_shipped_weights_are_small():
    from importlib import resources

    assert (resources.files("restore") / "weights" / "default.pt").stat().st_size < 8e6


@pytest.mark.parametrize("sigma,gain", [(15, 4.5), (25, 5.5), (50, 7.5)])
def test_denoising_gains_psnr_blind_and_with_known_sigma(restorer, clean, sigma, gain):
    # Measured on the CBSD68 crop (v0.5 weights): +5.4 / +7.0 / +9.3 dB blind, +5.5 / +7.0 / +9.3
    # told sigma (synthetic image, blind: +8.8 / +11.7 / +14.9).
    noisy = _noisy(clean, sigma)
    before = psnr(noisy, clean)
    blind = psnr(restorer.denoise(noisy), clean)
    told = psnr(restorer.denoise(noisy, sigma=sigma), clean)
    assert blind > before + gain, (before, blind)
    assert told > before + gain, (before, told)


def _holes(clean: np.ndarray, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    x = torch.from_numpy(clean).permute(2, 0, 1)[None].float() / 255
    mask = (
        IrregularMasks("medium")(x, generator=torch.Generator().manual_seed(seed))[0, 0].numpy() > 0
    )
    holed = clean.copy()
    holed[mask] = 0
    return holed, mask


def test_inpainting_fills_holes_and_keeps_known_pixels(restorer, clean):
    holed, mask = _holes(clean)
    ours = restorer.inpaint(holed, mask)
    assert np.array_equal(ours[~mask], clean[~mask])
    assert psnr(ours, clean, mask) > psnr(holed, clean, mask) + 5.0


def test_inpainting_beats_opencv_telea_on_a_real_photo(restorer, clean, shared_data):
    # v0.5 weights on the CBSD68 crop, hole PSNR against Telea: 16.6 vs 14.1 dB (seed 1),
    # 18.8 vs 17.3 (seed 2), 19.4 vs 18.5 (seed 3).
    holed, mask = _holes(clean)
    ours = restorer.inpaint(holed, mask)
    telea = cv2.inpaint(holed, mask.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
    assert psnr(ours, clean, mask) > psnr(telea, clean, mask) + 1.0


def test_unclipped_float_noise_is_used_not_clipped_away(restorer, clean, shared_data):
    """The float protocol of published tables: noise not clipped to [0, 1] carries information."""
    # CBSD68 crop at sigma 50: v0.5 24.84 dB unclipped, 24.63 clipped first (v0.4: 24.60, 24.44).
    noisy = clean / 255.0 + np.random.default_rng(0).normal(0, 50 / 255, clean.shape)
    noisy = noisy.astype(np.float32)
    unclipped = psnr(restorer.denoise(noisy) * 255, clean)
    clipped = psnr(restorer.denoise(np.clip(noisy, 0, 1)) * 255, clean)
    assert unclipped > clipped + 0.08, (unclipped, clipped)


def test_samples_differ_inside_holes_only(restorer, clean):
    mask = np.zeros(clean.shape[:2], bool)
    mask[60:120, 80:180] = True
    holed = clean.copy()
    holed[mask] = 0
    a, b = restorer.sample(holed, mask, n=2, seed=0)
    assert np.array_equal(a[~mask], b[~mask])
    # Different latents give visibly different fills (about 28 grey levels apart on average).
    assert np.abs(a[mask].astype(int) - b[mask].astype(int)).mean() > 5
