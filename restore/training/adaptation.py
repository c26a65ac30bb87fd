"""Adapting a trained model to a camera from its noisy photos alone (no clean references).

:class:`AdaptationModule` trains on the aligned ``(noisy, restored, std)`` crops of
:class:`restore.data.noisy.NoisyPhotosDataModule` with the noise fitted to the photos
(:class:`restore.corruption.fitted.FittedNoise`), in one of two ways or both:

* ``recorrupted`` (Recorrupted-to-Recorrupted, Pang et al., CVPR 2021): the input is the noisy
  crop plus ``alpha`` times a fresh draw ``z`` of the fitted noise, the target the noisy crop less
  ``z / alpha``; when ``z`` has the photo noise's distribution, the two noises are uncorrelated
  and the expected loss is the loss against the clean image plus a constant.
* ``synthetic``: the fitted noise drawn on the starting model's restoration, which is the target.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from restore.corruption import Corruption, CorruptionResult
from restore.training.module import TrainingModule

MODES = ("recorrupted", "synthetic", "both")


class AdaptationModule(TrainingModule):
    """:class:`TrainingModule` on noisy photos without references (see the module docstring).

    Args:
        mode: ``recorrupted``, ``synthetic`` or ``both`` (each crop one or the other at random).
        alpha: the recorruption's strength (the input's noise variance is ``1 + alpha^2`` times
            the photo's).
        corruption, val_tasks: as :class:`TrainingModule`; the corruption is not used (the noise
            is the fitted one), the tasks score clean crops only (none here: validation is the
            recorrupted loss on the held-out photos, ``val/self/mse``, and any real pairs).
        **kwargs: :class:`TrainingModule` arguments.
    """

    def __init__(
        self,
        corruption: Corruption,
        val_tasks: Mapping[str, Corruption],
        mode: str = "synthetic",
        alpha: float = 0.5,
        **kwargs: Any,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        super().__init__(corruption=corruption, val_tasks=val_tasks, **kwargs)
        self.hparams.update(mode=mode, alpha=float(alpha))
        self.noise = None

    def setup(self, stage: str) -> None:
        noise = getattr(self.trainer.datamodule, "noise", None)
        if noise is None:
            raise ValueError("adaptation needs a data module that fits the photos' noise")
        self.noise = noise.to(self.device)

    def _pairs(
        self, noisy: Tensor, restored: Tensor, std: Tensor, generator=None
    ) -> tuple[Tensor, Tensor]:
        """``(input, target)`` of a batch of aligned crops, as ``mode`` says."""
        alpha = self.hparams.alpha
        noisy, restored, std = noisy.float(), restored.float(), std.float()
        z = self.noise.noise(std, generator)
        recorrupted = (noisy + alpha * z, noisy - z / alpha)
        synthetic = ((restored + z).clamp(0, 1).mul(255).round().div(255), restored)
        if self.hparams.mode == "recorrupted":
            return recorrupted
        if self.hparams.mode == "synthetic":
            return synthetic
        u = torch.rand(noisy.shape[0], device=noisy.device, generator=generator)
        pick = (u < 0.5)[:, None, None, None]
        return tuple(torch.where(pick, r, s) for r, s in zip(recorrupted, synthetic, strict=True))

    def _training_inputs(self, batch) -> tuple[Tensor, CorruptionResult]:
        degraded, target = self._pairs(*batch)
        rms = (degraded - target).square().mean((1, 2, 3)).sqrt().mul(255.0)
        mask = degraded.new_zeros((degraded.shape[0], 1, *degraded.shape[-2:]))
        return target, CorruptionResult(degraded, mask, rms)

    def validation_step(self, batch, batch_idx: int, dataloader_idx: int = 0):
        """Held-out photos' crops: the recorrupted loss (mean squared error against the
        recorrupted target, fixed draws; 0-1 scale), logged as ``val/self/mse``; real pairs as
        :class:`TrainingModule` scores them."""
        if isinstance(batch, dict):
            return super().validation_step(batch, batch_idx, dataloader_idx)
        noisy, _, std = (x.float() for x in batch)
        g = torch.Generator(device=noisy.device).manual_seed(self.hparams.val_seed + batch_idx)
        alpha = self.hparams.alpha
        z = self.noise.noise(std, g)
        restored = self.net.restore(self._format(noisy + alpha * z)).float()
        self._update("self/mse", (restored - (noisy - z / alpha)).square().mean((1, 2, 3)))
        if batch_idx != 0:  # the grids show the first batch only
            return {}
        return {"self": (noisy, self.net.restore(self._format(noisy)).float(), noisy)}
