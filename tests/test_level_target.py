"""The estimator's target ``level_target="restoring"`` (TrainingModule): each crop's noise level
times the factor of ``level_factors`` that the network restores it best at."""

from __future__ import annotations

import pytest
import torch
from helpers import SMALL

from restore.corruption import Corruption, CorruptionResult, GaussianNoise
from restore.models import RestorationVAE
from restore.models.noise_level import cell_noise_level
from restore.training.module import TrainingModule

pytestmark = pytest.mark.usefixtures("one_thread")


def _module(**kwargs) -> TrainingModule:
    torch.manual_seed(0)
    corruption = Corruption(noise=[GaussianNoise(25)])
    return TrainingModule(
        RestorationVAE(**SMALL, noise_estimator=True),
        corruption,
        {"gauss25": corruption},
        optimizer=lambda params: torch.optim.AdamW(params, lr=1e-3),
        channels_last=False,
        **kwargs,
    )


def test_each_crop_gets_the_factor_it_restores_best_at():
    module = _module(level_target="restoring", level_factors=(0.8, 1.0, 1.25, 1.6, 2.0))
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(3, 3, 32, 32, generator=g)
    degraded = clean + 0.1 * torch.randn(clean.shape, generator=g)
    result = CorruptionResult(degraded, torch.zeros(3, 1, 32, 32), torch.zeros(3), None)
    cells = cell_noise_level(degraded, clean)
    best = torch.tensor([1.0, 1.6, 2.0])  # what each crop wants, relative to its true level

    def restore(x, mask, keep_known, noise_level):
        # a network that restores crop i exactly when told best[i] x its true level
        wanted = torch.nn.functional.interpolate(cells, size=x.shape[-2:], mode="bilinear")
        miss = (noise_level.mean((1, 2, 3)) / wanted.mean((1, 2, 3)) / best).log().abs()
        return clean + miss[:, None, None, None] * (x - clean)

    module.net.restore = restore
    factor = module.restoring_factor(result, clean, cells)
    assert factor.shape == (3, 1, 1, 1)
    assert torch.equal(factor.flatten(), best)


def test_a_training_step_learns_the_restoring_level_and_logs_its_factor():
    module = _module(level_target="restoring", level_factors=(1.0, 2.0))
    logged = {}
    module.log = lambda name, value, **kwargs: logged.update({name: float(value)})
    module.log_dict = lambda values, **kwargs: None
    loss = module.training_step(torch.rand(2, 3, 32, 32), 0)
    assert torch.isfinite(loss)
    assert logged["train/level_factor"] in (1.0, 1.5, 2.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"level_target": "true"}, "level_target must be one of"),
        ({"level_factors": ()}, "level_factors must be positive"),
        ({"level_factors": (1.0, 0.0)}, "level_factors must be positive"),
    ],
)
def test_a_wrong_level_target_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _module(**kwargs)
