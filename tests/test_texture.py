"""The texture stage of hole fills (restore.models.texture) and the texture measures
(restore.metrics.fine_detail, patch_swd), on images the tests make."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from restore.bench.inpaint import area_mask, scores
from restore.metrics import fine_detail, patch_swd
from restore.models.fill import harmonic_fill
from restore.models.texture import patch_features, texture_fill

SIZE = 160


def two_textures(size: int = SIZE, seed: int = 0) -> torch.Tensor:
    """``(1, 3, size, size)`` in [0, 1]: a reddish left half with horizontal stripes and grain, a
    greenish right half with vertical stripes and grain."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    grain = 0.04 * torch.randn(size, size, generator=g)
    left = x < size // 2
    stripes = torch.where(left, torch.sin(y * 1.3), torch.sin(x * 1.3)) * 0.12
    base = torch.stack([torch.where(left, 0.65, 0.3), torch.where(left, 0.35, 0.6), 0.4 + 0 * x])
    return (base + stripes + grain).clamp(0, 1)[None].float()


def holes_in_both_halves() -> torch.Tensor:
    """Two 70 x 56 holes, one inside each half of :func:`two_textures`."""
    m = torch.zeros(1, 1, SIZE, SIZE)
    m[..., 40:110, 12:68] = 1
    m[..., 40:110, 92:148] = 1
    return m


def telea(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    u8 = (image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    out = cv2.inpaint(u8, mask[0, 0].numpy().astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
    return torch.from_numpy(out).permute(2, 0, 1)[None].float() / 255


def test_texture_fill_gives_a_smooth_fill_the_texture_of_its_surroundings():
    clean, holes = two_textures(), holes_in_both_halves()
    smooth = harmonic_fill(clean * (1 - holes), holes)
    textured = texture_fill(smooth, holes)
    truth = fine_detail(clean, holes)
    ratio = {
        name: float(fine_detail(x, holes) / truth)
        for name, x in (("smooth", smooth), ("telea", telea(clean, holes)), ("ours", textured))
    }
    swd = {
        name: float(patch_swd(x, clean, holes))
        for name, x in (("smooth", smooth), ("telea", telea(clean, holes)), ("ours", textured))
    }
    assert ratio["smooth"] < 0.2 and ratio["telea"] < 0.5
    assert ratio["ours"] > 3 * ratio["telea"]
    # beyond the few pixels along the edge where the fill's own detail is kept: the real amount
    inner = -torch.nn.functional.max_pool2d(-holes, 9, stride=1, padding=4)
    assert 0.7 <= float(fine_detail(textured, inner) / fine_detail(clean, inner)) <= 1.3
    assert swd["ours"] < 0.5 * swd["smooth"] and swd["ours"] < 0.5 * swd["telea"]


def test_each_hole_takes_the_detail_of_the_content_its_fill_looks_like():
    """Left half reddish with strong grain, right half greenish and nearly smooth: the hole in
    each half gets that half's amount of fine detail, since the sources are matched on the
    fill's structure (colour)."""
    g = torch.Generator().manual_seed(0)
    left = torch.arange(SIZE) < SIZE // 2  # per column
    grain = torch.randn(1, 1, SIZE, SIZE, generator=g) * torch.where(left, 0.08, 0.005)
    colour = torch.stack([torch.where(left, 0.65, 0.3), torch.where(left, 0.35, 0.6)])
    colour = torch.cat([colour, torch.full((1, SIZE), 0.4)])[:, None, :].expand(3, SIZE, SIZE)
    clean = (colour[None] + grain).clamp(0, 1)
    holes = holes_in_both_halves()
    out = texture_fill(harmonic_fill(clean * (1 - holes), holes), holes)
    left_hole, right_hole = holes.clone(), holes.clone()
    left_hole[..., SIZE // 2 :] = 0
    right_hole[..., : SIZE // 2] = 0
    for hole in (left_hole, right_hole):
        ratio = float(fine_detail(out, hole) / fine_detail(clean, hole))
        assert 0.6 < ratio < 1.4
    assert float(fine_detail(out, left_hole)) > 5 * float(fine_detail(out, right_hole))


def test_known_pixels_are_kept_bit_for_bit_and_a_seed_repeats_itself():
    clean, holes = two_textures(), holes_in_both_halves()
    smooth = harmonic_fill(clean * (1 - holes), holes)
    a, b, c = (texture_fill(smooth, holes, seed=s) for s in (0, 0, 1))
    known = holes.expand_as(a) == 0
    assert torch.equal(a[known], smooth[known])
    assert torch.equal(a, b)
    assert not torch.equal(a[~known], c[~known])  # another seed, another texture
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    own = torch.cat([smooth, smooth])  # in place, two images: the same result, into `own`
    out = texture_fill(own, torch.cat([holes, holes]), seed=0, inplace=True)
    assert out is own and torch.equal(out[:1], a)
    given = smooth.clone()
    texture_fill(given, holes, seed=0)
    assert torch.equal(given, smooth)  # not in place: the input is left as it was


def test_thin_holes_keep_the_networks_fill():
    """Within 2 pixels of the hole's edge the fill is left as it is (scratches are thin)."""
    clean = two_textures()
    holes = torch.zeros(1, 1, SIZE, SIZE)
    holes[..., 60:64, 10:120] = 1  # a 4-pixel scratch
    smooth = harmonic_fill(clean * (1 - holes), holes)
    assert torch.equal(texture_fill(smooth, holes), smooth)


def test_images_without_holes_or_without_a_source_come_back_unchanged():
    clean = two_textures(64)
    assert torch.equal(texture_fill(clean, torch.zeros(1, 1, 64, 64)), clean)
    nearly_all = torch.ones(1, 1, 64, 64)
    nearly_all[..., :3, :3] = 0  # no known patch big enough to copy from
    assert torch.equal(texture_fill(clean, nearly_all), clean)
    gray = clean.mean(1, keepdim=True)
    holes = torch.zeros(1, 1, 64, 64)
    holes[..., 20:40, 20:40] = 1
    assert texture_fill(gray, holes).shape == gray.shape
    with pytest.raises(ValueError, match="expected"):
        texture_fill(clean[0], holes)


def test_patch_features_are_dct_projections_of_luma_and_chroma():
    flat = torch.full((1, 3, 16, 16), 0.5)
    f = patch_features(flat, 7)
    assert f.shape == (12, 16, 16)
    assert torch.allclose(f[[1, 2, 3, 4, 5, 7, 8, 10, 11]], torch.zeros(9, 16, 16), atol=1e-5)
    ramp = torch.arange(16.0).repeat(16, 1)[None, None] / 16  # luma rises along x
    g = patch_features(ramp, 7)
    assert g.shape == (6, 16, 16)
    assert float(g[1, 8, 8].abs()) > 10 * float(g[2, 8, 8].abs())  # the x gradient, not y


def test_fine_detail_and_patch_swd_tell_texture_from_haze():
    clean = two_textures()
    holes = holes_in_both_halves()
    blurred = cv2.GaussianBlur(clean[0].permute(1, 2, 0).numpy(), (0, 0), 3)
    haze = torch.from_numpy(blurred).permute(2, 0, 1)[None]
    assert float(fine_detail(clean, holes)) > 5 * float(fine_detail(haze, holes))
    assert float(patch_swd(clean, clean, holes)) == 0
    other = two_textures(seed=1)  # same kind of texture, other grain: close, not equal
    assert 0 < float(patch_swd(other, clean, holes)) < 0.3 * float(patch_swd(haze, clean, holes))
    assert torch.isnan(patch_swd(clean, clean, torch.zeros(1, 1, SIZE, SIZE)))[0]


@pytest.mark.parametrize("kind", ["strokes", "blobs"])
def test_area_masks_cover_a_share_in_their_bin_and_repeat_with_the_seed(kind):
    for low, high in ((0.1, 0.2), (0.4, 0.5)):
        m = area_mask(256, 384, low, high, kind, seed=3)
        assert low <= m.mean() < high
        assert np.array_equal(m, area_mask(256, 384, low, high, kind, seed=3))
    with pytest.raises(ValueError, match="mask kind"):
        area_mask(64, 64, 0.1, 0.2, "squares", 0)


def test_bench_scores_of_the_truth_are_perfect():
    clean = (two_textures()[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    holes = holes_in_both_halves()[0, 0].numpy() > 0
    s = scores(clean, clean, holes)
    assert s["psnr"] == float("inf") and s["ssim"] == pytest.approx(1.0)
    assert s["detail"] == pytest.approx(1.0) and s["swd"] == 0


def textured_photo() -> np.ndarray:
    """An 8-bit ``(SIZE, SIZE, 3)`` photo of the two textures."""
    return (two_textures()[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def test_restorer_fills_holes_with_texture_and_keeps_everything_else(weights):
    from restore.restorer import Restorer

    textured = Restorer.from_checkpoint(weights, device="cpu", precision="fp32")
    smooth = Restorer.from_checkpoint(weights, device="cpu", precision="fp32", texture=False)
    clean = textured_photo()
    holes = holes_in_both_halves()[0, 0].numpy() > 0
    degraded = np.where(holes[..., None], 0, clean).astype(np.uint8)
    a, b = textured.inpaint(degraded, holes), smooth.inpaint(degraded, holes)
    assert np.array_equal(a[~holes], degraded[~holes]) and np.array_equal(b[~holes], a[~holes])
    assert np.array_equal(a, textured.inpaint(degraded, holes))  # the same every time
    # the texture stage runs on the network's whole-image fill
    image = torch.from_numpy(degraded).permute(2, 0, 1)[None].float() / 255
    mask = torch.from_numpy(holes)[None, None].float()
    expected = texture_fill(smooth.inpaint(image, mask), mask)
    assert torch.allclose(textured.inpaint(image, mask), expected, atol=1e-6)
    assert not np.array_equal(a[holes], b[holes])
    # no hole, no texture stage: denoising is the same with it or without it
    assert np.array_equal(textured.denoise(clean, sigma=10), smooth.denoise(clean, sigma=10))


def test_each_sample_has_its_own_seed_and_its_own_texture(weights):
    from restore.restorer import Restorer

    r = Restorer.from_checkpoint(weights, device="cpu", precision="fp32")
    clean = textured_photo()
    holes = holes_in_both_halves()[0, 0].numpy() > 0
    degraded = np.where(holes[..., None], 0, clean).astype(np.uint8)
    draws = r.sample(degraded, holes, n=3, sigma=0, seed=5)
    assert np.array_equal(draws[2], r.sample(degraded, holes, n=1, sigma=0, seed=7)[0])
    assert not np.array_equal(draws[0][holes], draws[1][holes])
    assert all(np.array_equal(d[~holes], degraded[~holes]) for d in draws)
    # at temperature 0 every draw is the deterministic fill, texture included
    still = r.sample(degraded, holes, n=2, sigma=0, seed=5, temperature=0)
    assert all(np.array_equal(d, r.inpaint(degraded, holes)) for d in still)


def test_restore_bench_inpaint_writes_its_table_rows_and_crops(weights, tmp_path):
    import csv

    from PIL import Image

    from restore.bench.inpaint import main as bench_inpaint

    folder = tmp_path / "clean"
    folder.mkdir()
    Image.fromarray(textured_photo()).save(folder / "a.png")
    out = tmp_path / "bench"
    args = ["--weights", str(weights), "--images", str(folder), "--out", str(out)]
    args += ["--bins", "0.2", "0.3", "0.4", "--kinds", "blobs", "--peers", "opencv-telea"]
    assert bench_inpaint(args) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [(r["bin"], r["method"]) for r in rows] == [
        (b, m)
        for b in ("20%-30%", "30%-40%")
        for m in ("restore", "restore-smooth", "opencv-telea")
    ]
    by = {(r["bin"], r["method"]): r for r in rows}
    for b in ("20%-30%", "30%-40%"):
        assert 0.2 <= float(by[(b, "restore")]["area"]) < 0.4
        # the texture stage: a fine-detail ratio near the truth's, closer patches than Telea's
        ours, telea = by[(b, "restore")], by[(b, "opencv-telea")]
        assert 0.7 <= float(ours["detail"]) <= 1.3 and float(telea["detail"]) < 0.5
        assert float(ours["swd"]) < float(telea["swd"])
        assert 5 < float(ours["psnr"]) < 60 and 0 < float(ours["ssim"]) <= 1
    table = (out / "results.md").read_text()
    assert "| 20%-30% |" in table and "Telea" in table
    assert (out / "crops_inpaint.png").is_file()
    per_image = list(csv.DictReader(open(out / "per_image.csv")))
    assert len(per_image) == 6


def test_texture_statistics_loss_tells_a_haze_from_a_texture_of_the_right_kind():
    from restore.training.module import texture_statistics_loss

    clean, holes = two_textures(), holes_in_both_halves()
    haze = harmonic_fill(clean * (1 - holes), holes)
    other = two_textures(seed=7)  # the same kinds of texture, other grain
    loss = {
        name: float(texture_statistics_loss(x, clean, holes))
        for name, x in (("truth", clean), ("other", other), ("haze", haze))
    }
    assert loss["truth"] == 0 and loss["other"] < 0.25 * loss["haze"]
    assert float(texture_statistics_loss(haze, clean, torch.zeros_like(holes))) == 0
    haze = haze.clone().requires_grad_()
    texture_statistics_loss(haze, clean, holes).backward()
    assert haze.grad[holes.expand_as(haze) > 0].abs().sum() > 0


def test_strong_detail_of_a_look_alike_source_does_not_land_in_a_smooth_context():
    """A nearly flat grey photo with a patch of black and white stripes of the same mean grey
    (the same structure once blurred): the hole in the flat part gets flat-part detail, not
    stripes, even where the stripes are the sources the search finds."""
    g = torch.Generator().manual_seed(0)
    clean = 0.6 + 0.005 * torch.randn(1, 1, SIZE, SIZE, generator=g)
    y = torch.arange(SIZE)[:, None].expand(SIZE, SIZE)
    stripes = 0.6 + 0.3 * torch.sign(torch.sin(y * 1.6))
    clean[..., 100:150, 10:150] = stripes[100:150, 10:150]
    clean = clean.expand(1, 3, SIZE, SIZE).clamp(0, 1)
    holes = torch.zeros(1, 1, SIZE, SIZE)
    holes[..., 20:70, 40:120] = 1
    out = texture_fill(harmonic_fill(clean * (1 - holes), holes), holes)
    assert float(fine_detail(out, holes)) < 3 * float(fine_detail(clean, holes))


def test_restore_image_smooth_fill_gives_the_networks_fill(tmp_path, weights):
    from PIL import Image

    from restore.cli import main
    from restore.io.images import read_image_file
    from restore.restorer import Restorer

    src = tmp_path / "in"
    (src / "masks").mkdir(parents=True)
    clean = textured_photo()
    holes = holes_in_both_halves()[0, 0].numpy() > 0
    Image.fromarray(clean).save(src / "a.png")
    Image.fromarray(holes.astype(np.uint8) * 255).save(src / "masks" / "a.png")
    args = [str(src / "a.png"), "--masks", str(src / "masks"), "--weights", str(weights)]
    assert main([*args, "-o", str(tmp_path / "textured")]) == 0
    assert main([*args, "-o", str(tmp_path / "smooth"), "--smooth-fill"]) == 0
    textured = read_image_file(tmp_path / "textured" / "a.png").pixels
    smooth = read_image_file(tmp_path / "smooth" / "a.png").pixels
    r = Restorer.from_checkpoint(weights, texture=False)
    degraded = np.where(holes[..., None], 0, clean).astype(np.uint8)
    assert np.array_equal(smooth, r.inpaint(degraded, holes))
    assert np.array_equal(textured[~holes], smooth[~holes]) and np.array_equal(
        textured[~holes], clean[~holes]
    )
    assert not np.array_equal(textured[holes], smooth[holes])


def test_restore_bench_inpaint_stopped_part_way_keeps_what_it_did(weights, tmp_path, monkeypatch):
    import csv

    from PIL import Image

    import restore.bench.inpaint as bench

    calls = []

    def telea_then_ctrl_c(image, holes, flag):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return cv2.inpaint(image, holes.astype(np.uint8) * 255, 5, flag)

    monkeypatch.setattr(bench, "opencv_inpaint", telea_then_ctrl_c)
    folder = tmp_path / "clean"
    folder.mkdir()
    Image.fromarray(textured_photo()).save(folder / "a.png")
    out = tmp_path / "bench"
    args = ["--weights", str(weights), "--images", str(folder), "--out", str(out), "--quiet"]
    args += ["--bins", "0.2", "0.3", "0.4", "--kinds", "blobs", "--peers", "opencv-telea"]
    assert bench.main(args) == 130
    per_image = list(csv.DictReader(open(out / "per_image.csv")))
    assert [(r["bin"], r["method"]) for r in per_image] == [
        ("20%-30%", "restore"),
        ("20%-30%", "restore-smooth"),
        ("20%-30%", "opencv-telea"),
        ("30%-40%", "restore"),
        ("30%-40%", "restore-smooth"),
    ]
    table = (out / "results.md").read_text()
    assert "Interrupted" in table and "| 30%-40% |" in table and table.count(" - |") == 1


@pytest.mark.parametrize("shape", [(8, 8), (5, 7), (40, 3), (3, 40)])
def test_tiny_images_with_holes_are_filled_without_error(shape):
    """Smaller than the blurs' reach (a thumbnail, a strip): the blur replicates the border."""
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, *shape, generator=g)
    holes = torch.zeros(1, 1, *shape)
    holes[..., 1:3, 1:3] = 1
    out = texture_fill(image, holes)
    assert out.shape == image.shape and torch.equal(
        out[holes.expand_as(out) == 0], image[holes.expand_as(image) == 0]
    )
