"""The damage head: it finds synthetic damage after a little training, without changing the
restoration; Restorer.detect_damage and restore-image --auto-mask."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import SMALL

import restore.restorer as restorer_module
from restore import Restorer
from restore.corruption import Corruption, Damage, GaussianNoise, Scratches
from restore.data import synthetic_image
from restore.geometry import pad_border
from restore.metrics import damage_auroc, damage_average_precision
from restore.models import RestorationVAE
from restore.models.weights import export_weights, load_net

pytestmark = pytest.mark.usefixtures("one_thread")


def _images(n: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.stack(
        [
            torch.from_numpy(synthetic_image(3, (size, size), seed=seed + i)).permute(2, 0, 1)
            for i in range(n)
        ]
    ).float()


def test_the_head_starts_near_two_percent_and_leaves_the_restoration_alone():
    torch.manual_seed(0)
    with_head = RestorationVAE(**SMALL, damage=True).eval()
    torch.nn.init.normal_(with_head.head.weight, std=0.02)
    plain = RestorationVAE(**SMALL).eval()
    plain.load_state_dict(
        {k: v for k, v in with_head.state_dict().items() if not k.startswith("damage_head")}
    )
    x = torch.rand(2, 3, 40, 56)
    assert torch.equal(with_head.restore(x), plain.restore(x))
    p = with_head.detect_damage(x)
    assert p.shape == (2, 1, 40, 56) and torch.allclose(p, torch.full_like(p, 0.018), atol=1e-3)
    with pytest.raises(ValueError, match="no damage head"):
        plain.detect_damage(x)


def _smooth_images(n: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    """Smooth colour fields (bilinear from 4x4): anything thin and sharp on them is damage."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 4, 4, generator=g)
    return F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


def test_a_briefly_trained_head_finds_scratches():
    """300 steps of the head alone on smooth images with noise and scratches: held-out pixel AP
    far above the share of scratched pixels (what a random detector scores), AUROC near 1."""
    torch.manual_seed(0)
    net = RestorationVAE(**SMALL, damage=True)
    corruption = Corruption(
        noise=[GaussianNoise((0, 10))],
        damage=Damage(
            [Scratches(count=(1, 3), width=(1, 3), length=(30, 90), opacity=(0.6, 1.0))],
            reference_size=None,
        ),
    )
    optimizer = torch.optim.Adam(net.damage_head.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)
    for step in range(300):
        clean = _smooth_images(8, seed=step)
        result = corruption(clean, generator=g)
        out = net(result.degraded, result.mask, clean, decode_prior=True)
        loss = F.binary_cross_entropy_with_logits(out.prior_damage_logit, result.damage)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test = corruption(_smooth_images(8, seed=99_999), generator=torch.Generator().manual_seed(7))
    found = net.eval().detect_damage(test.degraded)
    share = float(test.damage.mean())
    ap = float(damage_average_precision(found, test.damage).nanmean())
    auroc = float(damage_auroc(found, test.damage).nanmean())
    assert ap > 0.6 and ap > 5 * share, (ap, share)
    assert auroc > 0.9, auroc


def test_training_step_adds_the_damage_loss():
    from restore.training.module import TrainingModule

    corruption = Corruption(noise=[GaussianNoise(10)], damage=Damage(["scratches"]))
    module = TrainingModule(
        RestorationVAE(**SMALL, damage=True),
        corruption,
        {"damage": corruption},
        optimizer=torch.optim.AdamW,
        trainable=["damage_head"],
    )
    logged = {}
    module.log_dict = lambda values, **kwargs: logged.update(values)
    module.training_step(_images(2), 0)
    assert float(logged["train/damage_bce"].detach()) > 0


# ------------------------------------------------------------------------------------------------
# Restorer and restore-image


def _photo_folder(folder, count: int, size: tuple[int, int]):
    """``folder`` with ``count`` synthetic 8-bit RGB photos of ``size``, ``0.png`` ..."""
    from PIL import Image

    folder.mkdir()
    for i in range(count):
        pixels = (synthetic_image(3, size, seed=i) * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")
    return folder


def _model(tmp_path, seed: int = 0):
    torch.manual_seed(seed)
    net = RestorationVAE(**SMALL, damage=True)
    torch.nn.init.normal_(net.damage_head[-1].weight, std=3.0)
    torch.nn.init.constant_(net.damage_head[-1].bias, -1.0)  # finds some pixels, not all
    torch.nn.init.normal_(net.head.weight, std=0.02)
    return export_weights(net, tmp_path / "damage.pt")


def test_restorer_detect_damage_layouts(tmp_path):
    r = Restorer(load_net(_model(tmp_path)), device="cpu", precision="fp32")
    image = (np.random.default_rng(0).random((48, 80, 3)) * 255).astype(np.uint8)
    p = r.detect_damage(image)
    assert p.shape == (48, 80) and p.dtype == np.float32 and 0 <= p.min() and p.max() <= 1
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    border = restorer_module.BORDER  # the Restorer mirrors the image beyond its edges
    expected = r.net.detect_damage(pad_border(x, border))[0, 0, border:-border, border:-border]
    expected = expected.numpy()
    np.testing.assert_allclose(p, expected, atol=1e-5)
    batch = r.detect_damage(x)
    assert batch.shape == (1, 1, 48, 80)
    tiled = Restorer(r.net, device="cpu", precision="fp32", tile=32, tile_overlap=8)
    assert np.abs(tiled.detect_damage(image) - p).mean() < 0.05


def test_restore_image_auto_mask_repairs_what_it_finds_and_writes_the_mask(tmp_path, capsys):
    import cv2
    from PIL import Image

    from restore.cli import main
    from restore.io.images import read_image_file

    weights = _model(tmp_path)
    image = (np.random.default_rng(1).random((48, 64, 3)) * 255).astype(np.uint8)
    (tmp_path / "in").mkdir()
    Image.fromarray(image).save(tmp_path / "in" / "old.png")
    alpha = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (48, 1))  # scans come as RGBA too
    Image.fromarray(np.dstack([image, alpha])).save(tmp_path / "in" / "rgba.png")
    out = tmp_path / "out"
    args = [str(tmp_path / "in"), "-o", str(out), "--weights", str(weights), "--device", "cpu"]
    assert main([*args, "--auto-mask", "--mask-threshold", "0.5"]) == 0
    names = ["old.png", "old_mask.png", "rgba.png", "rgba_mask.png"]
    assert sorted(p.name for p in out.iterdir()) == names
    mask = read_image_file(out / "old_mask.png").pixels
    r = Restorer(load_net(weights), device="cpu", precision="bf16")
    found = r.detect_damage(image) > 0.5
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))  # grown by 1 px (default)
    found = cv2.dilate(found.astype(np.uint8), kernel) > 0
    assert mask.shape == (48, 64) and set(np.unique(mask)) <= {0, 255}
    # The written mask is the detection (bf16 on the command line: a few pixels may differ).
    assert ((mask > 0) != found).mean() < 0.02 and found.any()
    restored = read_image_file(out / "old.png").pixels
    keep = mask == 0
    assert np.array_equal(restored[keep], image[keep])  # only the found pixels change
    rgba = read_image_file(out / "rgba.png").pixels
    assert rgba.shape == (48, 64, 4) and np.array_equal(rgba[:, :, 3], alpha)
    assert np.array_equal(read_image_file(out / "rgba_mask.png").pixels, mask)
    assert np.array_equal(rgba[:, :, :3], restored)
    with pytest.raises(SystemExit) as usage:
        main([*args[:2], str(tmp_path / "o2"), *args[3:], "--auto-mask", "--masks", str(out)])
    assert usage.value.code == 2 and "--auto-mask" in capsys.readouterr().err


def test_restorer_repair_fills_the_grown_detection_and_keeps_the_rest(tmp_path):
    import cv2

    r = Restorer(load_net(_model(tmp_path)), device="cpu", precision="fp32")
    image = (np.random.default_rng(2).random((48, 64, 3)) * 255).astype(np.uint8)
    level = float(np.quantile(r.detect_damage(image), 0.97))  # a few pixels, grown
    repaired, found = r.repair(image, threshold=level, grow=2)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    expected = cv2.dilate((r.detect_damage(image) > level).astype(np.uint8), kernel) > 0
    assert found.dtype == bool and np.array_equal(found, expected)
    assert 0.03 < found.mean() < 0.5
    assert np.array_equal(repaired, r.inpaint(image, found))
    assert np.array_equal(repaired[~found], image[~found])
    # Tensors: the same mask in the tensor layout, grown by kornia instead of OpenCV.
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    repaired_x, found_x = r.repair(x, threshold=level, grow=2)
    assert found_x.shape == (1, 1, 48, 64) and np.array_equal(found_x[0, 0].numpy(), found)
    assert repaired_x.shape == x.shape
    # Denoising too (sigma None: blind) changes the known pixels; nothing found: an exact copy.
    denoised, _ = r.repair(image, sigma=None, threshold=level, grow=2)
    assert not np.array_equal(denoised[~found], image[~found])
    p_max = float(r.detect_damage(image).max())
    untouched, none_found = r.repair(image, threshold=min(p_max + 1e-4, 0.9999))
    assert not none_found.any() and np.array_equal(untouched, image) and untouched is not image
    with pytest.raises(ValueError, match="threshold"):
        r.repair(image, threshold=1.0)


def test_restore_bench_damage_table(tmp_path, capsys):
    from PIL import Image

    from restore.bench.cli import main

    folder = _photo_folder(tmp_path / "clean", 2, (96, 128))
    args = ["damage", "--images", str(folder), "--kinds", "scratches", "mixed"]
    args += ["--out", str(tmp_path / "bench")]
    assert main([*args, "--weights", str(_model(tmp_path))]) == 0
    assert "| scratches" in (tmp_path / "bench" / "results.md").read_text()
    assert "ap" in (tmp_path / "bench" / "results.csv").read_text().splitlines()[0]
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split("|")[1:-1] for line in lines if line.startswith(("| scratches", "| mixed"))]
    assert len(rows) == 2
    for row in rows:
        share, ap, auroc, precision, recall = (float(v) for v in row[2:7])
        damaged, _, _, telea_true, _ = (float(v) for v in row[7:])
        assert 0 < share < 0.5 and 0 <= ap <= 1 and 0 <= auroc <= 1
        assert 0 <= precision <= 1 and 0 <= recall <= 1
        if row[0].strip() == "scratches":  # filling the true scratches repairs them
            assert telea_true > damaged + 0.3, (telea_true, damaged)
    net = load_net(_model(tmp_path))
    probability = [
        Restorer(net, device="cpu", precision="fp32").detect_damage(
            np.asarray(Image.open(folder / f"{i}.png"))
        )
        for i in range(2)
    ]
    net.damage_threshold = 0.6  # marked: above the model's threshold, and above 0.5
    fp_args = ["damage", "--images", str(folder), "--kinds", "--out", str(tmp_path / "bench3")]
    assert main([*fp_args, "--weights", str(export_weights(net, tmp_path / "t.pt"))]) == 0
    fp = capsys.readouterr().out.split("false positives on the 2 undamaged images: ")[1]
    found = re.match(r"marked \(p > 0.60, the model's threshold\) (\S+) .*at p > 0.5 (\S+) ", fp)
    assert found, fp
    for value, level in zip(found.groups(), (0.6, 0.5), strict=True):
        expected = np.mean([(p > level).mean() for p in probability])
        assert float(value) == pytest.approx(expected, abs=1e-3)
    assert float(found[1]) < float(found[2])
    independent = ["damage", "--images", str(folder), "--generator", "independent"]
    independent += ["--out", str(tmp_path / "bench2")]
    assert main([*independent, "--kinds", "hairs", "--weights", str(_model(tmp_path))]) == 0
    assert any(line.startswith("| hairs") for line in capsys.readouterr().out.splitlines())
    plain = RestorationVAE(**SMALL)
    assert main([*args, "--weights", str(export_weights(plain, tmp_path / "plain.pt"))]) == 2
    assert "no damage head" in capsys.readouterr().err


def test_the_independent_generator_draws_thin_damage_and_marks_what_it_changed():
    from restore.bench.independent_damage import independent_damage

    clean = (synthetic_image(4, (128, 160), seed=0) * 255).round().astype(np.uint8)
    for kind in ("scratches", "dust", "hairs", "mixed"):
        damaged, mask = independent_damage(clean, kind, seed=3)
        assert damaged.shape == clean.shape and damaged.dtype == np.uint8
        assert 0 < mask.mean() < 0.1, kind
        changed = np.abs(damaged.astype(int) - clean).max(-1) > 30
        assert (changed & ~mask).mean() < 0.002  # what changed much is marked
    again, _ = independent_damage(clean, "mixed", seed=3)
    assert np.array_equal(again, independent_damage(clean, "mixed", seed=3)[0])
    with pytest.raises(ValueError, match="kind"):
        independent_damage(clean, "stains", seed=0)


def test_repair_leaves_wide_regions_alone_and_the_report_says_how_much_was_filled(tmp_path, capsys):
    import csv

    from PIL import Image

    from restore.cli import main
    from restore.io.images import read_image_file

    r = Restorer(load_net(_model(tmp_path)), device="cpu", precision="fp32")
    image = (np.random.default_rng(3).random((48, 64, 3)) * 255).astype(np.uint8)
    probability = np.zeros((48, 64), np.float32)
    probability[5:7, 4:60] = 0.9  # a scratch, 2 px wide
    probability[20:44, 10:40] = 0.9  # a blob 24 px wide: more likely part of the picture
    _, found = r.repair(image, probability=probability, grow=0)
    assert found[5:7, 4:60].all() and not found[20:44, 10:40].any()
    _, everything = r.repair(image, probability=probability, grow=0, max_width=None)
    assert everything[20:44, 10:40].all()
    (tmp_path / "in").mkdir()
    Image.fromarray(image).save(tmp_path / "in" / "a.png")
    report = tmp_path / "r.csv"
    args = [str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--auto-mask", "--report"]
    assert main([*args, str(report), "--weights", str(_model(tmp_path)), "--device", "cpu"]) == 0
    row = next(csv.DictReader(report.read_text().splitlines()))
    mask = read_image_file(tmp_path / "out" / "a_mask.png").pixels > 0
    assert float(row["filled"]) == pytest.approx(mask.mean(), abs=1e-4)


def test_the_damage_threshold_travels_with_the_weights_and_is_the_repairs_default(tmp_path):
    net = load_net(_model(tmp_path))
    assert net.damage_threshold == 0.5  # a file written before the threshold was fitted: 0.5
    net.damage_threshold = 0.73
    loaded = load_net(export_weights(net, tmp_path / "t.pt"))
    assert loaded.damage_threshold == pytest.approx(0.73)
    r = Restorer(loaded, device="cpu", precision="fp32")
    image = (np.random.default_rng(4).random((48, 64, 3)) * 255).astype(np.uint8)
    probability = np.full((48, 64), 0.1, np.float32)
    probability[5:7, 4:60] = 0.9  # above the model's threshold
    probability[30:32, 4:60] = 0.6  # above 0.5 only
    _, found = r.repair(image, probability=probability, grow=0)
    assert found[5:7, 4:60].all() and found.sum() == 2 * 56
    _, half = r.repair(image, probability=probability, grow=0, threshold=0.5)
    assert half.sum() == 4 * 56
    payload = torch.load(tmp_path / "t.pt", weights_only=False)
    for bad in (1.5, 0.0, "0.7", True):
        payload["config"]["damage_threshold"] = bad
        torch.save(payload, tmp_path / "bad.pt")
        with pytest.raises(ValueError, match=r"bad\.pt.*damage_threshold"):
            load_net(tmp_path / "bad.pt")


def test_the_damage_threshold_fit_takes_the_threshold_whose_repair_is_best(tmp_path):
    """A detector that gives the damage 0.9 and an undamaged textured stripe 0.6, and a fill that
    restores damage but not texture: every threshold from 0.6 to 0.85 repairs the damage alone
    (the best PSNR, the lowest of them chosen), 0.5 and 0.55 paint over the stripe too, 0.9 and
    above repair nothing."""
    from PIL import Image

    from restore.training.calibration import DAMAGE_THRESHOLDS, fit_damage_threshold

    rng = np.random.default_rng(5)
    cleans, files = {}, []
    for i, shape in enumerate([(128, 160, 3), (144, 160, 3)]):
        clean = (rng.random(shape) * 255).astype(np.uint8)
        cleans[shape] = clean
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(clean).save(files[-1])
    stripe = np.zeros((1000, 1000), bool)
    stripe[:, :4] = True

    def detect(damaged):
        clean = cleans[damaged.shape]
        damage = np.abs(damaged.astype(int) - clean).max(2) > 5
        p = np.where(stripe[: clean.shape[0], : clean.shape[1]], 0.6, 0.1)
        return np.where(damage, 0.9, p).astype(np.float32)

    def inpaint(damaged, found):
        clean = cleans[damaged.shape]
        out = damaged.copy()
        out[found] = np.minimum(clean[found], 254) + 1  # the damage restored, to a grey level
        out[found & (np.arange(clean.shape[1]) < 6)] = 0  # the texture is not
        return out

    r = Restorer(load_net(_model(tmp_path)), device="cpu", precision="fp32")
    r.detect_damage, r.inpaint = detect, inpaint
    threshold, scores = fit_damage_threshold(r, files, seed=0, crop=512)
    assert list(scores) == list(DAMAGE_THRESHOLDS) and threshold == 0.6
    assert scores[0.5] == scores[0.55] < scores[0.6] - 1.0
    assert all(scores[t] == scores[0.6] for t in DAMAGE_THRESHOLDS if 0.6 <= t < 0.9)
    assert scores[0.9] == scores[0.95] < scores[0.6] - 1.0


def test_restore_calibrate_fits_the_damage_threshold_on_the_validation_photos(tmp_path, capsys):
    from restore.calibrate import main
    from restore.training.calibration import DAMAGE_THRESHOLDS

    photos = _photo_folder(tmp_path / "photos", 6, (64, 80))
    config = ["--config", "data=folder", f"data.root={photos}", "data.val_fraction=0.34"]
    weights = str(_model(tmp_path))
    assert main([weights, str(tmp_path / "t.pt"), *config]) == 0  # the heads it has: damage
    out = capsys.readouterr().out
    assert "fitted on 2 validation photos with damage" in out and "uncertainty" not in out
    fitted = load_net(tmp_path / "t.pt")
    assert fitted.damage_threshold in DAMAGE_THRESHOLDS
    assert f"damage threshold {fitted.damage_threshold:.2f}" in out
    assert main([weights, str(tmp_path / "u.pt"), "--fit", "uncertainty", *config]) == 2
    assert "no uncertainty head" in capsys.readouterr().err and not (tmp_path / "u.pt").exists()


def test_restore_bench_damage_marks_counts_the_marks_a_repair_fills(tmp_path, capsys, monkeypatch):
    from restore.bench.cli import main
    from restore.bench.marks import BACKGROUNDS, MARKS, marks_image

    out = tmp_path / "marks"
    args = ["damage", "--marks", "--out", str(out), "--weights", str(_model(tmp_path))]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert f"of {len(MARKS) * len(BACKGROUNDS)}" in text
    assert len((out / "results.csv").read_text().splitlines()) == len(MARKS) + 2  # + header, rest

    def every_dot(self, image, **kwargs):  # a repair that finds the dots and nothing else
        masks = next(m for b in BACKGROUNDS if np.array_equal((m := marks_image(b))[0], image))[1]
        dots = [k for mark, k in zip(MARKS, masks, strict=True) if mark.shape == "dot"]
        return image, np.any(dots, 0)

    monkeypatch.setattr(Restorer, "repair", every_dot)
    assert main(args) == 0
    text = capsys.readouterr().out
    dots = sum(mark.shape == "dot" for mark in MARKS)
    assert f"marks filled (>= 90 % of their pixels): {dots * len(BACKGROUNDS)} of" in text
    assert "| white dot 6 px | 1.00 | 1.00 | 1.00 |" in text
    assert "| white line 1 px | 0.00 | 0.00 | 0.00 |" in text
    assert "| rest (false positives) | 0.000 % | 0.000 % | 0.000 % |" in text
