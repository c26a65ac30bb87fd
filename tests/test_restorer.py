"""The ``Restorer`` API: every input type round-trips, inpainting keeps known pixels, tiling is
seamless."""

from __future__ import annotations

import helpers
import numpy as np
import pytest
import torch
from PIL import Image

from restore.io.images import ImageFileError
from restore.restorer import Restorer
from restore.tiling import hole_windows, tile_shape, tile_starts

pytestmark = pytest.mark.usefixtures("one_thread")

H, W = 64, 96


def photo(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    """:func:`helpers.photo` as float32 in [0, 1]."""
    return (helpers.photo(seed, h, w) / 255.0).astype(np.float32)


def u8(img: np.ndarray) -> np.ndarray:
    return np.round(img * 255).astype(np.uint8)


def u16(img: np.ndarray) -> np.ndarray:
    return np.round(img * 65535).astype(np.uint16)


def hole_mask(h: int = H, w: int = W) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mask[h // 4 : h // 2, w // 3 : 2 * w // 3] = True
    return mask


def mean_change(out, img, scale: float) -> float:
    return float(np.abs(np.asarray(out, np.float64) - np.asarray(img, np.float64)).mean() / scale)


# ------------------------------------------------------------------------------------------------
# NumPy inputs

ALPHA = np.tile(np.arange(W, dtype=np.uint8) * 2, (H, 1))  # distinct alpha values, including 0


@pytest.mark.parametrize(
    "name, image, scale",
    [
        ("HxW uint8", u8(photo()[:, :, 0]), 255),
        ("HxWx1 uint8", u8(photo()[:, :, :1]), 255),
        ("HxWx3 uint8", u8(photo()), 255),
        ("HxWx3 uint16", u16(photo()), 65535),
        ("HxWx4 uint8", np.dstack([u8(photo()), ALPHA]), 255),
        ("HxWx2 uint8", np.dstack([u8(photo()[:, :, 1]), ALPHA]), 255),
        ("HxWx3 float32", photo(), 1),
        ("HxW float32", photo()[:, :, 2].copy(), 1),
        ("HxWx3 float64", photo().astype(np.float64), 1),
    ],
)
def test_numpy_round_trip(restorer, name, image, scale):
    before = image.copy()
    out = restorer.denoise(image)
    assert isinstance(out, np.ndarray)
    assert out.dtype == image.dtype and out.shape == image.shape, name
    np.testing.assert_array_equal(image, before)  # the input is not modified
    if image.dtype.kind == "f":
        assert 0 <= out.min() and out.max() <= 1
    colour = slice(None) if image.ndim == 2 else slice(0, 3 if image.shape[2] >= 3 else 1)
    change = mean_change(out[..., colour], image[..., colour], scale)
    assert 1 / 1000 < change < 0.2, f"{name}: the model changed pixels by {change:.4f} on average"
    if image.ndim == 3 and image.shape[2] in (2, 4):  # alpha reattached bit for bit
        np.testing.assert_array_equal(out[:, :, -1], image[:, :, -1])


def test_integer_and_float_inputs_agree(restorer):
    img = u8(photo())
    ref = restorer.denoise(img).astype(np.int32)
    as_float = restorer.denoise(img.astype(np.float32) / 255)
    as_u16 = restorer.denoise(img.astype(np.uint16) * 257)
    assert np.abs(np.round(as_float * 255) - ref).max() <= 1
    assert np.abs(np.round(as_u16 / 257.0) - ref).max() <= 1
    assert (as_u16 % 257 != 0).any()  # 16-bit output is not quantised to 8 bits


def test_gray_layouts_agree(restorer):
    gray = u8(photo()[:, :, 1])
    flat = restorer.denoise(gray)
    assert flat.shape == (H, W)
    np.testing.assert_array_equal(restorer.denoise(gray[:, :, None])[:, :, 0], flat)
    np.testing.assert_array_equal(np.asarray(restorer.denoise(Image.fromarray(gray))), flat)
    with_alpha = restorer.denoise(np.dstack([gray, ALPHA]))
    np.testing.assert_array_equal(with_alpha[:, :, 0], flat)


def test_rgba_colour_does_not_depend_on_alpha(restorer):
    rgb = u8(photo())
    plain = restorer.denoise(rgb)
    rgba = restorer.denoise(np.dstack([rgb, ALPHA]))
    np.testing.assert_array_equal(rgba[:, :, :3], plain)


# ------------------------------------------------------------------------------------------------
# PIL inputs


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA"])
def test_pil_round_trip(restorer, mode):
    rgba = np.dstack([u8(photo()), ALPHA])
    image = Image.fromarray(rgba).convert(mode)
    out = restorer.denoise(image)
    assert isinstance(out, Image.Image)
    assert out.mode == mode and out.size == (W, H)
    assert mean_change(out, image, 255) > 1 / 1000
    if mode in ("RGBA", "LA"):
        np.testing.assert_array_equal(np.asarray(out)[:, :, -1], np.asarray(image)[:, :, -1])


def test_pil_16bit(restorer):
    image = Image.fromarray(u16(photo()[:, :, 0]))
    assert image.mode == "I;16"
    out = restorer.denoise(image)
    assert isinstance(out, Image.Image) and out.mode == "I;16" and out.size == (W, H)
    array = np.asarray(out)
    assert array.dtype == np.uint16 and (array % 257 != 0).any()
    np.testing.assert_array_equal(array, restorer.denoise(np.asarray(image)))


def test_pil_palette(restorer):
    rgb = Image.fromarray(u8(photo()))
    palette = rgb.quantize(64)
    assert palette.mode == "P"
    out = restorer.denoise(palette)
    assert isinstance(out, Image.Image) and out.mode == "RGB" and out.size == (W, H)
    np.testing.assert_array_equal(
        np.asarray(out), restorer.denoise(np.asarray(palette.convert("RGB")))
    )
    palette.info["transparency"] = 0
    out = restorer.denoise(palette)
    assert out.mode == "RGBA"
    np.testing.assert_array_equal(
        np.asarray(out)[:, :, 3], np.asarray(palette.convert("RGBA"))[:, :, 3]
    )


# ------------------------------------------------------------------------------------------------
# torch inputs


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(3, H, W), (2, 3, H, W), (1, H, W), (4, H, W), (2, 4, H, W)])
def test_torch_round_trip(restorer, dtype, shape):
    base = torch.from_numpy(photo()).permute(2, 0, 1).to(dtype)  # (3, H, W)
    channels = shape[-3]
    alpha = torch.rand(1, H, W, dtype=torch.float64).to(dtype)  # float64: not float32 values
    image = base[:channels] if channels < 4 else torch.cat([base, alpha], 0)
    if len(shape) == 4:
        image = torch.stack([image, image.flip(-1)])
    image = image.to(dtype)
    before = image.clone()
    out = restorer.denoise(image)
    assert isinstance(out, torch.Tensor)
    assert out.dtype == dtype and tuple(out.shape) == shape and out.device == image.device
    assert torch.equal(image, before)
    assert (out[..., :3, :, :] - image[..., :3, :, :]).abs().mean() > 1e-3
    if channels == 4:  # alpha reattached bit for bit, also for float64
        assert torch.equal(out[..., 3, :, :], image[..., 3, :, :])
    if len(shape) == 4:  # each batch element is restored on its own
        single = restorer.denoise(image[1])
        assert (out[1] - single).abs().max() < 1e-5


def test_torch_matches_numpy(restorer):
    img = photo()
    out_np = restorer.denoise(img)
    out_t = restorer.denoise(torch.from_numpy(img).permute(2, 0, 1))
    np.testing.assert_allclose(out_t.permute(1, 2, 0).numpy(), out_np, atol=1e-6)


def test_unclipped_float_input_reaches_the_network(restorer):
    """Floats outside [0, 1] from unclipped noise are not clipped on the way in; outputs are."""
    rng = np.random.default_rng(3)
    noisy = (photo() + rng.normal(0, 50 / 255, (H, W, 3))).astype(np.float32)
    assert noisy.min() < -0.2 and noisy.max() > 1.2
    out = restorer.denoise(noisy)
    assert out.min() >= 0 and out.max() <= 1
    assert np.abs(out - restorer.denoise(np.clip(noisy, 0, 1))).max() > 1e-2
    out_t = restorer.denoise(torch.from_numpy(noisy).permute(2, 0, 1))
    np.testing.assert_allclose(out_t.permute(1, 2, 0).numpy(), out, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# File paths


def test_path_input_returns_numpy(restorer, tmp_path):
    img = u8(photo())
    Image.fromarray(img).save(tmp_path / "photo.png")
    expected = restorer.denoise(img)
    for path in (tmp_path / "photo.png", str(tmp_path / "photo.png")):
        out = restorer.denoise(path)
        assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (H, W, 3)
        np.testing.assert_array_equal(out, expected)


def test_path_mask_and_image(restorer, tmp_path):
    img, mask = u8(photo()), hole_mask()
    Image.fromarray(img).save(tmp_path / "photo.png")
    Image.fromarray(u8(mask.astype(np.float32))).save(tmp_path / "mask.png")
    out = restorer.inpaint(tmp_path / "photo.png", tmp_path / "mask.png")
    np.testing.assert_array_equal(out, restorer.inpaint(img, mask))


def test_missing_path_names_the_file(restorer, tmp_path):
    with pytest.raises(ImageFileError, match="nothere.png"):
        restorer.denoise(tmp_path / "nothere.png")


# ------------------------------------------------------------------------------------------------
# Inpainting


def test_inpaint_keeps_known_pixels_uint8(restorer):
    img, mask = u8(photo()), hole_mask()
    img[mask] = 255  # garbage in the hole
    out = restorer.inpaint(img, mask)
    np.testing.assert_array_equal(out[~mask], img[~mask])
    assert np.abs(out[mask].astype(int) - 255).mean() > 50  # the hole was filled, not copied
    assert (out[mask] != 255).mean() > 0.9


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inpaint_keeps_known_pixels_float(restorer, dtype):
    img, mask = photo().astype(dtype), hole_mask()
    img *= dtype(1 - 1e-9)  # float64 values that float32 cannot hold (no-op for float32)
    img[mask] = 1.0
    out = restorer.inpaint(img, mask)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out[~mask], img[~mask])
    assert np.abs(out[mask] - 1.0).mean() > 0.2


def test_inpaint_keeps_known_pixels_torch_float64(restorer):
    img = torch.from_numpy(photo()).permute(2, 0, 1).double() * (1 - 1e-9)  # not float32 values
    mask = torch.from_numpy(hole_mask())
    out = restorer.inpaint(img, mask)
    assert out.dtype == torch.float64
    assert torch.equal(out[:, ~mask], img[:, ~mask])
    assert not torch.equal(out[:, mask], img[:, mask])


def test_inpaint_rgba_keeps_alpha(restorer):
    img, mask = np.dstack([u8(photo()), ALPHA]), hole_mask()
    out = restorer.inpaint(img, mask)
    np.testing.assert_array_equal(out[:, :, 3], ALPHA)
    np.testing.assert_array_equal(out[~mask], img[~mask])


def test_mask_formats_agree(restorer):
    img, mask = u8(photo()), hole_mask()
    ref = restorer.inpaint(img, mask)
    variants = {
        "uint8 0/255": mask.astype(np.uint8) * 255,
        "(H, W, 1)": mask[:, :, None],
        "(H, W, 3) uint8": np.repeat(mask[:, :, None], 3, 2).astype(np.uint8) * 255,
        "torch bool": torch.from_numpy(mask),
        "torch float (1, H, W)": torch.from_numpy(mask).float()[None],
        "PIL L": Image.fromarray(mask.astype(np.uint8) * 255),
        "negative strides": np.ascontiguousarray(mask[::-1, ::-1])[::-1, ::-1],
        "list": mask.tolist(),
    }
    for name, variant in variants.items():
        np.testing.assert_array_equal(restorer.inpaint(img, variant), ref, err_msg=name)


def test_empty_mask_is_like_restore(restorer):
    img = u8(photo())
    out = restorer.inpaint(img, np.zeros((H, W), bool))
    np.testing.assert_array_equal(out, img)  # nothing missing: every pixel is known


def test_restore_with_mask_fills_holes_and_denoises(restorer):
    img, mask = u8(photo()), hole_mask()
    img[mask] = 255
    out = restorer.restore(img, mask)
    assert np.abs(out[mask].astype(int) - 255).mean() > 50
    assert (out[~mask] != img[~mask]).mean() > 0.2  # known pixels are denoised too


def test_noise_level_changes_result(restorer):
    img = u8(photo())
    blind, given = restorer.denoise(img), restorer.denoise(img, sigma=25)
    assert given.shape == blind.shape and not np.array_equal(given, blind)


def test_self_ensemble_averages_the_8_flips_and_rotations(weights, restorer):
    ensemble = Restorer.from_checkpoint(weights, device="cpu", precision="fp32", self_ensemble=True)
    img = photo(seed=4)
    out = ensemble.denoise(img)
    passes = []
    for flip in (False, True):
        for k in range(4):
            t = np.rot90(img[:, ::-1] if flip else img, k).copy()
            back = np.rot90(restorer.denoise(t), -k)
            passes.append(back[:, ::-1] if flip else back)
    np.testing.assert_allclose(out, np.mean(passes, 0), atol=1e-5)
    assert np.abs(out - restorer.denoise(img)).max() > 1e-3  # not the single pass
    # The average over the whole group does not depend on how the input is turned.
    np.testing.assert_allclose(ensemble.denoise(img[::-1].copy())[::-1], out, atol=1e-5)
    holed = u8(img)
    mask = hole_mask()
    filled = ensemble.inpaint(holed, mask)
    assert np.array_equal(filled[~mask], holed[~mask])


def test_self_ensemble_tiles_odd_sizes_like_the_whole_image(weights):
    """Rotated images whose sides are not multiples of the stride, cut into tiles."""
    kwargs = dict(device="cpu", precision="fp32", self_ensemble=True)
    whole = Restorer.from_checkpoint(weights, tile=4096, **kwargs)
    tiles = Restorer.from_checkpoint(weights, tile=272, tile_overlap=128, **kwargs)
    img = photo(333, 410, seed=5)
    np.testing.assert_allclose(tiles.denoise(img), whole.denoise(img), atol=1e-4)


# ------------------------------------------------------------------------------------------------
# Tiling


@pytest.fixture(scope="module")
def tiled_pair(weights):
    whole = Restorer.from_checkpoint(weights, device="cpu", precision="fp32", tile=4096)
    tiles = Restorer.from_checkpoint(weights, device="cpu", precision="fp32", tile=320)
    calls = {"n": 0}
    original = tiles._net_tile

    def counting(*args, **kwargs):
        calls["n"] += 1
        return original(*args, **kwargs)

    tiles._net_tile = counting
    return whole, tiles, calls


@pytest.mark.parametrize(
    "height, width, budget, expected",
    [
        (848, 1248, 1_250_000, [(848, 1248)]),  # a 1 MP photo (with its border) runs whole
        (848, 1248, 700_000, [(848, 688), (848, 688)]),  # two halves beat four quarters
        (3056, 4032, 1_250_000, None),  # a 12 MP phone photo
        (6016, 4016, 1_250_000, None),  # 24 MP
        (208, 4992, 100_000, None),  # a strip
    ],
)
def test_default_tiles_are_the_fewest_that_fit_the_budget(height, width, budget, expected):
    overlap, stride = 128, 16
    th, tw = tile_shape(height, width, budget, overlap, stride)
    assert th * tw <= budget and th % stride == 0 or th == height
    assert th == height or th > 2 * overlap
    starts_y = tile_starts(height, th, overlap, stride)
    starts_x = tile_starts(width, tw, overlap, stride)
    tiles = [(min(th, height - y), min(tw, width - x)) for y in starts_y for x in starts_x]
    if expected is not None:
        assert tiles == expected
    # every pixel covered, and no square tiling of the same budget sends fewer pixels through
    assert starts_y[-1] + th == height and starts_x[-1] + tw == width
    work = sum(h * w for h, w in tiles)
    side = int(budget**0.5) // stride * stride
    square = (
        len(tile_starts(height, side, overlap, stride))
        * len(tile_starts(width, side, overlap, stride))
        * min(side, height)
        * min(side, width)
    )
    assert work <= square


def test_hole_windows_hold_every_hole_with_its_context_and_do_not_overlap():
    holes = torch.zeros(2, 1, 700, 900)
    holes[0, :, 100:104, 200:420] = 1  # a scratch
    holes[1, :, 600:606, 880:890] = 1  # dust at the edge, in the other image of the batch
    holes[0, :, 130:140, 430:440] = 1  # close to the scratch: one window
    windows = hole_windows(holes, context=64, multiple=16)
    assert len(windows) == 2
    covered = torch.zeros(700, 900, dtype=torch.int32)
    for y0, y1, x0, x1 in windows:
        assert y0 % 16 == 0 and x0 % 16 == 0 and y1 in (700, *range(0, 700, 16))
        covered[y0:y1, x0:x1] += 1
    assert covered.max() == 1  # no overlap
    grown = torch.nn.functional.max_pool2d(holes.amax(0, keepdim=True), 129, 1, 64)[0, 0]
    assert bool((covered[grown > 0] == 1).all())  # every hole and 64 px around it
    assert covered.sum() < 0.25 * 700 * 900
    assert hole_windows(torch.zeros(1, 1, 64, 64), 64) == []
    assert hole_windows(holes, context=400, multiple=16) is None  # as dear as the whole image


def test_a_fill_of_sparse_holes_runs_only_around_them(weights, monkeypatch):
    r = Restorer.from_checkpoint(weights, device="cpu", precision="fp32")
    sent = []
    original = r._net_tile
    r._net_tile = lambda tile, *a, **k: (
        sent.append(tile.shape[-2:].numel()) or original(tile, *a, **k)
    )
    img, mask = photo(600, 800, seed=7), np.zeros((600, 800), bool)
    mask[100:110, 100:110] = True
    mask[450:453, 500:600] = True
    out = r.inpaint(img, mask)
    assert 0 < sum(sent) < 0.2 * img.shape[0] * img.shape[1]
    np.testing.assert_array_equal(out[~mask], img[~mask])
    monkeypatch.setattr("restore.restorer.hole_windows", lambda *args, **kwargs: None)
    sent.clear()
    whole = r.inpaint(img, mask)
    assert sum(sent) > img.shape[0] * img.shape[1]
    assert np.abs(out - whole)[mask].max() < 0.01
    assert np.abs(out - img)[mask].mean() > 0.01  # the holes were filled


def test_the_default_runs_a_megapixel_photo_as_one_tile_and_a_large_one_in_tiles(weights):
    restorer = Restorer.from_checkpoint(weights, device="cpu", precision="fp32")
    assert restorer.tile is None
    passes = []
    restorer.progress = lambda done, total: passes.append(total)
    restorer.denoise(np.zeros((816, 1224, 3), np.uint8), sigma=5)
    assert passes == [1]
    with pytest.raises(ValueError, match="tile"):
        Restorer(restorer.net, tile=0)


@pytest.mark.parametrize("size", [(600, 700), (517, 771)])
def test_tiled_matches_whole_image(tiled_pair, size):
    whole, tiles, calls = tiled_pair
    img = photo(*size, seed=3)
    calls["n"] = 0
    a, b = whole.denoise(img), tiles.denoise(img)
    assert calls["n"] >= 6  # really tiled
    assert a.shape == b.shape == img.shape
    assert np.abs(a - b).max() < 1e-4
    assert np.abs(a - img).mean() > 1e-3  # and the model does something


@pytest.mark.parametrize("size", [(600, 700), (517, 771)])
def test_tiled_inpaint_matches_whole_image(tiled_pair, size):
    whole, tiles, _ = tiled_pair
    img, mask = photo(*size, seed=4), np.zeros(size, bool)
    mask[100:300, 250:550] = True  # a hole crossing tile borders
    mask[450:, :40] = True
    a, b = whole.inpaint(img, mask), tiles.inpaint(img, mask)
    assert np.abs(a - b).max() < 1e-4
    np.testing.assert_array_equal(b[~mask], img[~mask])  # exact despite tile blending
    np.testing.assert_array_equal(a[~mask], img[~mask])
    a8, b8 = whole.inpaint(u8(img), mask), tiles.inpaint(u8(img), mask)
    assert np.abs(a8.astype(int) - b8).max() <= 1


def test_tiled_samples_match_whole_image(tiled_pair):
    # One latent draw covers the whole image, so tiles sample the same completion a whole-image
    # run does (before, each tile drew its own latents and samples were incoherent across tiles).
    whole, tiles, calls = tiled_pair
    img, mask = photo(600, 700, seed=5), np.zeros((600, 700), bool)
    mask[100:300, 250:550] = True
    calls["n"] = 0
    a, b = whole.sample(img, mask, n=2, seed=3), tiles.sample(img, mask, n=2, seed=3)
    assert calls["n"] >= 12  # 2 samples x at least 6 tiles
    for x, y in zip(a, b, strict=False):
        assert np.abs(x - y).max() < 1e-4
    assert np.abs(a[0] - a[1])[mask].max() > 1e-3  # the samples differ by more than the tolerance


def test_the_progress_hook_counts_each_passs_tiles_and_changes_no_output(weights):
    calls = []
    settings = dict(device="cpu", precision="fp32", tile=64, tile_overlap=16)
    plain = Restorer.from_checkpoint(weights, **settings)
    hooked = Restorer.from_checkpoint(
        weights, **settings, progress=lambda done, total: calls.append((done, total))
    )
    img, mask = photo(200, 240, seed=6), hole_mask(200, 240)
    out = hooked.denoise(img)
    total = calls[-1][1]
    one_pass = [(k, total) for k in range(1, total + 1)]
    assert total >= 9 and calls == one_pass  # every tile once, in order, ending at (total, total)
    np.testing.assert_array_equal(out, plain.denoise(img))
    calls.clear()
    draws = hooked.sample(img, mask, n=2, seed=1)
    assert calls == one_pass * 2  # one pass per draw, each counted from 1
    for a, b in zip(draws, plain.sample(img, mask, n=2, seed=1), strict=True):
        np.testing.assert_array_equal(a, b)
    calls.clear()
    small = photo(16, 16)
    np.testing.assert_array_equal(
        hooked.inpaint(small, hole_mask(16, 16)), plain.inpaint(small, hole_mask(16, 16))
    )
    assert calls == [(1, 1)]  # an image that runs whole is one tile
    calls.clear()
    hooked.denoise(img, strength=0)  # the input as it is: no pass
    assert calls == []


@pytest.mark.parametrize("channels", [None, 3, 4])
@pytest.mark.parametrize("tile", [None, 64])
def test_an_8_bit_photo_denoises_to_what_its_float_copy_gives(weights, channels, tile):
    """Kept as uint8 until each tile (a quarter of the memory), an 8-bit photo gives bit for bit
    what its floats (values / 255) give, rounded as outputs are; the input is not written."""
    r = Restorer.from_checkpoint(
        weights, device="cpu", precision="fp32", tile=tile, tile_overlap=16
    )
    shape = (90, 110) if channels is None else (90, 110, channels)
    image = np.random.default_rng(7).integers(0, 256, shape, dtype=np.uint8)
    before = image.copy()
    out = r.denoise(image)
    floats = r.denoise(image.astype(np.float32) / 255)
    colour = (lambda a: a[..., :3]) if channels == 4 else (lambda a: a)  # alpha passes through
    expected = np.clip(np.round(colour(floats) * np.float32(255)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(colour(out), expected)
    np.testing.assert_array_equal(image, before)
    assert np.abs(out.astype(int) - image).max() > 3  # the model changes it


def test_the_default_overlap_is_wider_where_the_image_has_holes(weights):
    """600 x 700 (632 x 732 with the mirrored border) in 320-px tiles: 3 x 3 tiles overlapping
    by 64 px, 3 x 4 by 128 px."""
    totals = set()
    settings = dict(device="cpu", precision="fp32", tile=320)
    auto = Restorer.from_checkpoint(weights, **settings, progress=lambda d, t: totals.add(t))
    told = Restorer.from_checkpoint(
        weights, **settings, tile_overlap=128, progress=lambda d, t: totals.add(t)
    )
    img, mask = photo(600, 700, seed=2), np.zeros((600, 700), bool)
    mask[200:260, 300:380] = True
    counts = []
    for run in (
        lambda: auto.denoise(img),
        lambda: auto.restore(img, mask),
        lambda: told.denoise(img),
    ):
        totals.clear()
        run()
        counts.append(sorted(totals))
    assert counts == [[9], [12], [12]]


def test_bad_tile_settings_are_refused_when_the_restorer_is_made(weights):
    for tile, overlap, words in ((64, 64, "overlap"), (0, 0, "tile"), (320, -1, "overlap")):
        with pytest.raises(ValueError, match=words):
            Restorer.from_checkpoint(weights, device="cpu", tile=tile, tile_overlap=overlap)


# ------------------------------------------------------------------------------------------------
# Bad inputs


@pytest.mark.parametrize(
    "image, error, words",
    [
        (np.zeros((H, W, 3), np.int32), ValueError, "unsupported image dtype int32"),
        (np.full((H, W, 3), 128.0, np.float32), ValueError, "divide by 255"),
        (np.full((H, W, 3), -2.5, np.float64), ValueError, "spans [-2.5, -2.5]"),
        (np.full((H, W, 3), np.nan, np.float32), ValueError, "NaN"),
        (torch.full((3, H, W), 200.0), ValueError, "divide by 255"),
        (torch.full((3, H, W), float("inf")), ValueError, "infinite"),
        (np.zeros((2, H, W, 3), np.uint8), ValueError, "shape"),
        (np.zeros((H, W, 5), np.uint8), ValueError, "shape"),
        (np.zeros(W, np.uint8), ValueError, "shape"),
        ([[0, 1], [1, 0]], TypeError, "unsupported image type list"),
        (torch.zeros(3, H, W, dtype=torch.uint8), ValueError, "float"),
        (torch.zeros(5, H, W), ValueError, "tensor"),
        (torch.zeros(H, W), ValueError, "tensor"),
        (Image.new("CMYK", (W, H)), ValueError, "unsupported PIL image mode CMYK"),
        (Image.new("F", (W, H)), ValueError, "unsupported PIL image mode F"),
    ],
)
def test_bad_inputs(restorer, image, error, words):
    with pytest.raises(error) as info:
        restorer.denoise(image)
    assert words in str(info.value)


@pytest.mark.parametrize(
    "image", [np.zeros((0, W, 3), np.uint8), np.zeros((H, 0), np.uint8), torch.zeros(1, 3, 0, 4)]
)
def test_empty_images_are_refused(restorer, image):
    with pytest.raises(ValueError, match="empty image"):
        restorer.denoise(image)


@pytest.mark.parametrize("sigma", [float("inf"), float("nan"), -5, 1e6, "25", True])
def test_bad_noise_levels_are_refused_everywhere(restorer, sigma):
    img = u8(photo())
    for call in (
        lambda: restorer.denoise(img, sigma=sigma),
        lambda: restorer.restore(img, hole_mask(), sigma=sigma),
        lambda: restorer.sample(img, hole_mask(), n=1, sigma=sigma),
    ):
        with pytest.raises(ValueError, match=r"sigma must be None or a number .* \[0, 255\]"):
            call()


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(temperature=float("nan")), "temperature"),
        (dict(temperature=float("inf")), "temperature"),
        (dict(temperature=-1), "temperature"),
        (dict(n=0), "n must be"),
        (dict(n=2.5), "n must be"),
        (dict(seed="x"), "seed"),
    ],
)
def test_bad_sampling_arguments_are_refused(restorer, kwargs, words):
    with pytest.raises(ValueError, match=words):
        restorer.sample(u8(photo()), hole_mask(), **kwargs)


def test_a_mask_over_the_whole_image_is_refused(restorer):
    img = u8(photo())
    everything = np.ones(img.shape[:2], bool)
    for call in (restorer.inpaint, restorer.restore):
        with pytest.raises(ValueError, match="covers the whole image"):
            call(img, everything)


def test_image_and_mask_files_above_max_pixels_are_refused_before_decoding(weights, tmp_path):
    Image.fromarray(u8(photo())).save(tmp_path / "a.png")
    Image.fromarray(hole_mask()).save(tmp_path / "m.png")
    small = Restorer.from_checkpoint(weights, device="cpu", max_pixels=H * W - 1)
    with pytest.raises(ValueError, match=r"a\.png: .* above the limit"):
        small.denoise(tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"m\.png: .* above the limit"):
        small.inpaint(u8(photo()), tmp_path / "m.png")
    assert Restorer.from_checkpoint(weights, device="cpu").max_pixels == 200_000_000
    with pytest.raises(ValueError, match="max_pixels"):
        Restorer.from_checkpoint(weights, max_pixels=-1)


def test_bad_precision(weights):
    with pytest.raises(ValueError, match="precision"):
        Restorer.from_checkpoint(weights, precision="int8")


def test_bad_weights_file(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not torch")
    with pytest.raises(ValueError, match="junk.pt"):
        Restorer.from_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        Restorer.from_checkpoint(tmp_path / "missing.pt")


# ------------------------------------------------------------------------------------------------
# Sampling and precision


def test_sample_seeded(restorer):
    img, mask = u8(photo()), hole_mask()
    first = restorer.sample(img, mask, n=3, sigma=0, seed=0)
    again = restorer.sample(img, mask, n=3, sigma=0, seed=0)
    other = restorer.sample(img, mask, n=3, sigma=0, seed=1)
    assert len(first) == 3
    for a, b in zip(first, again, strict=False):
        assert a.dtype == np.uint8 and a.shape == img.shape
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a[~mask], img[~mask])  # known pixels kept
    assert not np.array_equal(first[0][mask], first[1][mask])  # different fills
    assert not np.array_equal(first[0], other[0])


def test_sample_with_a_mask_treats_the_known_pixels_as_restore_and_inpaint_do(restorer):
    """No ``sigma``: the known pixels are denoised blind, as ``restore`` does; ``sigma=0``: they
    are clean and kept, as ``inpaint`` keeps them."""
    img, mask = u8(photo()), hole_mask()
    (cold,) = restorer.sample(img, mask, n=1, seed=0, temperature=0.0)
    np.testing.assert_array_equal(cold, restorer.restore(img, mask))
    assert not np.array_equal(cold[~mask], img[~mask])
    (clean,) = restorer.sample(img, mask, n=1, sigma=0, seed=0, temperature=0.0)
    np.testing.assert_array_equal(clean, restorer.inpaint(img, mask))
    (told,) = restorer.sample(img, mask, n=1, sigma=25, seed=0, temperature=0.0)
    np.testing.assert_array_equal(told, restorer.restore(img, mask, sigma=25))


def test_a_model_without_a_head_names_its_weights_and_how_to_get_one(weights, restorer):
    img = u8(photo())
    for method, setting in (
        (restorer.uncertainty, "model.net.uncertainty=true"),
        (restorer.detect_damage, "model.net.damage=true"),
        (restorer.estimate_noise, "model.net.noise_estimator=true"),
    ):
        with pytest.raises(ValueError) as err:
            method(img)
        message = str(err.value)
        assert message.startswith(f"{weights} has no ") and "\n" not in message
        assert f"restore-train {setting}" in message and "experiment=finetune" in message
    with pytest.raises(ValueError, match="^this model has no damage head"):
        Restorer(restorer.net, device="cpu").detect_damage(img)


def test_sample_without_seed_varies(restorer):
    img = photo()
    outs = restorer.sample(img, n=3)
    assert len(outs) == 3
    assert not np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[1], outs[2])
    torch.manual_seed(7)
    a = restorer.sample(img, n=2)
    torch.manual_seed(7)
    b = restorer.sample(img, n=2)
    np.testing.assert_array_equal(a[1], b[1])  # reproducible through torch.manual_seed


def test_sample_torch_batch(restorer):
    img = torch.from_numpy(photo()).permute(2, 0, 1)[None].repeat(2, 1, 1, 1)
    outs = restorer.sample(img, n=2, seed=0)
    assert all(o.shape == img.shape and o.dtype == torch.float32 for o in outs)


def test_bf16_on_cpu_close_to_fp32(weights, restorer):
    bf16 = Restorer.from_checkpoint(weights, device="cpu", precision="bf16")
    assert bf16.autocast_dtype == torch.bfloat16
    img = photo()
    a, b = restorer.denoise(img), bf16.denoise(img)
    assert b.dtype == np.float32 and b.shape == img.shape
    assert np.abs(a - b).mean() < 2 / 255
    mask = hole_mask()
    out = bf16.inpaint(img, mask)
    np.testing.assert_array_equal(out[~mask], img[~mask])


def test_auto_precision_on_cpu_is_bf16_where_the_cpu_computes_in_bf16(weights, monkeypatch):
    from restore import precision

    for native, expected in ((True, torch.bfloat16), (False, None)):
        monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda native=native: native)
        assert Restorer.from_checkpoint(weights, device="cpu").autocast_dtype == expected
        assert precision.lightning_precision("auto", "cpu") == (
            "bf16-mixed" if native else "32-true"
        )


# ------------------------------------------------------------------------------------------------
# Shipped weights


def test_from_pretrained():
    r = Restorer.from_pretrained(device="cpu", precision="fp32")
    img = u8(photo())
    out = r.denoise(img)
    assert out.shape == img.shape and out.dtype == np.uint8
    mask = hole_mask()
    filled = r.inpaint(img, mask)
    np.testing.assert_array_equal(filled[~mask], img[~mask])


def test_reduced_precision_output_with_nans_is_recomputed_in_fp32(weights, monkeypatch):
    """The fp16-on-GPU safety net, exercised on CPU with bf16: a NaN output triggers an fp32
    rerun."""
    r = Restorer.from_checkpoint(weights, device="cpu", precision="bf16")
    reference = Restorer.from_checkpoint(weights, device="cpu", precision="fp32").denoise(photo())
    calls = []
    real = Restorer._net_tile

    def flaky(self, degraded, mask, window, sigma, keep_known, eps, dtype):
        calls.append(dtype)
        out = real(self, degraded, mask, window, sigma, keep_known, eps, dtype)
        return out * float("nan") if dtype is not None else out

    monkeypatch.setattr(Restorer, "_net_tile", flaky)
    out = r.denoise(photo())
    assert calls == [torch.bfloat16, None]
    np.testing.assert_array_equal(out, reference)
    # Self-ensemble: each of the 8 passes is redone on its own, not all 8 again.
    calls.clear()
    r.self_ensemble = True
    out = r.denoise(photo())
    assert calls == [torch.bfloat16, None] * 8
    ensemble = Restorer.from_checkpoint(weights, device="cpu", precision="fp32", self_ensemble=True)
    np.testing.assert_allclose(out, ensemble.denoise(photo()), atol=1e-6)


def test_a_mask_of_another_size_is_named_width_by_height_as_the_command_line_does(restorer):
    with pytest.raises(ValueError, match="mask is 30x20 but the image is 48x32"):
        restorer.inpaint(photo(32, 48), np.zeros((20, 30), bool))
