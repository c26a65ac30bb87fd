"""Noise-level estimation: the per-cell target, the asymmetric loss, the estimator, and how the
network is told what it reads."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from helpers import SMALL

from restore.models import RestorationVAE
from restore.models.noise_level import (
    CELL,
    LEVEL_FLOOR,
    NoiseLevelNet,
    asymmetric_level_loss,
    cell_noise_level,
    upsample_level,
)
from restore.models.weights import export_weights, init_from, load_net


def test_cell_level_of_white_noise_is_its_sigma_per_cell_and_shape_rounds_up():
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 3, 70, 50, generator=g)
    sigma = torch.tensor([5.0, 30.0])
    noisy = clean + sigma.reshape(2, 1, 1, 1) / 255 * torch.randn(2, 3, 70, 50, generator=g)
    cells = cell_noise_level(noisy, clean)
    assert cells.shape == (2, 1, math.ceil(70 / CELL), math.ceil(50 / CELL))
    # 768 samples a full cell: the RMS is within about 3 standard errors of sigma
    torch.testing.assert_close(cells[0, 0, :4, :3], torch.full((4, 3), 5.0), atol=0.6, rtol=0)
    torch.testing.assert_close(cells[1, 0, :4, :3], torch.full((4, 3), 30.0), atol=3.5, rtol=0)


def test_cell_level_leaves_out_holes_and_floors_clean_cells():
    clean = torch.full((1, 3, 32, 32), 0.5)
    noisy = clean.clone()
    noisy[..., :16] += 20 / 255  # left half: an offset of 20 grey levels
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., :16, :16] = 1  # the top-left cell is all hole: it takes the image's level
    cells = cell_noise_level(noisy, clean, mask)
    image_level = math.sqrt(20**2 * 256 / (3 * 256))  # one known cell of four at 20, two at 0
    torch.testing.assert_close(cells[0, 0, 0, 0], torch.tensor(image_level), rtol=1e-4, atol=0)
    torch.testing.assert_close(cells[0, 0, 1, 0], torch.tensor(20.0), rtol=1e-4, atol=0)
    assert cells[0, 0, :, 1].eq(LEVEL_FLOOR).all()


def test_asymmetric_loss_punishes_reading_too_little_more():
    target = torch.full((1, 1, 4, 4), 10.0)
    low, high = asymmetric_level_loss(target / 2, target), asymmetric_level_loss(target * 2, target)
    assert low > high > 0
    torch.testing.assert_close(low / high, torch.tensor(0.7 / 0.3))
    assert asymmetric_level_loss(target, target) == 0
    symmetric = [asymmetric_level_loss(target * f, target, alpha=0.5) for f in (0.5, 2.0)]
    assert float(symmetric[0]) == pytest.approx(float(symmetric[1]))


def test_upsample_level_is_constant_for_a_constant_map_and_crops_to_size():
    cells = torch.full((2, 1, 3, 4), 7.0)
    full = upsample_level(cells, (40, 61))
    assert full.shape == (2, 1, 40, 61)
    torch.testing.assert_close(full, torch.full_like(full, 7.0))


def test_estimator_shapes_range_and_that_it_learns_white_noise_levels():
    torch.manual_seed(0)
    est = NoiseLevelNet()
    image = torch.rand(3, 3, 45, 70)
    out = est(image)
    assert out.shape == (3, 1, 3, 5)
    torch.testing.assert_close(out, torch.full_like(out, 10.0))  # the initial reading
    # A few hundred steps on flat and textured images at two levels: it tells them apart.
    opt = torch.optim.Adam(est.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)
    for _ in range(150):
        clean = torch.rand(8, 3, 1, 1, generator=g).expand(8, 3, 32, 32)
        sigma = torch.tensor([3.0, 40.0]).repeat(4).reshape(8, 1, 1, 1)
        noisy = clean + sigma / 255 * torch.randn(8, 3, 32, 32, generator=g)
        loss = asymmetric_level_loss(est(noisy), cell_noise_level(noisy, clean))
        opt.zero_grad()
        loss.backward()
        opt.step()
    clean = torch.full((2, 3, 32, 32), 0.5)
    noisy = clean + torch.tensor([3.0, 40.0]).reshape(2, 1, 1, 1) / 255 * torch.randn(
        2, 3, 32, 32, generator=g
    )
    read = est(noisy).mean((1, 2, 3))
    assert 1.5 < read[0] < 6 and 25 < read[1] < 60, read


def test_the_estimator_reads_in_float32_under_reduced_precision_autocast():
    """bf16 autocast (the CPU default where bf16 is native) does not change what it reads: its
    blurs and layers run in float32, as without autocast."""
    torch.manual_seed(0)
    est = NoiseLevelNet().eval()
    torch.nn.init.normal_(est.body[-1].weight, std=0.1)  # not the constant initial reading
    image, mask = torch.rand(2, 3, 64, 80), (torch.rand(2, 1, 64, 80) > 0.9).float()
    with torch.no_grad():
        plain = est(image, mask)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            reduced = est(image, mask)
    assert reduced.dtype == torch.float32 and plain.std() > 0.1
    torch.testing.assert_close(reduced, plain, rtol=0, atol=0)


def _net(**kwargs) -> RestorationVAE:
    torch.manual_seed(0)
    net = RestorationVAE(**SMALL, noise_estimator=True, **kwargs).eval()
    torch.nn.init.normal_(net.head.weight, std=0.05)
    return net


def test_blind_restoration_is_told_what_the_estimator_reads():
    net = _net()
    x = torch.rand(2, 3, 40, 48)
    read = net.estimate_noise(x)
    assert read.shape == (2, 1, 40, 48)
    torch.testing.assert_close(net.restore(x), net.restore(x, noise_level=read))
    assert not torch.allclose(net.restore(x), net.restore(x, noise_level=50.0))
    # per image: the unknown one (NaN) is estimated, the other told
    mixed = net.restore(x, noise_level=torch.tensor([float("nan"), 50.0]))
    torch.testing.assert_close(mixed[0], net.restore(x[:1])[0])
    torch.testing.assert_close(mixed[1], net.restore(x[1:], noise_level=50.0)[0])


def test_a_network_without_estimator_is_told_unknown_levels_as_unknown():
    torch.manual_seed(0)
    net = RestorationVAE(**SMALL).eval()
    torch.nn.init.normal_(net.head.weight, std=0.05)
    x = torch.rand(1, 3, 32, 32)
    blind = net.restore(x)
    torch.testing.assert_close(blind, net.restore(x, noise_level=torch.tensor([float("nan")])))
    assert not torch.allclose(blind, net.restore(x, noise_level=0.0))
    with pytest.raises(ValueError, match="no noise estimator"):
        net.estimate_noise(x)


def test_training_pass_returns_the_estimators_cells_with_gradients():
    net = _net().train()
    clean = torch.rand(2, 3, 32, 32)
    noisy = clean + 0.1 * torch.randn(2, 3, 32, 32)
    out = net(noisy, None, clean, torch.tensor([float("nan"), 25.0]))
    assert out.level_cells.shape == (2, 1, 2, 2)
    asymmetric_level_loss(out.level_cells, cell_noise_level(noisy, clean)).backward()
    assert net.noise_estimator.body[-1].weight.grad.abs().sum() > 0
    assert net.stem.weight.grad is None  # the reading is detached from the network


def test_export_round_trip_keeps_the_estimator_and_old_weights_grow_one(tmp_path):
    net = _net()
    torch.nn.init.normal_(net.noise_estimator.body[-1].weight, std=0.1)
    back = load_net(export_weights(net, tmp_path / "m.pt"))
    assert back.config["noise_estimator"] is True
    x = torch.rand(1, 3, 32, 40)
    torch.testing.assert_close(back.estimate_noise(x), net.estimate_noise(x))
    old = RestorationVAE(**SMALL)
    assert "noise_estimator" not in old.config
    grown = RestorationVAE(**SMALL, noise_estimator=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing a user could act on
        init_from(grown, export_weights(old, tmp_path / "old.pt"))
    torch.testing.assert_close(grown.stem.weight, old.stem.weight)


@pytest.fixture
def estimator_weights(tmp_path):
    net = _net()
    torch.nn.init.normal_(net.noise_estimator.body[-1].weight, std=0.05)
    return export_weights(net, tmp_path / "est.pt")


def test_restorer_estimate_noise_is_what_blind_denoising_is_told(estimator_weights):
    import numpy as np

    from restore import Restorer

    r = Restorer.from_checkpoint(estimator_weights, device="cpu", precision="fp32")
    image = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)
    level = r.estimate_noise(image)
    assert level.shape == (40, 56) and level.dtype == np.float32 and (level > 0).all()
    told = r.denoise(image, sigma=float(level.mean()))
    blind = r.denoise(image)
    assert np.abs(told.astype(int) - blind).mean() < 1.0  # nearly constant map: nearly the same
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    assert r.estimate_noise(tensor).shape == (1, 1, 40, 56)


def test_restore_image_reports_the_level_it_read(estimator_weights, tmp_path, capsys):
    import csv

    import numpy as np
    from PIL import Image

    from restore.cli import main

    src = tmp_path / "in"
    src.mkdir()
    image = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)
    Image.fromarray(image).save(src / "a.png")
    base = [str(src), "--weights", str(estimator_weights), "--device", "cpu"]
    for extra, expect_level in (([], True), (["--noise-level", "10"], False)):
        out = tmp_path / f"out{len(extra)}"
        assert main([*base, "-o", str(out), "--report", str(out / "r.csv"), *extra]) == 0
        row = next(csv.DictReader((out / "r.csv").read_text().splitlines()))
        if expect_level:
            from restore import Restorer

            r = Restorer.from_checkpoint(estimator_weights, device="cpu")
            expected = float(np.sqrt(np.mean(np.square(r.estimate_noise(image)))))
            assert float(row["noise_level"]) == pytest.approx(expected, abs=0.02)
        else:
            assert row["noise_level"] == ""  # told: nothing was read
