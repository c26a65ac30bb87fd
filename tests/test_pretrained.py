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


def test_shipped_models_are_small_and_named():
    from restore.models.weights import shipped_weights
    from restore.shipped import SHIPPED_MODELS, SHIPPED_NOISE, shipped_file

    assert set(SHIPPED_MODELS) == {"photo", "photo-fast", "gaussian"}
    for name in SHIPPED_MODELS:
        assert shipped_weights(name).stat().st_size < 8e6
    assert all(shipped_file(file).is_file() for file in SHIPPED_NOISE.values())
    with pytest.raises(ValueError, match="choose from photo, photo-fast, gaussian"):
        Restorer.from_pretrained("nope")


@pytest.fixture(scope="module")
def gaussian() -> Restorer:
    return Restorer.from_pretrained("gaussian", device="cpu", precision="fp32")


def _camera_noisy(clean: np.ndarray, shot: float, seed: int = 0) -> np.ndarray:
    from restore.corruption import CameraNoise

    x = torch.from_numpy(clean).permute(2, 0, 1)[None].float() / 255
    y = CameraNoise(shot=shot)(x, generator=torch.Generator().manual_seed(seed))
    return (y[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def test_photo_model_removes_camera_noise_that_the_gaussian_model_leaves(shipped, gaussian, clean):
    # Measured at shot 5e-3: CBSD68 crop photo +1.1 dB, gaussian +0.04 dB; synthetic image +3.0
    # and -0.01 dB. Real camera noise is the point of the photo model, white noise of the other.
    noisy = _camera_noisy(clean, 5e-3)
    before = psnr(noisy, clean)
    photo_gain = psnr(shipped.denoise(noisy), clean) - before
    gaussian_gain = psnr(gaussian.denoise(noisy), clean) - before
    assert photo_gain > 0.7 and photo_gain > gaussian_gain + 0.6, (photo_gain, gaussian_gain)


def test_photo_model_cleans_real_camera_noise(shipped, shared_data):
    """Real pairs (CC15, first 4): blind restore gains 0.7-1.7 dB (mean 1.34) over the noisy
    photo; the gaussian model (v0.5) gains about 0.2 dB."""
    from restore.data import PairedImages

    pairs = PairedImages(shared_data / "real" / "CC15", "_real", "_mean", "cc15").pairs[:4]
    gains = [psnr(shipped.denoise(noisy), clean) - psnr(noisy, clean) for noisy, clean in pairs]
    assert np.mean(gains) > 1.0 and min(gains) > 0.4, gains


def test_restore_image_model_option_picks_the_shipped_model(gaussian, clean, tmp_path):
    from PIL import Image

    from restore.cli import main

    noisy = _noisy(clean[:64, :96], 25)
    (tmp_path / "in").mkdir()
    Image.fromarray(noisy).save(tmp_path / "in" / "a.png")
    for name in ("photo", "gaussian"):
        assert main([str(tmp_path / "in"), "-o", str(tmp_path / name), "--model", name]) == 0
    assert main([str(tmp_path / "in"), "-o", str(tmp_path / "default")]) == 0
    out = {name: read_image(tmp_path / name / "a.png") for name in ("photo", "gaussian", "default")}
    assert np.array_equal(out["default"], out["photo"])
    assert not np.array_equal(out["photo"], out["gaussian"])
    # The command line runs in bfloat16 on CPU, the fixture in float32.
    assert np.abs(out["gaussian"] * 255 - gaussian.denoise(noisy)).mean() < 1


@pytest.mark.parametrize("sigma,gain", [(15, 4.5), (25, 5.5), (50, 7.5)])
def test_denoising_gains_psnr_blind_and_with_known_sigma(shipped, clean, sigma, gain):
    # Measured on the CBSD68 crop (photo model): +5.3 / +7.0 / +9.3 dB blind, +5.2 / +6.8 / +9.2
    # told sigma (gaussian model: +5.4 / +7.0 / +9.3 and +5.5 / +7.0 / +9.3).
    noisy = _noisy(clean, sigma)
    before = psnr(noisy, clean)
    blind = psnr(shipped.denoise(noisy), clean)
    told = psnr(shipped.denoise(noisy, sigma=sigma), clean)
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


def test_inpainting_fills_holes_and_keeps_known_pixels(shipped, clean):
    holed, mask = _holes(clean)
    ours = shipped.inpaint(holed, mask)
    assert np.array_equal(ours[~mask], clean[~mask])
    assert psnr(ours, clean, mask) > psnr(holed, clean, mask) + 5.0


def test_inpainting_beats_opencv_telea_on_a_real_photo(shipped, clean, shared_data):
    # Photo model on the CBSD68 crop, hole PSNR against Telea: 16.9 vs 14.1 dB (seed 1),
    # 18.7 vs 17.3 (seed 2), 19.6 vs 18.5 (seed 3).
    holed, mask = _holes(clean)
    ours = shipped.inpaint(holed, mask)
    telea = cv2.inpaint(holed, mask.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
    assert psnr(ours, clean, mask) > psnr(telea, clean, mask) + 1.0


def test_unclipped_float_noise_is_used_not_clipped_away(shipped, clean, shared_data):
    """The float protocol of published tables: noise not clipped to [0, 1] carries information."""
    # CBSD68 crop at sigma 50: photo model 24.88 dB unclipped, 24.57 clipped first (gaussian
    # model: 24.84, 24.63).
    noisy = clean / 255.0 + np.random.default_rng(0).normal(0, 50 / 255, clean.shape)
    noisy = noisy.astype(np.float32)
    unclipped = psnr(shipped.denoise(noisy) * 255, clean)
    clipped = psnr(shipped.denoise(np.clip(noisy, 0, 1)) * 255, clean)
    assert unclipped > clipped + 0.08, (unclipped, clipped)


def test_samples_differ_inside_holes_only(shipped, clean):
    mask = np.zeros(clean.shape[:2], bool)
    mask[60:120, 80:180] = True
    holed = clean.copy()
    holed[mask] = 0
    a, b = shipped.sample(holed, mask, n=2, sigma=0, seed=0)
    assert np.array_equal(a[~mask], b[~mask])
    # Different latents give visibly different fills (about 18 grey levels apart on average).
    assert np.abs(a[mask].astype(int) - b[mask].astype(int)).mean() > 5


def test_photo_model_knows_how_sure_it_is(shipped, clean):
    """The uncertainty head: calibrated on held-out photos (MODEL_CARD.md); here the 90 % interval
    must cover most errors, the map must rank them better than chance, and holes must be less
    sure than known pixels."""
    from restore.metrics import ause, interval_coverage

    noisy = _noisy(clean, 25)
    x, target = (torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255 for a in (noisy, clean))
    restored, std = shipped.net.restore_with_uncertainty(x)
    coverage = float(interval_coverage(restored, std, target)[0])
    assert 0.75 < coverage < 0.98, coverage
    shuffled = torch.rand(std.shape, generator=torch.Generator().manual_seed(0))
    assert float(ause(restored, std, target)[0]) < float(ause(restored, shuffled, target)[0]) - 0.05
    holed, mask = _holes(clean)
    spread = shipped.uncertainty(holed, mask)
    assert spread.shape == mask.shape and spread[mask].mean() > 2 * spread[~mask].mean()


def test_photo_model_uncertainty_follows_the_noise_level(clean):
    """The calibration scales the head's map with the noise level the image shows (MODEL_CARD.md);
    with the one scale fitted before (0.628), the 90 % interval covered far more of the errors at
    sigma 5 than at sigma 50."""
    from restore.metrics import interval_coverage
    from restore.models.weights import load_net

    net = load_net(model="photo").float().eval()
    from restore.models.calibration import UncertaintyCalibration

    assert net.calibration.noise_exponent > 0
    gaps = []
    for calibration in (None, (0.628,)):
        if calibration is not None:
            net.calibration = UncertaintyCalibration(*calibration)
        coverage = []
        for sigma in (5, 50):
            x, target = (
                torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255
                for a in (_noisy(clean, sigma), clean)
            )
            coverage.append(float(interval_coverage(*net.restore_with_uncertainty(x), target)[0]))
        if calibration is None:
            assert all(0.72 < c < 0.97 for c in coverage), coverage
        gaps.append(coverage[0] - coverage[1])
    assert gaps[0] < 0.6 * gaps[1], gaps


@pytest.mark.slow
def test_photo_v2_on_every_real_pair_it_never_trained_on(shipped, shared_data):
    """Issue #21's real-noise figures, blind, as MODEL_CARD.md reports them (CC15 36.11, Nam25
    40.58, RENOIR-val 41.31 dB): CC15 is a test set, so this holds the measured level, below the
    issue's 37.0 target (missed, see the model card); the low-light pairs, where v1.4 scored
    38.47, stay at least 1 dB above tuned NL-means (40.06)."""
    from restore.bench.protocol import REAL_SETS, load_real_pairs

    def mean_psnr(name: str) -> float:
        pairs = load_real_pairs(shared_data, REAL_SETS[name])
        return float(np.mean([psnr(shipped.denoise(p.noisy), p.clean) for p in pairs]))

    assert mean_psnr("CC15") > 36.0
    assert mean_psnr("RENOIR-val") > 41.06


def test_the_estimator_reads_strong_low_light_noise(shipped, shared_data):
    """The level the model reads on the low-light RENOIR pairs is close to their true RMS (v1.4
    read too little there and left the noise); on a clean photo it reads little."""
    from restore.bench.protocol import REAL_SETS, load_real_pairs

    pairs = load_real_pairs(shared_data, REAL_SETS["RENOIR-val"])
    ratios = [float(np.mean(shipped.estimate_noise(p.noisy))) / p.sigma for p in pairs]
    assert 0.8 < np.mean(ratios) < 1.25, ratios
    clean = pairs[0].clean
    assert float(np.mean(shipped.estimate_noise(clean))) < 0.5 * pairs[0].sigma


@pytest.fixture(scope="module")
def fast() -> Restorer:
    return Restorer.from_pretrained("photo-fast", device="cpu", precision="fp32")


def test_photo_fast_is_the_photo_model_narrower_with_every_head(fast, shipped):
    from restore.models.heads import HEADS, has_head

    small, big = fast.net.config, shipped.net.config
    assert all(a < b for a, b in zip(small["widths"], big["widths"], strict=True))
    for key in ("image_channels", "blocks", "latent_channels", "unshuffle", "hole_fill"):
        assert small[key] == big[key], key
    assert all(has_head(fast.net, head) for head in HEADS)
    count = [sum(p.numel() for p in r.net.parameters()) for r in (fast, shipped)]
    assert count[0] < 0.6 * count[1], count


def test_photo_fast_restores_close_to_photo(fast, shipped, clean):
    """Measured blind at sigma 25: on the CBSD68 crop photo-fast gains 6.83 dB, photo 6.99; on
    the synthetic image 11.12 and 11.43. The holes: +8.65 / +8.50 and +15.34 / +15.10."""
    noisy = _noisy(clean, 25)
    before = psnr(noisy, clean)
    gains = [psnr(r.denoise(noisy), clean) - before for r in (fast, shipped)]
    assert gains[0] > 6.0 and gains[0] > gains[1] - 0.8, gains
    holed, mask = _holes(clean)
    ours = fast.inpaint(holed, mask)
    assert np.array_equal(ours[~mask], clean[~mask])
    assert psnr(ours, clean, mask) > psnr(holed, clean, mask) + 5.0
