"""Per-pixel uncertainty: the head, its loss, the metrics, Restorer.uncertainty and init_from."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import SMALL
from PIL import Image

from restore import Restorer
from restore.geometry import pad_border
from restore.metrics import ause, calibration_error, gaussian_nll, interval_coverage
from restore.models import RestorationVAE
from restore.models.calibration import UncertaintyCalibration
from restore.models.noise_level import residual_level
from restore.models.weights import export_weights, init_from, load_net
from restore.restorer import BORDER
from restore.training.module import scale_nll_loss

pytestmark = pytest.mark.usefixtures("one_thread")


def _net(uncertainty: bool = True, seed: int = 0) -> RestorationVAE:
    torch.manual_seed(seed)
    net = RestorationVAE(**SMALL, uncertainty=uncertainty)
    torch.nn.init.normal_(net.head.weight, std=0.02)
    if uncertainty:
        torch.nn.init.normal_(net.scale_head[-1].weight, std=0.05)
    return net.eval()


# ------------------------------------------------------------------------------------------------
# Metrics on errors drawn with a known standard deviation


def _drawn(std_scale: float = 1.0, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    restored = torch.rand(2, 3, 64, 64, generator=g)
    std = 0.01 + 0.1 * torch.rand(2, 3, 64, 64, generator=g)  # heteroscedastic
    clean = restored + std * torch.randn(2, 3, 64, 64, generator=g)
    return restored, std * std_scale, clean


def test_coverage_and_calibration_error_of_a_calibrated_and_of_a_too_narrow_std():
    restored, std, clean = _drawn()
    for level in (0.5, 0.9):
        coverage = interval_coverage(restored, std, clean, level)
        assert torch.allclose(coverage, torch.tensor(level), atol=0.015), coverage
    assert calibration_error(restored, std, clean).max() < 0.01
    narrow = interval_coverage(restored, std * 0.5, clean)
    assert (0.55 < narrow).all() and (narrow < 0.62).all()  # 2 * Phi(0.822) - 1 = 0.589
    assert calibration_error(restored, std * 0.5, clean).min() > 0.15


def test_ause_is_zero_for_a_perfect_ordering_and_larger_for_a_random_one():
    restored, std, clean = _drawn()
    perfect = (clean - restored).abs()
    assert ause(restored, perfect, clean).abs().max() < 1e-6
    informative = ause(restored, std, clean)
    random_std = torch.rand(std.shape, generator=torch.Generator().manual_seed(5))
    uninformative = ause(restored, random_std, clean)
    assert (informative < 0.6 * uninformative).all(), (informative, uninformative)


def test_known_pixels_with_zero_std_are_left_out():
    restored, std, clean = _drawn()
    std[..., :32] = 0
    clean[..., :32] += 5.0  # would be far outside every interval if counted
    assert torch.allclose(interval_coverage(restored, std, clean), torch.tensor(0.9), atol=0.02)
    assert gaussian_nll(restored, std, clean).isfinite().all()


def test_scale_nll_is_smallest_at_the_true_scale():
    restored, std, clean = _drawn()
    losses = [float(scale_nll_loss(restored, (std * f).log(), clean)) for f in (0.5, 1.0, 2.0)]
    assert losses[1] < losses[0] and losses[1] < losses[2]


# ------------------------------------------------------------------------------------------------
# The head


def test_the_head_does_not_change_the_restoration_nor_train_it():
    with_head, without = _net(True), _net(False)
    without.load_state_dict(
        {k: v for k, v in with_head.state_dict().items() if not k.startswith("scale_head")}
    )
    x = torch.rand(1, 3, 32, 48)
    restored, std = with_head.restore_with_uncertainty(x)
    assert torch.equal(restored, without.restore(x))
    assert std.shape == x.shape and (std > 0).all()
    # Gradients of the scale loss reach the head only.
    with_head.train()
    out = with_head(x, None, x.clamp(0, 1), decode_prior=True)
    scale_nll_loss(out.prior_reconstruction.detach(), out.prior_log_scale, x).backward()
    touched = {n.split(".")[0] for n, p in with_head.named_parameters() if p.grad is not None}
    assert touched == {"scale_head"}


def test_restore_with_uncertainty_is_zero_on_copied_known_pixels_and_scaled():
    net = _net()
    x, mask = torch.rand(1, 3, 32, 32), torch.zeros(1, 1, 32, 32)
    mask[..., 8:20, 8:20] = 1
    _, std = net.restore_with_uncertainty(x, mask, keep_known=True)
    assert (std[..., mask[0, 0] == 0] == 0).all() and (std[..., mask[0, 0] == 1] > 0).all()
    _, base = net.restore_with_uncertainty(x)
    net.calibration = UncertaintyCalibration(2.0)
    assert torch.allclose(net.restore_with_uncertainty(x)[1], 2 * base)


def test_models_without_the_head_say_so():
    with pytest.raises(ValueError, match="no uncertainty head"):
        _net(False).restore_with_uncertainty(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="no uncertainty head"):
        Restorer(_net(False), device="cpu").uncertainty(np.zeros((16, 16, 3), np.uint8))


def test_export_keeps_the_head_and_the_scale_and_old_configs_load(tmp_path):
    net = _net()
    net.calibration = UncertaintyCalibration(1.7)
    loaded = load_net(export_weights(net, tmp_path / "u.pt"))
    assert loaded.calibration.scale == pytest.approx(1.7) and loaded.scale_head is not None
    plain = load_net(export_weights(_net(False), tmp_path / "plain.pt"))
    assert plain.scale_head is None and "uncertainty" not in plain.config


def test_init_from_a_model_without_the_head_keeps_its_restoration(tmp_path):
    source = _net(False)
    target = RestorationVAE(**SMALL, uncertainty=True).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing a user could act on
        init_from(target, export_weights(source, tmp_path / "src.pt"))
    x = torch.rand(1, 3, 32, 32)
    assert torch.allclose(target.restore(x), source.restore(x), atol=1e-3)  # fp16 export
    # The new head starts at a constant 5 grey levels.
    _, std = target.restore_with_uncertainty(x)
    assert torch.allclose(std, torch.full_like(std, 5 / 255), rtol=1e-5)


def test_only_the_named_parameters_train():
    from omegaconf import OmegaConf

    from restore.corruption import Corruption, GaussianNoise
    from restore.training.module import TrainingModule

    corruption = Corruption(noise=[GaussianNoise(25)])
    module = TrainingModule(
        _net(),
        corruption,
        {"gauss25": corruption},
        optimizer=lambda params: torch.optim.AdamW(params, lr=1e-3),
        trainable=OmegaConf.create(["scale_head"]),  # as Hydra passes it
    )
    # Plain types in the checkpoint (it must load with torch.load(weights_only=True)).
    assert type(module.hparams.trainable) is list
    trained = {n for n, p in module.net.named_parameters() if p.requires_grad}
    assert trained and all(n.startswith("scale_head.") for n in trained)
    optimizer = module.configure_optimizers()
    assert sum(p.numel() for g in optimizer.param_groups for p in g["params"]) == sum(
        p.numel() for n, p in module.net.named_parameters() if n in trained
    )
    with pytest.raises(ValueError, match="names no parameter"):
        TrainingModule(
            _net(), corruption, {"g": corruption}, optimizer=torch.optim.AdamW, trainable=["x"]
        )


# ------------------------------------------------------------------------------------------------
# Restorer.uncertainty


def test_restorer_uncertainty_layouts_units_and_tiles():
    net = _net()
    image = (np.random.default_rng(0).random((80, 112, 3)) * 255).astype(np.uint8)
    whole = Restorer(net, device="cpu", precision="fp32").uncertainty(image)
    assert whole.shape == (80, 112) and whole.dtype == np.float32
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    b = BORDER  # the Restorer mirrors the image beyond its edges
    _, std = net.restore_with_uncertainty(pad_border(x, b))
    std = std[..., b:-b, b:-b]
    expected = std.square().mean(1).sqrt()[0].numpy() * 255  # grey levels, RMS over channels
    np.testing.assert_allclose(whole, expected, rtol=1e-4, atol=1e-4)
    tiled = Restorer(net, device="cpu", precision="fp32", tile=64, tile_overlap=16)
    np.testing.assert_allclose(tiled.uncertainty(image), whole, atol=0.15 * whole.mean())
    batch = Restorer(net, device="cpu", precision="fp32").uncertainty(x)
    assert batch.shape == (1, 1, 80, 112) and torch.allclose(
        batch[0, 0], torch.from_numpy(whole), atol=1e-3
    )
    gray = Restorer(net, device="cpu", precision="fp32").uncertainty(image[..., 0])
    assert gray.shape == (80, 112)


def test_restore_image_writes_the_uncertainty_map_and_picture(tmp_path, capsys):
    from PIL import Image

    from restore.cli import main
    from restore.io.images import read_image_file

    weights = export_weights(_net(), tmp_path / "u.pt")
    image = (np.random.default_rng(1).random((48, 64, 3)) * 255).astype(np.uint8)
    (tmp_path / "in").mkdir()
    Image.fromarray(image).save(tmp_path / "in" / "a.png")
    args = [str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--weights", str(weights)]
    assert main([*args, "--uncertainty", "--device", "cpu"]) == 0
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "a.png",
        "a_uncertainty.png",
        "a_uncertainty.tif",
    ]
    std = read_image_file(out / "a_uncertainty.tif").pixels
    assert std.shape == (48, 64) and std.dtype == np.float32
    expected = Restorer(load_net(weights), device="cpu", precision="fp32").uncertainty(image)
    np.testing.assert_allclose(std, expected, rtol=0.05)  # the command line runs in bfloat16
    picture = read_image_file(out / "a_uncertainty.png").pixels
    assert picture.shape == (48 + 28, 64, 3) and picture.dtype == np.uint8
    # Without the head: the run fails with a message and writes nothing.
    plain = export_weights(_net(False), tmp_path / "plain.pt")
    code = main(
        [str(tmp_path / "in"), "-o", str(tmp_path / "o2"), "--weights", str(plain), "--uncertainty"]
    )
    assert code == 1 and "uncertainty head" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()


# ------------------------------------------------------------------------------------------------
# Calibration that follows the noise level, and a scale of its own in holes


def test_residual_level_is_the_rms_over_known_pixels_in_grey_levels():
    restored = torch.full((2, 3, 16, 16), 0.5)
    degraded = restored + 0.04
    degraded[1] = restored[1]
    mask = torch.zeros(2, 1, 16, 16)
    mask[..., :8, :] = 1
    degraded[:, :, :8] = 1.0  # what holes hold does not count
    level = residual_level(degraded, restored, mask)
    assert level.shape == (2, 1, 1, 1)
    assert level[0].item() == pytest.approx(0.04 * 255, rel=1e-4)
    assert level[1].item() == 0.5  # the floor


def test_calibration_follows_the_noise_level_and_holes_have_their_own_scale(tmp_path):
    net = _net()
    clean, mask = torch.rand(1, 3, 32, 32), torch.zeros(1, 1, 32, 32)
    mask[..., 8:20, 8:20] = 1
    noisy = (clean + 0.1 * torch.randn(1, 3, 32, 32)).clamp(0, 1)
    restored, raw = net.restore_with_uncertainty(noisy, mask)
    level = residual_level(noisy, restored, mask)
    net.calibration = UncertaintyCalibration(2.0, noise_exponent=0.5, hole_scale=3.0)
    _, std = net.restore_with_uncertainty(noisy, mask)
    hole = mask.expand_as(std) > 0
    torch.testing.assert_close(std[hole], 3.0 * raw[hole])
    torch.testing.assert_close(std[~hole], 2.0 * (level / 10).sqrt().item() * raw[~hole])
    loaded = load_net(export_weights(net, tmp_path / "c.pt"))
    assert loaded.calibration == UncertaintyCalibration(2.0, 0.5, 3.0)
    assert "uncertainty_scale" not in loaded.config  # the network's config is the network's
    net.calibration = UncertaintyCalibration(1.5)  # one scale everywhere: the older files' keys
    payload = torch.load(export_weights(net, tmp_path / "d.pt"), weights_only=True)
    assert payload["config"]["uncertainty_scale"] == 1.5
    assert "uncertainty_noise_exponent" not in payload["config"]
    assert load_net(tmp_path / "d.pt").calibration.holes == 1.5
    with pytest.raises(ValueError, match="must be > 0"):
        UncertaintyCalibration(1.0, hole_scale=0.0)


def test_calibration_gradient_term_widens_edges_in_quadrature_and_leaves_holes(tmp_path):
    from restore.models.calibration import local_gradient

    net = _net()
    clean = torch.zeros(1, 3, 32, 32)
    clean[..., 16:] = 1.0  # one vertical edge
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., :8, :8] = 1
    noisy = (clean + 0.05 * torch.randn(1, 3, 32, 32)).clamp(0, 1)
    restored, raw = net.restore_with_uncertainty(noisy, mask)
    net.calibration = UncertaintyCalibration(2.0, hole_scale=3.0, gradient_scale=0.5)
    _, std = net.restore_with_uncertainty(noisy, mask)
    gradient = local_gradient(restored).expand_as(std)
    hole = mask.expand_as(std) > 0
    torch.testing.assert_close(std[hole], 3.0 * raw[hole])
    expected = ((2.0 * raw) ** 2 + (0.5 * gradient) ** 2).sqrt()
    torch.testing.assert_close(std[~hole], expected[~hole])
    edge = gradient[0, 0, 16, 16] / gradient[0, 0, 16, 2]
    assert edge > 5  # the edge's gradient stands far above the flat side's
    loaded = load_net(export_weights(net, tmp_path / "g.pt"))
    assert loaded.calibration == UncertaintyCalibration(2.0, 0.0, 3.0, 0.5)
    with pytest.raises(ValueError, match="gradient_scale must be >= 0"):
        UncertaintyCalibration(1.0, gradient_scale=-0.1)


class _BoxDenoiser:
    """A stand-in model: a 5 x 5 box blur, whose error grows with the noise level while its
    uncalibrated standard deviation stays 1/255 (as the real head barely sees the level)."""

    calibration = UncertaintyCalibration()

    def restore_with_uncertainty(self, degraded, mask=None):
        restored = F.avg_pool2d(degraded, 5, stride=1, padding=2, count_include_pad=False)
        std = torch.full_like(degraded, 1 / 255)
        return restored, self.calibration.apply(std, degraded, restored, mask)


def test_fitted_calibration_covers_90_percent_at_each_noise_level(tmp_path, monkeypatch):
    from restore.training import calibration
    from restore.training.calibration import fit_calibration, white_noisy

    monkeypatch.setattr(calibration, "GRADIENT_SCALES", (0.0,))  # the noise exponent's own work
    files = []
    for i in range(2):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(np.full((48, 64, 3), 100 + 20 * i, np.uint8)).save(files[-1])
    model = _BoxDenoiser()
    fitted, count = fit_calibration(model, files)
    assert count == 2 * 5 * 2 * 48 * 64 * 3  # images x noises x (without, with holes) x values
    exponent = fitted.noise_exponent
    assert 0.2 <= exponent <= 0.8  # between white noise (1) and camera noise (the blur keeps it)
    clean = torch.full((1, 3, 48, 64), 120 / 255)
    real = {"cam": [(white_noisy(clean, 30, 7), clean)]}
    assert fit_calibration(model, files, pairs=real)[1] == count + 48 * 64 * 3
    clean = torch.full((1, 3, 48, 64), 100 / 255)
    misses = []
    for exponent_used in (0.0, exponent):
        model.calibration = dataclasses.replace(fitted, noise_exponent=exponent_used)
        coverage = []
        for s in (5, 50):
            restored, std = model.restore_with_uncertainty(white_noisy(clean, s, 0))
            coverage.append(float(interval_coverage(restored, std, clean)[0]))
        misses.append(max(abs(c - 0.9) for c in coverage))
    assert misses[1] < 0.5 * misses[0], misses  # the fitted exponent evens out the levels


def test_restore_calibrate_fits_on_the_configs_validation_split(tmp_path, capsys):
    from restore.calibrate import main, validation_split

    photos, real = tmp_path / "photos", tmp_path / "real"
    photos.mkdir()
    real.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(photos / f"{i}.png")
    for i in range(3):
        clean = rng.integers(50, 200, (40, 48, 3))
        Image.fromarray(clean.astype(np.uint8)).save(real / f"{i}_gt.png")
        noisy = np.clip(clean + rng.normal(0, 10, clean.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(real / f"{i}_noise.png")
    config = ["data=folder", f"data.root={photos}", "data.val_fraction=0.34"]
    spec = f"{{cam: {{root: '{real}', noisy_suffix: _noise, clean_suffix: _gt}}}}"
    config.append(f"data.real_val={spec}")
    held_out, pairs = validation_split(config)
    assert len(held_out) == 2 and all(p.parent == photos for p in held_out)
    assert list(pairs) == ["cam"] and len(pairs["cam"]) == 3
    noisy, clean = pairs["cam"][0]
    assert noisy.shape == clean.shape == (1, 3, 40, 48)
    assert 0.02 < float((noisy - clean).std()) < 0.06
    torch.manual_seed(0)
    weights = export_weights(RestorationVAE(**SMALL, uncertainty=True), tmp_path / "u.pt")
    assert main([str(weights), str(tmp_path / "cal.pt"), "--config", *config]) == 0
    out = capsys.readouterr().out
    assert "fitted on 2 validation photos and 3 real validation pairs" in out
    calibrated = load_net(tmp_path / "cal.pt")
    assert calibrated.calibration.scale != 1.0
    no_head = export_weights(RestorationVAE(**SMALL), tmp_path / "plain.pt")
    assert main([str(no_head), str(tmp_path / "x.pt"), "--config", *config]) == 2
    assert "no uncertainty head" in capsys.readouterr().err


def test_restore_bench_uncertainty_writes_its_table_and_rows(tmp_path):
    import csv

    from restore.bench.uncertainty import main as bench_uncertainty

    folder = tmp_path / "clean"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(60, 200, (96, 128, 3), dtype=np.uint8)).save(folder / "a.png")
    weights = export_weights(_net(), tmp_path / "u.pt")
    out = tmp_path / "bench"
    args = ["--weights", str(weights), "--images", str(folder), "--sigmas", "25", "--no-real"]
    assert bench_uncertainty([*args, "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["task"] for r in rows] == ["gauss25", "gauss25 + medium holes"]
    assert all(0 <= float(r["coverage90"]) <= 1 for r in rows)
    assert f"| gauss25 | 1 | {float(rows[0]['psnr']):.2f} |" in (out / "results.md").read_text()
    plain = export_weights(_net(False), tmp_path / "p.pt")
    assert bench_uncertainty(["--weights", str(plain), "--out", str(tmp_path / "none")]) == 2
    assert not (tmp_path / "none").exists()


def _stripes(low: int, high: int) -> np.ndarray:
    image = np.full((48, 64, 3), low, np.uint8)
    for x in range(0, 64, 16):
        image[:, x : x + 8] = high
    return image


def test_fitted_gradient_term_covers_the_errors_edges_bring(tmp_path, monkeypatch):
    """The box blur smears the stripes' edges whatever the noise: an error the level cannot
    explain, which the gradient term carries, so each level's coverage comes nearer 0.9."""
    from restore.training import calibration
    from restore.training.calibration import fit_calibration, white_noisy

    files = []
    for i in range(2):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(_stripes(90 + 10 * i, 130 + 10 * i)).save(files[-1])
    model = _BoxDenoiser()
    with_gradient = fit_calibration(model, files)[0]
    monkeypatch.setattr(calibration, "GRADIENT_SCALES", (0.0,))
    level_only = fit_calibration(model, files)[0]
    assert with_gradient.gradient_scale > 0 and level_only.gradient_scale == 0
    clean = torch.from_numpy(_stripes(95, 135)).permute(2, 0, 1)[None].float() / 255
    misses = []
    for fitted in (level_only, with_gradient):
        model.calibration = fitted
        coverage = []
        for s in (5, 15, 25, 50):
            restored, std = model.restore_with_uncertainty(white_noisy(clean, s, 0))
            coverage.append(float(interval_coverage(restored, std, clean)[0]))
        misses.append(max(abs(c - 0.9) for c in coverage))
    assert misses[1] < 0.02 < misses[0], misses
