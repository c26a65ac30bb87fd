"""The camera noise fitted to noisy photos (restore.corruption.fitted): the fit recovers known
noise, and the drawn noise has the fitted level and correlations; the adaptation's training pairs
(restore.training.adaptation) are built from it as their mode says."""

from __future__ import annotations

import pytest
import torch

from restore.corruption.fitted import FittedNoise, NoiseFit, fit_noise, flat_residuals, noise_std
from restore.corruption.statistics import noise_statistics

# A known camera: shot and read noise per channel, correlated channels, a 3 x 3 blur.
_BLUR = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])
_KERNEL = torch.zeros(9, 9)
_KERNEL[3:6, 3:6] = _BLUR / _BLUR.square().sum().sqrt()
TRUE = NoiseFit(
    gain=[[2e-3, 1.5e-3, 2.5e-3], [4e-4, 3e-4, 5e-4]],  # two photos: two ISOs
    floor=[[1e-4, 1e-4, 2e-4], [2e-5, 2e-5, 4e-5]],
    colour=[[1.0, 0.0, 0.0], [0.5, 0.866, 0.0], [0.3, 0.2, 0.933]],
    kernel=[_KERNEL.tolist()] * 3,
)


def _photos(count: int = 8, size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth colour ramps of several brightnesses (every cell is a plane) and their photo ids."""
    g = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0.0, 1.0, size)
    images = []
    for _ in range(count):
        low, span = 0.1 + 0.5 * torch.rand(3, generator=g), 0.3 * torch.rand(3, generator=g)
        images.append(
            low[:, None, None] + span[:, None, None] * ramp[None, :, None].expand(3, size, size)
        )
    return torch.stack(images), torch.arange(count) % 2


def test_fit_recovers_the_level_curve_colour_and_kernel_of_known_noise():
    clean, photo = _photos()
    noisy = FittedNoise(TRUE).noise(
        noise_std(clean, torch.tensor(TRUE.gain)[photo], torch.tensor(TRUE.floor)[photo]),
        torch.Generator().manual_seed(1),
    )
    noisy = clean + noisy
    fit = fit_noise(noisy, clean, photo)
    for p in range(2):
        true_var = torch.tensor(TRUE.gain[p]) * 0.4 + torch.tensor(TRUE.floor[p])
        fit_var = torch.tensor(fit.gain[p]) * 0.4 + torch.tensor(fit.floor[p])
        assert torch.allclose(fit_var, true_var, rtol=0.2), (p, fit_var, true_var)
    assert torch.allclose(torch.tensor(fit.colour), torch.tensor(TRUE.colour), atol=0.06)
    kernel = torch.tensor(fit.kernel)
    assert torch.allclose(kernel[:, 3:6, 3:6], _KERNEL[3:6, 3:6].expand(3, 3, 3), atol=0.06)
    assert kernel[:, 0].abs().max() < 0.05  # nothing far from the centre


def test_drawn_noise_has_the_fitted_level_and_neighbour_correlation():
    clean = torch.full((4, 3, 128, 128), 0.4)
    op = FittedNoise(TRUE)
    noisy = op(clean, generator=torch.Generator().manual_seed(0))
    assert noisy.shape == clean.shape and noisy.min() >= 0 and noisy.max() <= 1
    assert torch.equal(noisy * 255, (noisy * 255).round())  # 8-bit values, as photos
    stats = noise_statistics(noisy, clean)
    # each image takes one photo's curve: the RMS lies between the two photos' levels
    levels = [
        (torch.tensor(g) * 0.4 + torch.tensor(f)).mean().sqrt() * 255
        for g, f in zip(TRUE.gain, TRUE.floor, strict=True)
    ]
    assert min(levels) * 0.9 < stats.rms < max(levels) * 1.1
    white = noise_statistics(clean + 0.02 * torch.randn(clean.shape), clean)
    assert stats.neighbour_correlation > 0.4 > white.neighbour_correlation + 0.3
    assert stats.channel_correlation > 0.3


def test_fit_saves_and_loads_as_json(tmp_path):
    path = TRUE.save(tmp_path / "fit.json")
    again = FittedNoise(path)
    g1, g2 = (torch.Generator().manual_seed(3) for _ in range(2))
    clean = torch.full((2, 3, 32, 32), 0.5)
    assert torch.equal(again(clean, generator=g1), FittedNoise(TRUE)(clean, generator=g2))
    assert NoiseFit.load(path) == TRUE


def test_fit_rejects_crops_that_are_not_whole_cells():
    noisy = torch.rand(2, 3, 40, 64)
    with pytest.raises(ValueError, match="multiples of 32"):
        fit_noise(noisy, noisy, torch.tensor([0, 1]))


@pytest.mark.parametrize("mode", ["recorrupted", "synthetic", "both"])
def test_adaptation_pairs_have_the_targets_and_noise_their_mode_says(mode):
    from restore.models import RestorationVAE
    from restore.training.adaptation import AdaptationModule

    module = AdaptationModule(
        net=RestorationVAE(widths=[8, 8, 8], blocks=[1, 1, 1], latent_channels=2),
        corruption=None,
        val_tasks={},
        optimizer=torch.optim.Adam,
        mode=mode,
        alpha=0.5,
    )
    module.noise = FittedNoise(TRUE)
    g = torch.Generator().manual_seed(0)
    noisy, restored = torch.rand(64, 3, 32, 32, generator=g), torch.full((64, 3, 32, 32), 0.5)
    std = torch.full_like(noisy, 0.04)
    degraded, target = module._pairs(noisy, restored, std, g)
    synthetic = (target == restored).flatten(1).all(1)
    recorrupted = (target != restored).flatten(1).all(1)
    assert bool((synthetic | recorrupted).all())
    share = synthetic.float().mean()
    assert {"synthetic": share == 1, "recorrupted": share == 0, "both": 0.25 < share < 0.75}[mode]
    if mode != "recorrupted":  # the fitted noise, on the restoration, 8-bit
        drawn = (degraded - restored)[synthetic]
        assert 0.035 < float(drawn.std()) < 0.045
    if mode != "synthetic":  # input noisy + alpha z, target noisy - z / alpha
        z = (degraded - noisy)[recorrupted] / 0.5
        assert torch.allclose(target[recorrupted], noisy[recorrupted] - z / 0.5, atol=1e-5)
        assert 0.035 < float(z.std()) < 0.045


def test_flat_residuals_read_the_noise_of_the_flat_parts_without_a_reference():
    """Half the picture is flat (gradients), half a strong texture: the flattest cells are the
    flat half's, and their residual is the noise."""
    g = torch.Generator().manual_seed(3)
    clean, _ = _photos(2, 256)
    clean[..., 128:] = clean[..., 128:] + 0.2 * torch.sin(torch.arange(128.0) * 1.3)
    noisy = clean + 0.02 * torch.randn(clean.shape, generator=g)
    cells = flat_residuals(noisy, share=0.25)
    assert cells.shape == (8, 3, 64, 64)  # 16 cells an image, its 4 flattest
    assert cells.square().mean().sqrt().item() == pytest.approx(0.02, rel=0.05)
    with pytest.raises(ValueError, match="no 64-pixel cell"):
        flat_residuals(noisy[..., :32, :])
