"""Plural completions: the sampling temperature, ``restore-image --samples`` and the measures of
``restore-bench samples``."""

from __future__ import annotations

import csv

import helpers
import numpy as np
import pytest
import torch
from PIL import Image

from restore.bench.samples import box_mask, image_scores
from restore.cli import main
from restore.io.images import read_image_file
from restore.metrics import gradient_energy
from restore.restorer import Restorer
from restore.visualize import contact_sheet

pytestmark = pytest.mark.usefixtures("one_thread")


def photo(h: int = 64, w: int = 96, seed: int = 0) -> np.ndarray:
    """:func:`helpers.photo`, height and width first."""
    return helpers.photo(seed, h, w)


def hole(h: int = 64, w: int = 96) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mask[16:48, 24:72] = True
    return mask


def test_gradient_energy_of_a_ramp_and_of_flat_and_textured_regions():
    ramp = torch.linspace(0, 1, 64).expand(1, 1, 64, 64).contiguous()
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:48, 16:48] = 1  # away from the borders
    # kornia's normalised Sobel gives the slope per pixel: 1/63 along x, 0 along y
    assert gradient_energy(ramp, mask).item() == pytest.approx((1 / 63) ** 2, rel=1e-4)
    flat = torch.full((1, 3, 64, 64), 0.5)
    noisy = flat + 0.1 * torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert gradient_energy(flat, mask).item() == 0.0
    assert gradient_energy(noisy, mask).item() > 1e-3
    # only the masked pixels count
    half = noisy.clone()
    half[..., :, 32:] = 0.5
    left = torch.zeros_like(mask)
    left[..., 16:48, 8:24] = 1
    right = torch.zeros_like(mask)
    right[..., 16:48, 40:56] = 1
    assert gradient_energy(half, right).item() == 0.0
    assert gradient_energy(half, left).item() > 1e-3


def test_temperature_zero_draws_the_deterministic_fill_and_spread_grows_with_it(restorer):
    img, mask = photo(), hole()
    fill = restorer.inpaint(img, mask)
    for draw in restorer.sample(img, mask, n=2, sigma=0, seed=0, temperature=0.0):
        np.testing.assert_array_equal(draw, fill)
    spreads = []
    for temperature in (0.5, 1.0, 2.0):
        draws = np.stack(restorer.sample(img, mask, n=4, sigma=0, seed=0, temperature=temperature))
        spreads.append(draws.astype(np.float64).std(0)[mask].mean())
        np.testing.assert_array_equal(
            draws[:, ~mask], np.broadcast_to(img[~mask], draws[:, ~mask].shape)
        )
    assert 0 < spreads[0] < spreads[1] < spreads[2]
    with pytest.raises(ValueError, match="temperature"):
        restorer.sample(img, mask, n=2, temperature=-1.0)


def test_noisy_samples_with_holes_denoise_the_known_pixels_too(restorer):
    img, mask = photo(), hole()
    draw = restorer.sample(img, mask, n=1, sigma=25.0, seed=0)[0]
    assert not np.array_equal(draw[~mask], img[~mask])


def test_bench_scores_at_temperature_zero_equal_the_fill(weights):
    restorer = Restorer.from_checkpoint(weights, device="cpu", precision="fp32")
    cold = image_scores(restorer, photo(), hole(), 3, 0.0, seed=0)
    assert cold["best"] == pytest.approx(cold["fill"], abs=1e-4)
    assert cold["mean"] == pytest.approx(cold["fill"], abs=1e-4)
    assert cold["spread"] == 0.0
    assert cold["log_energy"] == pytest.approx(cold["fill_log_energy"], abs=1e-4)
    warm = image_scores(restorer, photo(), hole(), 3, 1.0, seed=0)
    assert warm["spread"] > 0.01 and warm["best"] > warm["fill"] - 3.0


def test_box_mask_is_one_seeded_square_inside_the_image():
    a, b = box_mask(100, 120, seed=1, side=32), box_mask(100, 120, seed=2, side=32)
    assert a.sum() == 32 * 32 and a.shape == (100, 120)
    ys, xs = np.nonzero(a)
    assert ys.max() - ys.min() == 31 and xs.max() - xs.min() == 31
    assert np.array_equal(a, box_mask(100, 120, seed=1, side=32)) and not np.array_equal(a, b)


def test_contact_sheet_lays_out_labelled_thumbnails():
    images = [np.full((40, 80, 3), v, np.uint8) for v in (0, 100, 200)]
    images.append(np.full((40, 80), 1.0, np.float32))
    sheet = contact_sheet(images, ["a", "b", "c", "d"], columns=2, size=40)
    assert sheet.dtype == np.uint8 and sheet.ndim == 3 and sheet.shape[2] == 3
    assert sheet.shape[1] == 2 * (40 + 8)  # thumbnails 40 x 20, padded by 4 each side
    assert sheet[4:24, 4:44].max() == 0 and (sheet[4:24, 52:92] == 100).all()
    with pytest.raises(ValueError, match="differ"):
        contact_sheet([images[0], np.zeros((10, 10, 3), np.uint8)], ["a", "b"])


def test_restore_image_writes_seeded_samples_and_a_sheet(tmp_path, capsys, weights):
    src = tmp_path / "in"
    (src / "masks").mkdir(parents=True)
    img, mask = photo(), hole()
    Image.fromarray(img).save(src / "cat.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(src / "masks" / "cat.png")
    args = [str(src / "cat.png"), "--masks", str(src / "masks"), "--weights", str(weights)]
    args += ["--device", "cpu", "--samples", "3"]
    assert main([*args, "-o", str(tmp_path / "a"), "--seed", "5"]) == 0
    assert main([*args, "-o", str(tmp_path / "b"), "--seed", "5"]) == 0
    assert main([*args, "-o", str(tmp_path / "c"), "--seed", "6"]) == 0
    capsys.readouterr()
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == [
        "cat.png",
        "cat_sample1.png",
        "cat_sample2.png",
        "cat_sample3.png",
        "cat_samples.png",
    ]
    draws = [read_image_file(tmp_path / "a" / f"cat_sample{k}.png").pixels for k in (1, 2, 3)]
    for k, draw in enumerate(draws, 1):
        assert draw.shape == img.shape
        np.testing.assert_array_equal(draw[~mask], img[~mask])  # known pixels kept
        again = read_image_file(tmp_path / "b" / f"cat_sample{k}.png").pixels
        np.testing.assert_array_equal(draw, again)  # the same seed, the same samples
    assert not np.array_equal(draws[0][mask], draws[1][mask])
    other = read_image_file(tmp_path / "c" / "cat_sample1.png").pixels
    assert not np.array_equal(other, draws[0])
    np.testing.assert_array_equal(other, draws[1])  # sample k has seed S + k - 1: 6 = 5 + 1
    sheet = read_image_file(tmp_path / "a" / "cat_samples.png").pixels
    assert sheet.shape[2] == 3 and sheet.shape[1] == 4 * (96 + 8)  # 5 pictures, 4 to a row
    with pytest.raises(SystemExit) as usage_error:
        main([*args[:-2], "--samples", "-1", "-o", str(tmp_path / "d")])
    assert usage_error.value.code == 2 and not (tmp_path / "d").exists()


def test_side_files_that_would_clash_are_refused_before_anything_is_written(tmp_path, weights):
    Image.fromarray(photo()).save(tmp_path / "a.png")
    Image.fromarray(photo()).save(tmp_path / "a.jpg")  # both would write a_samples.png
    args = [str(tmp_path), "-o", str(tmp_path / "out"), "--weights", str(weights)]
    with pytest.raises(SystemExit) as usage_error:
        main([*args, "--samples", "2"])
    assert usage_error.value.code == 2 and not (tmp_path / "out").exists()


def test_an_input_named_like_a_side_file_is_not_overwritten(tmp_path, capsys, weights):
    Image.fromarray(photo()).save(tmp_path / "x.png")
    Image.fromarray(photo(seed=1)).save(tmp_path / "x_r_sample1.png")  # x_r.png's first sample
    with pytest.raises(SystemExit) as usage_error:
        main([str(tmp_path), "-o", str(tmp_path), "--suffix", "_r", "--samples", "1",
              "--weights", str(weights)])  # fmt: skip
    assert usage_error.value.code == 2
    assert "x_r_sample1.png would overwrite the input" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png", "x_r_sample1.png"]


def test_a_failed_side_file_leaves_no_output_for_skip_existing_to_skip(
    tmp_path, capsys, weights, monkeypatch
):
    import restore.io.images as images

    write = images.write_image_file

    def failing(path, *rest, **kw):
        if str(path).endswith("_samples.png"):
            raise OSError(f"{path}: disk full")
        return write(path, *rest, **kw)

    monkeypatch.setattr(images, "write_image_file", failing)
    Image.fromarray(photo()).save(tmp_path / "a.png")
    out = tmp_path / "out"
    args = [str(tmp_path / "a.png"), "-o", str(out), "--samples", "2", "--weights", str(weights)]
    assert main([*args, "--device", "cpu"]) == 1
    assert "disk full" in capsys.readouterr().err
    assert not (out / "a.png").exists()  # the output is written last


def test_restore_bench_samples_writes_its_table_and_rows(weights, tmp_path):
    from restore.bench.samples import main as bench_samples

    folder = tmp_path / "clean"
    folder.mkdir()
    Image.fromarray(photo(128, 160)).save(folder / "a.png")
    out = tmp_path / "bench"
    args = ["--weights", str(weights), "--images", str(folder), "--samples", "2", "--out", str(out)]
    assert bench_samples(args) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["hole"] for r in rows] == ["box96", "medium"]
    assert all(r["images"] == "1" and 5 < float(r["fill"]) < 60 for r in rows)
    table = (out / "results.md").read_text()
    assert f"| box96 | 1 | 1 | {float(rows[0]['fill']):.2f} |" in table
