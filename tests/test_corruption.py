"""Synthetic corruptions: measured noise statistics, mask geometry, mask files, composition,
reproducibility from a seed, dtype/device handling and argument checking."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from restore.corruption import (
    BrushStrokeMasks,
    CameraNoise,
    CameraParams,
    CorrelatedNoise,
    Corruption,
    CorruptionResult,
    GaussianBlur,
    GaussianNoise,
    IrregularMasks,
    JPEGCompression,
    MaskSampler,
    MixtureMasks,
    PoissonGaussianNoise,
    RandomChoice,
    RectangleMasks,
    SaltAndPepperNoise,
    SpeckleNoise,
    apply_mask,
    camera_noise,
    correlated_noise,
    corrupt,
    gaussian_blur,
    gaussian_noise,
    jpeg_compression,
    poisson_gaussian_noise,
    salt_and_pepper_noise,
    speckle_noise,
)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def grey(shape, value: float = 0.5, dtype=torch.float32) -> torch.Tensor:
    return torch.full(shape, value, dtype=dtype)


def textured(b: int = 2, c: int = 3, h: int = 64, w: int = 64, seed: int = 0) -> torch.Tensor:
    """Smooth sinusoidal texture plus mild noise: JPEG keeps it at high quality, loses it at low."""
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    base = 0.5 + 0.2 * torch.sin(xx / 3.0) * torch.cos(yy / 5.0) + 0.1 * torch.sin((xx + yy) / 2.0)
    # The noise is shared by the channels (luma detail): 4:2:0 chroma subsampling would wipe out
    # independent per-channel noise at every quality.
    img = base.expand(b, c, h, w) + 0.05 * torch.randn(b, 1, h, w, generator=gen(seed))
    tint = torch.linspace(-0.05, 0.05, c).view(1, c, 1, 1) if c > 1 else 0.0
    return (img + tint).clamp(0, 1)


# --------------------------------------------------------------------------------------------------
# Gaussian noise
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [5.0, 25.0, 50.0])
def test_gaussian_noise_std_and_mean_match_sigma_on_the_255_scale(sigma):
    x = grey((4, 3, 256, 256))
    d = gaussian_noise(x, sigma, gen(1), clip=False) - x
    target = sigma / 255.0
    assert abs(d.std().item() / target - 1.0) < 0.03
    assert abs(d.mean().item()) < 0.01 * target
    # The module with a fixed sigma measures the same.
    d_mod = GaussianNoise(sigma, clip=False)(x, gen(2)) - x
    assert abs(d_mod.std().item() / target - 1.0) < 0.03


def test_gaussian_noise_clip_keeps_range_and_unclipped_leaves_it():
    x = grey((2, 3, 64, 64))
    noisy = gaussian_noise(x, 200.0, gen(0), clip=False)
    assert noisy.min() < 0 and noisy.max() > 1
    clipped = gaussian_noise(x, 200.0, gen(0))
    assert clipped.min() >= 0 and clipped.max() <= 1
    torch.testing.assert_close(clipped, noisy.clamp(0, 1))


def test_gaussian_noise_per_image_sigma_from_range_and_tensor():
    x = grey((12, 3, 96, 96))
    low, high = 10.0, 40.0
    d = GaussianNoise((low, high), clip=False)(x, gen(3)) - x
    per_image = d.flatten(1).std(dim=1) * 255.0
    assert (per_image > low * 0.99).all() and (per_image < high * 1.01).all()
    assert per_image.max() - per_image.min() > 10.0  # drawn per image, not one value for the batch

    sigmas = torch.tensor([2.0, 20.0, 60.0])
    d = gaussian_noise(grey((3, 3, 128, 128)), sigmas, gen(4), clip=False) - 0.5
    measured = d.flatten(1).std(dim=1) * 255.0
    torch.testing.assert_close(measured, sigmas, rtol=0.03, atol=0.0)


# --------------------------------------------------------------------------------------------------
# Poisson-Gaussian, salt-and-pepper, speckle
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gain,read_sigma", [(0.01, 5.0), (0.002, 10.0), (0.05, 0.0)])
def test_poisson_gaussian_variance_is_gain_times_signal_plus_read_variance(gain, read_sigma):
    levels = torch.tensor([0.1, 0.4, 0.8])
    x = levels.view(3, 1, 1, 1).expand(3, 1, 256, 256).contiguous()
    d = poisson_gaussian_noise(x, gain, read_sigma, gen(5), clip=False) - x
    var = d.flatten(1).var(dim=1)
    expected = gain * levels + (read_sigma / 255.0) ** 2
    torch.testing.assert_close(var, expected, rtol=0.05, atol=0.0)
    assert (var[1:] > var[:-1]).all()  # grows with the signal
    # Unbiased: the mean of y - x is ~0 at every level (tolerance: 6 standard errors).
    assert (d.flatten(1).mean(dim=1).abs() < 6 * (expected / d[0].numel()).sqrt()).all()


def test_poisson_gaussian_zero_gain_gives_only_read_noise():
    levels = torch.tensor([0.1, 0.4, 0.8])
    x = levels.view(3, 1, 1, 1).expand(3, 1, 256, 256).contiguous()
    d = poisson_gaussian_noise(x, 0.0, 10.0, gen(6), clip=False) - x
    std = d.flatten(1).std(dim=1)
    torch.testing.assert_close(std, torch.full((3,), 10.0 / 255.0), rtol=0.03, atol=0.0)
    assert torch.equal(poisson_gaussian_noise(x, 0.0, 0.0, gen(6), clip=False), x)
    # Module form with the same settings.
    d_mod = PoissonGaussianNoise(gain=0.0, read_sigma=10.0, clip=False)(x, gen(7)) - x
    torch.testing.assert_close(d_mod.flatten(1).std(dim=1), std, rtol=0.03, atol=0.0)


@pytest.mark.parametrize("amount,salt_ratio", [(0.1, 0.5), (0.3, 0.25), (0.05, 1.0)])
def test_salt_and_pepper_hits_amount_of_locations_with_all_channels_set(amount, salt_ratio):
    x = 0.05 + 0.9 * torch.rand(2, 3, 256, 256, generator=gen(8))
    y = salt_and_pepper_noise(x, amount, salt_ratio, gen(9))
    changed = (y != x).any(dim=1)  # (B, H, W)
    frac = changed.float().mean().item()
    assert abs(frac - amount) < 0.01
    hits = y.permute(0, 2, 3, 1)[changed]  # (N, C): every hit pixel
    white = (hits == 1).all(dim=1)
    black = (hits == 0).all(dim=1)
    assert (white | black).all()  # all channels set together, to exactly 0 or 1
    assert abs(white.float().mean().item() - salt_ratio) < 0.02
    assert torch.equal(y.permute(0, 2, 3, 1)[~changed], x.permute(0, 2, 3, 1)[~changed])


def test_salt_and_pepper_module_amount_range_per_image():
    x = grey((8, 3, 128, 128))
    y = SaltAndPepperNoise(amount=(0.02, 0.3))(x, gen(10))
    frac = (y != x).any(dim=1).flatten(1).float().mean(dim=1)
    assert (frac > 0.02 - 0.005).all() and (frac < 0.3 + 0.005).all()
    assert frac.max() - frac.min() > 0.05


def test_speckle_std_is_proportional_to_signal():
    sigma = 0.2
    levels = torch.tensor([0.2, 0.6])
    x = levels.view(2, 1, 1, 1).expand(2, 3, 256, 256).contiguous()
    d = speckle_noise(x, sigma, gen(11), clip=False) - x
    std = d.flatten(1).std(dim=1)
    torch.testing.assert_close(std, sigma * levels, rtol=0.03, atol=0.0)
    assert abs((std[1] / std[0]).item() - 3.0) < 0.1
    black = torch.zeros(1, 3, 8, 8)
    assert torch.equal(speckle_noise(black, sigma, gen(11)), black)
    d_mod = SpeckleNoise(sigma, clip=False)(x, gen(12)) - x
    torch.testing.assert_close(d_mod.flatten(1).std(dim=1), sigma * levels, rtol=0.03, atol=0.0)


# --------------------------------------------------------------------------------------------------
# JPEG and blur
# --------------------------------------------------------------------------------------------------


def test_jpeg_error_grows_as_quality_drops():
    x = textured()
    errors = [(jpeg_compression(x, q) - x).abs().mean().item() for q in (10, 50, 95)]
    assert errors[2] > 1e-3  # even at high quality the codec changes the image
    assert errors[0] > errors[1] > errors[2]
    assert errors[0] > 3 * errors[2]
    # Same size of error as OpenCV's libjpeg at the same quality.
    for q in (10, 50, 95):
        rgb = (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        ref = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255
        ref_err = np.abs(ref - x[0].permute(1, 2, 0).numpy()).mean()
        ours = (jpeg_compression(x[:1], q) - x[:1]).abs().mean().item()
        assert 0.6 * ref_err < ours < 1.4 * ref_err
    # Per-image quality: each image is compressed at its own quality.
    pair = x[:1].expand(2, 3, 64, 64).contiguous()
    out = jpeg_compression(pair, torch.tensor([10.0, 95.0]))
    torch.testing.assert_close(out[0], jpeg_compression(x[:1], 10)[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(out[1], jpeg_compression(x[:1], 95)[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("shape", [(2, 3, 33, 47), (1, 1, 33, 47), (3, 1, 64, 64), (1, 3, 17, 16)])
def test_jpeg_keeps_odd_sizes_and_gray(shape):
    x = textured(*shape)
    y = jpeg_compression(x, 30)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert y.min() >= 0 and y.max() <= 1
    err = (y - x).abs().mean().item()
    assert 1e-3 < err < 0.1  # changed, but still the same picture
    mod = JPEGCompression(quality=30)(x, gen(0))
    torch.testing.assert_close(mod, y)


def _high_freq_energy(x: torch.Tensor) -> float:
    """Energy of the discrete Laplacian: large for noise, small for smooth images."""
    c = x[..., 1:-1, 1:-1]
    lap = 4 * c - x[..., :-2, 1:-1] - x[..., 2:, 1:-1] - x[..., 1:-1, :-2] - x[..., 1:-1, 2:]
    return lap.pow(2).mean().item()


def test_blur_removes_high_frequencies_more_with_larger_sigma():
    x = torch.rand(2, 3, 64, 64, generator=gen(13))
    y1, y3 = gaussian_blur(x, 1.0), gaussian_blur(x, 3.0)
    assert y1.shape == x.shape
    assert x.var() > 5 * y1.var() > 5 * y3.var()
    assert _high_freq_energy(x) > 10 * _high_freq_energy(y1) > 10 * _high_freq_energy(y3)
    # A normalised kernel: the mean and a constant image are preserved.
    assert abs(y3.mean().item() - x.mean().item()) < 0.01
    flat = grey((1, 3, 32, 32), 0.3)
    torch.testing.assert_close(gaussian_blur(flat, 2.0), flat)
    # Per-image sigma tensor matches the scalar calls (the batch's kernel covers +-3 of its largest
    # sigma: 19 taps for sigma=3, so compare with sigma=1 at that size).
    both = gaussian_blur(x, torch.tensor([1.0, 3.0]))
    torch.testing.assert_close(both[0], gaussian_blur(x, 1.0, kernel_size=19)[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(both[1], y3[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(both[0], y1[0], atol=1e-3, rtol=0)
    # Module with a range blurs but less than sigma=3 at most.
    ym = GaussianBlur((0.5, 1.5))(x, gen(0))
    assert _high_freq_energy(x) > _high_freq_energy(ym) > _high_freq_energy(y3)


# --------------------------------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------------------------------

MASK_GENERATORS = {
    "rectangles": lambda: RectangleMasks(),
    "brush": lambda: BrushStrokeMasks(),
    "thin": lambda: IrregularMasks("thin"),
    "medium": lambda: IrregularMasks("medium"),
    "thick": lambda: IrregularMasks("thick"),
    "mixture": lambda: MixtureMasks([RectangleMasks(), IrregularMasks("thick")], weights=[1, 3]),
}


def _coverage(masks: torch.Tensor) -> torch.Tensor:
    return masks.flatten(1).mean(dim=1)


@pytest.mark.parametrize("size", [(256, 256), (128, 96)])
@pytest.mark.parametrize("name", list(MASK_GENERATORS))
def test_masks_are_binary_single_channel_and_cover_between_zero_and_the_cap(name, size):
    h, w = size
    masks = MASK_GENERATORS[name]()(torch.zeros(64, 3, h, w), gen(14))
    assert masks.shape == (64, 1, h, w) and masks.dtype == torch.float32
    assert ((masks == 0) | (masks == 1)).all()
    cov = _coverage(masks)
    assert (cov > 0).all(), f"{(cov == 0).sum().item()} of 64 masks have no hole"
    assert (cov <= 0.5).all()
    assert cov.std() > 0.01  # random, not one fixed mask


def test_thick_strokes_over_the_cap_do_not_leave_a_mask_without_holes():
    # A thick stroke can cover more than max_coverage on its own and is then skipped; when every
    # stroke of a draw is skipped the mask must still get a hole (regression: ~3% came out empty).
    masks = IrregularMasks("thick")(torch.zeros(256, 1, 64, 64), gen(32))
    cov = _coverage(masks)
    assert (cov > 0).all(), f"{(cov == 0).sum().item()} of 256 masks have no hole"
    assert (cov <= 0.5).all()
    big_boxes = RectangleMasks(count=1, size=(200, 400), max_coverage=0.3)
    rects = big_boxes(torch.zeros(64, 1, 64, 64), gen(33))
    assert (_coverage(rects) > 0).all() and (_coverage(rects) <= 0.3).all()


def test_max_coverage_cap_is_respected_when_lowered():
    masks = IrregularMasks("thick", max_coverage=0.2)(torch.zeros(64, 1, 128, 128), gen(15))
    cov = _coverage(masks)
    assert (cov > 0).all() and (cov <= 0.2).all()
    assert cov.max() > 0.1  # the cap binds, it does not just scale everything down


def test_thick_preset_covers_more_than_thin_and_mixture_mixes():
    for h, w in [(256, 256), (128, 96)]:  # also on small crops (regression: reversed at 128 px)
        images = torch.zeros(64, 1, h, w)
        thin = _coverage(IrregularMasks("thin")(images, gen(16))).mean()
        thick = _coverage(IrregularMasks("thick")(images, gen(16))).mean()
        assert thick > thin + 0.05
    images = torch.zeros(64, 1, 256, 256)
    small = RectangleMasks(size=(8, 8), count=1)  # exactly one 8x8 box at 512 -> 4x4 at 256
    big = RectangleMasks(size=(300, 300), count=1)  # one 150x150 box at 256
    mixed = _coverage(MixtureMasks([small, big], weights=[1, 3])(images, gen(17)))
    n_small = (mixed == 16 / 256**2).sum().item()
    n_big = (mixed == 150**2 / 256**2).sum().item()
    assert n_small + n_big == 64 and 6 <= n_small <= 26  # expected 16 (sd 3.5)


def test_unknown_preset_raises_naming_the_choices():
    with pytest.raises(ValueError, match="huge") as info:
        IrregularMasks("huge")
    assert all(name in str(info.value) for name in ("thin", "medium", "thick"))


def _max_half_width(mask: np.ndarray) -> float:
    """Largest distance from a hole pixel to the nearest known pixel (border counts as known)."""
    padded = np.pad(mask.astype(np.uint8), 1)
    return float(cv2.distanceTransform(padded, cv2.DIST_L2, 5).max())


def test_brush_stroke_width_and_length_obey_limits_in_absolute_pixels():
    # One stroke of one segment: a straight line of width <= max_width and length <= max_length.
    # OpenCV draws a line of thickness t up to t + 2 pixels wide, hence the +2 slack.
    images = torch.zeros(48, 1, 128, 128)
    for max_width, max_length in [(8, 60), (20, 40)]:
        g = BrushStrokeMasks(
            strokes=1,
            max_width=max_width,
            max_length=max_length,
            max_vertices=1,
            max_coverage=1.0,
            reference_size=None,
        )
        masks = g(images, gen(18))[:, 0].numpy()
        half_widths = [_max_half_width(m) for m in masks]
        assert max(half_widths) <= (max_width + 2) / 2 + 1
        assert max(half_widths) >= max_width / 2 - 1  # wide strokes do get drawn
        areas = masks.reshape(len(masks), -1).sum(axis=1)
        assert areas.min() > 0
        assert areas.max() <= (max_length + max_width + 3) * (max_width + 3)
    # With a reference size the limits scale with the image: 40 px at 512 is 10 px at 128.
    scaled = BrushStrokeMasks(
        strokes=1, max_width=40, max_length=60, max_vertices=1, max_coverage=1.0
    )
    assert max(_max_half_width(m) for m in scaled(images, gen(19))[:, 0].numpy()) <= 12 / 2 + 1
    absolute = BrushStrokeMasks(
        strokes=1,
        max_width=40,
        max_length=60,
        max_vertices=1,
        max_coverage=1.0,
        reference_size=None,
    )
    assert max(_max_half_width(m) for m in absolute(images, gen(19))[:, 0].numpy()) > 12


def test_stroke_sizes_scale_with_the_image_down_to_the_minimums():
    # max_width 20 at 512 is 5 px at 128, and LaMa's 5 px minimum width is 1.25 px there: strokes
    # come in all widths from 1 px up, not all at the (scaled) maximum (regression: the minimum
    # was not scaled, so every stroke of the thin preset was 5 px wide on a 128-pixel crop).
    g = BrushStrokeMasks(strokes=1, max_width=20, max_length=100, max_vertices=1, max_coverage=1.0)
    masks = g(torch.zeros(48, 1, 128, 128), gen(34))[:, 0].numpy()
    half_widths = [_max_half_width(m) for m in masks]
    assert min(half_widths) <= 1.5 and max(half_widths) <= (5 + 2) / 2 + 1
    # So a preset covers about the same share of a 128-pixel crop as of a 512-pixel image
    # (not exactly: OpenCV draws thin lines up to 2 px wider than asked).
    thin = IrregularMasks("thin", max_coverage=1.0)
    at_512 = _coverage(thin(torch.zeros(32, 1, 512, 512), gen(35))).mean()
    at_128 = _coverage(thin(torch.zeros(64, 1, 128, 128), gen(35))).mean()
    assert 1 / 1.5 < at_128 / at_512 < 1.5


def test_apply_mask_fills_holes_and_keeps_the_rest():
    x = torch.rand(2, 3, 8, 8, generator=gen(20))
    mask = (torch.rand(2, 1, 8, 8, generator=gen(21)) > 0.5).float()
    out = apply_mask(x, mask, fill=0.25)
    hole = mask.bool().expand_as(x)
    assert (out[hole] == 0.25).all()
    assert torch.equal(out[~hole], x[~hole])


# --------------------------------------------------------------------------------------------------
# Mask files
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# Composition
# --------------------------------------------------------------------------------------------------


def test_corruption_fills_holes_and_reports_the_rms_error_outside_them():
    x = grey((8, 3, 128, 128))
    result = Corruption(noise=[GaussianNoise(25)], masks=IrregularMasks("medium"))(x, gen(23))
    assert isinstance(result, CorruptionResult)
    assert result.degraded.shape == x.shape and result.mask.shape == (8, 1, 128, 128)
    assert result.rms_error.shape == (8,) and result.rms_error.dtype == torch.float32
    hole = result.mask.bool().expand_as(x)
    assert ((result.mask == 0) | (result.mask == 1)).all()
    assert (_coverage(result.mask) > 0).all() and (_coverage(result.mask) <= 0.5).all()
    assert (result.degraded[hole] == 0).all()
    known = result.degraded[~hole]
    assert (known != 0.5).float().mean() > 0.99  # noisy outside the holes
    torch.testing.assert_close(result.rms_error, torch.full((8,), 25.0), rtol=0.05, atol=0.0)
    # rms_error is the RMS error over known pixels on the 0-255 scale.
    for i in range(8):
        keep = ~hole[i]
        rms = 255 * (result.degraded[i][keep] - x[i][keep]).pow(2).mean().sqrt()
        torch.testing.assert_close(result.rms_error[i], rms, rtol=1e-4, atol=1e-4)


def test_corruption_fill_value_and_function_form():
    x = torch.rand(4, 3, 64, 64, generator=gen(24))
    r = corrupt(x, masks=RectangleMasks(), fill=0.3, generator=gen(25))
    hole = r.mask.bool().expand_as(x)
    assert hole.any()
    torch.testing.assert_close(r.degraded[hole], torch.full_like(r.degraded[hole], 0.3))
    assert torch.equal(r.degraded[~hole], x[~hole])
    assert torch.equal(r.rms_error, torch.zeros(4))  # no noise ops: exact outside the holes
    plain = corrupt(x)
    assert torch.equal(plain.degraded, x) and not plain.mask.any() and not plain.rms_error.any()


def test_mask_probability():
    x = grey((64, 1, 32, 32))
    never = Corruption(noise=[GaussianNoise(25)], masks=IrregularMasks("medium"), mask_p=0.0)
    none = never(x, gen(26))
    assert not none.mask.any()
    torch.testing.assert_close(none.rms_error.mean(), torch.tensor(25.0), rtol=0.05, atol=0.0)
    half = Corruption(masks=IrregularMasks("medium"), mask_p=0.5)(x, gen(27))
    n_masked = (_coverage(half.mask) > 0).sum().item()
    assert 16 <= n_masked <= 48


def test_op_probability():
    x = grey((64, 3, 16, 16))
    assert torch.equal(GaussianNoise(25, p=0.0)(x, gen(28)), x)
    tex = textured(2, 3, 16, 16)
    assert torch.equal(JPEGCompression(50, p=0.0)(tex, gen(28)), tex)
    changed = (GaussianNoise(25, p=0.5)(x, gen(29)) != x).flatten(1).any(dim=1)
    assert 16 <= changed.sum().item() <= 48


@pytest.mark.parametrize(
    "weights,expected_low", [([0.5, 0.5], 100), ([0.2, 0.8], 40), ([1.0, 0.0], 200)]
)
def test_random_choice_picks_ops_by_weight(weights, expected_low):
    x = grey((200, 3, 16, 16))
    ops = [GaussianNoise(5, clip=False), GaussianNoise(50, clip=False)]
    op = RandomChoice(ops, weights=weights)
    level = (op(x, gen(30)) - x).flatten(1).std(dim=1) * 255
    low, high = level < 20, level >= 20
    assert (level[low] > 3.5).all() and (level[low] < 6.5).all()
    assert (level[high] > 40).all() and (level[high] < 60).all()
    assert abs(low.sum().item() - expected_low) <= 25
    assert low.sum().item() + high.sum().item() == 200


# --------------------------------------------------------------------------------------------------
# Every op: seeds, dtype, device, range
# --------------------------------------------------------------------------------------------------

# name -> (call(images, generator), stochastic)
OPS = {
    "gaussian_noise": (lambda x, g: gaussian_noise(x, 25.0, g), True),
    "poisson_gaussian_noise": (lambda x, g: poisson_gaussian_noise(x, 0.01, 5.0, g), True),
    "salt_and_pepper_noise": (lambda x, g: salt_and_pepper_noise(x, 0.1, 0.5, g), True),
    "speckle_noise": (lambda x, g: speckle_noise(x, 0.3, g), True),
    "jpeg_compression": (lambda x, g: jpeg_compression(x, 40.0), False),
    "gaussian_blur": (lambda x, g: gaussian_blur(x, 1.0), False),
    "GaussianNoise": (GaussianNoise((5, 50)), True),
    "GaussianNoise_p": (GaussianNoise(25, p=0.5), True),
    "PoissonGaussianNoise": (PoissonGaussianNoise((0.001, 0.05), (0, 10)), True),
    "SaltAndPepperNoise": (SaltAndPepperNoise((0.01, 0.2), salt_ratio=0.3), True),
    "SpeckleNoise": (SpeckleNoise((0.05, 0.5)), True),
    "JPEGCompression": (JPEGCompression((10, 90)), True),
    "GaussianBlur": (GaussianBlur((0.5, 2.0)), True),
    "RandomChoice": (
        RandomChoice([GaussianNoise(10), SpeckleNoise(0.2), JPEGCompression(30)]),
        True,
    ),
    "camera_noise": (lambda x, g: camera_noise(x, CameraParams.draw(x.shape[0], g), g), True),
    "correlated_noise": (lambda x, g: correlated_noise(x, 8.0, 1.0, 2.0, generator=g), True),
    "CameraNoise": (CameraNoise(), True),
    "CameraNoise_p": (CameraNoise(p=0.5), True),
    "CorrelatedNoise": (CorrelatedNoise((2, 10)), True),
    "RectangleMasks": (RectangleMasks(), True),
    "BrushStrokeMasks": (BrushStrokeMasks(), True),
    "IrregularMasks_thin": (IrregularMasks("thin"), True),
    "IrregularMasks_medium": (IrregularMasks("medium"), True),
    "IrregularMasks_thick": (IrregularMasks("thick"), True),
    "MixtureMasks": (MixtureMasks([RectangleMasks(), IrregularMasks("thin")]), True),
    "Corruption": (
        Corruption(
            noise=[GaussianNoise((5, 30)), JPEGCompression((30, 90), p=0.5)],
            masks=IrregularMasks("medium"),
            mask_p=0.7,
        ),
        True,
    ),
}


def _outputs(value) -> list[torch.Tensor]:
    if isinstance(value, CorruptionResult):
        return [value.degraded, value.mask, value.rms_error]
    return [value]


def _run(name: str, x: torch.Tensor, seed: int) -> list[torch.Tensor]:
    return _outputs(OPS[name][0](x, gen(seed)))


def _input(dtype=torch.float32, device="cpu") -> torch.Tensor:
    return torch.rand(4, 3, 32, 48, generator=gen(31)).to(device=device, dtype=dtype)


@pytest.mark.parametrize("name", list(OPS))
def test_same_seed_same_output_different_seed_different_output(name):
    x = _input()
    first, again = _run(name, x, 100), _run(name, x, 100)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=False))
    other = _run(name, x, 101)
    if OPS[name][1]:
        assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=False))
    else:
        assert all(torch.equal(a, b) for a, b in zip(first, other, strict=False))
    if not isinstance(OPS[name][0], MaskSampler):
        assert not torch.equal(first[0], x)  # it does something (p=0.5 hits some of 4 images)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("name", list(OPS))
def test_shape_dtype_device_and_range_are_kept(name, dtype):
    x = _input(dtype)
    out = _run(name, x, 7)
    main = out[0]
    expected_shape = (4, 1, 32, 48) if isinstance(OPS[name][0], MaskSampler) else x.shape
    assert main.shape == expected_shape and main.dtype == dtype and main.device == x.device
    assert main.min() >= 0 and main.max() <= 1
    if isinstance(OPS[name][0], MaskSampler):
        assert ((main == 0) | (main == 1)).all()
    if name == "Corruption":
        assert out[1].dtype == dtype and out[1].shape == (4, 1, 32, 48)
        assert out[2].dtype == torch.float32 and out[2].shape == (4,)
    assert torch.isfinite(main.float()).all()
    # Same seed, same numbers whatever the dtype (up to its rounding).
    ref = _run(name, _input(), 7)[0]
    if isinstance(OPS[name][0], MaskSampler):
        assert torch.equal(main.float(), ref)
    elif dtype == torch.float64:
        # float64 input is rounded to float32 for the work; the results agree closely except where
        # a JPEG quantisation step flips.
        assert (main.float() - ref).abs().float().mean() < 1e-3


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


@CUDA
@pytest.mark.parametrize("name", list(OPS))
def test_cuda_device_is_kept(name):
    x = _input(device="cuda")
    out = _run(name, x, 8)
    for t in out:
        assert t.device.type == "cuda"
    assert out[0].dtype == x.dtype and out[0].min() >= 0 and out[0].max() <= 1
    assert all(torch.equal(a, b) for a, b in zip(out, _run(name, x, 8), strict=False))
    # A CPU generator draws on the CPU: random ops give the CPU result on the GPU.
    if name in ("gaussian_noise", "speckle_noise", "salt_and_pepper_noise", "RectangleMasks"):
        cpu = _run(name, _input(), 8)[0]
        torch.testing.assert_close(out[0].cpu(), cpu, atol=1e-5, rtol=0)


# --------------------------------------------------------------------------------------------------
# Argument checking
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: GaussianNoise(-1.0), "sigma"),
        (lambda: GaussianNoise((30, 10)), "sigma"),
        (lambda: GaussianNoise(25, p=2.0), "p must be"),
        (lambda: GaussianNoise(25, p=-0.1), "p must be"),
        (lambda: SpeckleNoise(-0.1), "sigma"),
        (lambda: GaussianBlur(-1.0), "sigma"),
        (lambda: JPEGCompression(0), "quality"),
        (lambda: JPEGCompression(150), "quality"),
        (lambda: JPEGCompression((50, 150)), "quality"),
        (lambda: SaltAndPepperNoise(amount=1.5), "amount"),
        (lambda: SaltAndPepperNoise(salt_ratio=-0.5), "salt_ratio"),
        (lambda: PoissonGaussianNoise(gain=-0.1), "gain"),
        (lambda: PoissonGaussianNoise(read_sigma=-1), "read_sigma"),
        (lambda: RandomChoice([]), "at least one"),
        (lambda: RandomChoice([GaussianNoise(5)], weights=[0.5, 0.5]), "weights"),
        (lambda: RandomChoice([GaussianNoise(5), GaussianNoise(9)], weights=[-1, 2]), "weights"),
        (lambda: Corruption(mask_p=2.0), "mask_p"),
        (lambda: RectangleMasks(count=0), "count"),
        (lambda: RectangleMasks(size=(50, 10)), "size"),
        (lambda: BrushStrokeMasks(max_width=0), "max_width"),
        (lambda: IrregularMasks("thin", max_coverage=0.0), "max_coverage"),
        (lambda: IrregularMasks("thin", box_p=1.5), "box_p"),
        (lambda: IrregularMasks("thin", reference_size=0), "reference_size"),
        (lambda: MixtureMasks([]), "at least one"),
        (lambda: MixtureMasks([RectangleMasks()], weights=[0.0]), "weights"),
    ],
)
def test_bad_constructor_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


BAD_IMAGES = {
    "rank3": torch.rand(3, 16, 16),
    "rank5": torch.rand(1, 1, 3, 16, 16),
    "uint8": torch.randint(0, 256, (1, 3, 16, 16), dtype=torch.uint8),
    "int64": torch.zeros(1, 3, 16, 16, dtype=torch.int64),
}


@pytest.mark.parametrize("bad", list(BAD_IMAGES))
@pytest.mark.parametrize("name", list(OPS))
def test_bad_images_raise(name, bad):
    with pytest.raises(ValueError, match="expected"):
        OPS[name][0](BAD_IMAGES[bad], gen(0))


def test_bad_images_raise_in_apply_mask_and_corrupt():
    with pytest.raises(ValueError):
        apply_mask(torch.rand(3, 8, 8), torch.zeros(1, 8, 8))
    with pytest.raises(ValueError):
        corrupt(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(TypeError):
        gaussian_noise(np.zeros((1, 3, 8, 8), np.float32), 25.0)


def test_poisson_negative_gain_tensor_raises():
    with pytest.raises(ValueError, match="gain"):
        poisson_gaussian_noise(grey((2, 1, 8, 8)), torch.tensor([0.01, -0.01]), 0.0, gen(0))
