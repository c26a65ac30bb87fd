"""Fine-tuning held to a teacher (TrainingModule's ``teacher``): which crops, which terms, and
that the teacher stays out of the checkpoint and the optimizer."""

from __future__ import annotations

import copy

import pytest
import torch
from helpers import SMALL

from restore.corruption import Corruption, CorruptionResult, GaussianNoise
from restore.models import RestorationVAE
from restore.training.module import TrainingModule

pytestmark = pytest.mark.usefixtures("one_thread")


def _net(seed: int) -> RestorationVAE:
    torch.manual_seed(seed)
    net = RestorationVAE(**SMALL, noise_estimator=True)
    torch.nn.init.normal_(net.head.weight, std=0.02)
    with torch.no_grad():  # an estimator that reads differently per seed (not its zero start)
        for p in net.noise_estimator.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net


def _module(teacher: RestorationVAE | None, **kwargs) -> TrainingModule:
    corruption = Corruption(noise=[GaussianNoise(25)])
    return TrainingModule(
        _net(0),
        corruption,
        {"gauss25": corruption},
        optimizer=lambda params: torch.optim.AdamW(params, lr=1e-3),
        teacher=teacher,
        channels_last=False,
        **kwargs,
    )


def _batch(sigmas: list[float]):
    g = torch.Generator().manual_seed(0)
    clean = 0.2 + 0.6 * torch.rand(len(sigmas), 3, 64, 64, generator=g)
    noise = torch.randn(clean.shape, generator=g) * torch.tensor(sigmas)[:, None, None, None] / 255
    degraded = clean + noise
    rms = (degraded - clean).square().mean((1, 2, 3)).sqrt() * 255
    mask = torch.zeros(len(sigmas), 1, 64, 64)
    return clean, CorruptionResult(degraded, mask, rms, None)


def _terms(module: TrainingModule, clean, result) -> dict[str, torch.Tensor]:
    level = torch.full((clean.shape[0], 1, 64, 64), float("nan"))
    module.net.train()
    out = module.net(result.degraded, result.mask, clean, level, decode_prior=True)
    return module._distillation(result, level, out, clean)


def test_a_copy_of_the_student_as_teacher_costs_little_and_another_network_much():
    module = _module(teacher=copy.deepcopy(_net(0)))
    clean, result = _batch([5.0, 10.0])
    same = _terms(module, clean, result)
    assert set(same) == {"train/distill_restore", "train/distill_level"}
    # The student's decode is not clamped to [0, 1] and the teacher's is; little else differs.
    assert same["train/distill_restore"] < 0.2
    assert same["train/distill_level"] < 1e-8
    other = _terms(_module(teacher=_net(1)), clean, result)
    assert other["train/distill_restore"] > 5 * same["train/distill_restore"]
    assert other["train/distill_level"] > 1e-4


def test_only_crops_with_weak_noise_are_held_to_the_teacher():
    teacher = _net(1)
    module = _module(teacher=teacher, distill_max_rms=15.0)
    clean, result = _batch([5.0, 50.0])
    both = _terms(module, clean, result)
    weak = _terms(module, clean[:1], _crops(result, slice(0, 1)))
    assert torch.allclose(both["train/distill_restore"], weak["train/distill_restore"], rtol=1e-4)
    assert _terms(module, clean[1:], _crops(result, slice(1, 2))) == {}


def test_all_holds_every_crop_to_the_teacher():
    teacher = _net(1)
    clean, result = _batch([5.0, 50.0])
    every = _terms(_module(teacher=teacher, distill_crops="all"), clean, result)
    weak = _terms(_module(teacher=teacher, distill_max_rms=15.0), clean, result)
    held = _terms(_module(teacher=teacher, distill_max_rms=255.0), clean, result)
    assert torch.allclose(every["train/distill_restore"], held["train/distill_restore"])
    assert not torch.allclose(every["train/distill_restore"], weak["train/distill_restore"])


def _crops(result: CorruptionResult, crops: slice) -> CorruptionResult:
    return CorruptionResult(result.degraded[crops], result.mask[crops], result.rms_error[crops])


def test_the_teacher_is_frozen_and_kept_out_of_the_state_and_the_optimizer():
    teacher = _net(1)
    module = _module(teacher=teacher)
    assert not any(k.startswith("teacher") for k in module.state_dict())
    assert "teacher" not in module.hparams
    assert not any(p.requires_grad for p in teacher.parameters()) and not teacher.training
    optimizer = module.configure_optimizers()
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert not in_optimizer & {id(p) for p in teacher.parameters()}


@pytest.mark.filterwarnings("ignore:You are trying to `self.log")  # no Trainer here
def test_the_training_step_adds_the_teacher_terms_to_the_loss():
    clean = _batch([0.0, 0.0])[0]
    torch.manual_seed(3)
    without = _module(teacher=None).training_step(clean, 0)
    torch.manual_seed(3)
    held = _module(teacher=_net(1), distill_max_rms=255.0)
    assert held.training_step(clean, 0) > without + 1.0


@pytest.mark.parametrize("weight, max_rms", [(0.0, 15.0), (1.0, -1.0)])
def test_bad_distillation_settings_are_refused(weight, max_rms):
    with pytest.raises(ValueError, match="distill_weight > 0"):
        _module(teacher=_net(1), distill_weight=weight, distill_max_rms=max_rms)


def test_teacher_better_holds_only_the_crops_the_teacher_restores_better(monkeypatch):
    teacher = _net(1)
    module = _module(teacher=teacher, distill_crops="teacher_better")
    clean, result = _batch([20.0, 20.0])
    perfect_then_noisy = torch.stack([clean[0], result.degraded[1] + 0.3])
    monkeypatch.setattr(teacher, "restore", lambda x, *a, **k: perfect_then_noisy[: len(x)])
    terms = _terms(module, clean, result)
    first = _terms(module, clean[:1], _crops(result, slice(0, 1)))
    assert torch.allclose(terms["train/distill_restore"], first["train/distill_restore"])
    monkeypatch.setattr(teacher, "restore", lambda *args, **kwargs: clean[1:] + 0.5)
    assert _terms(module, clean[1:], _crops(result, slice(1, 2))) == {}
    with pytest.raises(ValueError, match="distill_crops"):
        _module(teacher=teacher, distill_crops="every")
