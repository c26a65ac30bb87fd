"""The post-hoc calibration of the uncertainty head, as data: fitted after training
(:mod:`restore.training.calibration`), stored in the weight file's config
(:mod:`restore.models.weights` reads and writes its keys), applied to the head's map by
:meth:`UncertaintyCalibration.apply`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from restore.models.noise_level import residual_level

# The weight files' config keys (older files have only the first, or none).
KEYS = ("uncertainty_scale", "uncertainty_noise_exponent", "uncertainty_hole_scale")


@dataclass(frozen=True)
class UncertaintyCalibration:
    """The head's standard deviation is multiplied by ``scale * (level / 10) ** noise_exponent``
    on the known pixels, where ``level`` is the noise the image shows (:func:`residual_level`,
    grey levels), and by ``hole_scale`` (default ``scale``) inside the holes. The default is the
    identity."""

    scale: float = 1.0
    noise_exponent: float = 0.0
    hole_scale: float | None = None

    def __post_init__(self) -> None:
        for name in ("scale", "noise_exponent", "hole_scale"):
            value = getattr(self, name)
            if value is None:
                continue
            if not math.isfinite(value) or (name != "noise_exponent" and value <= 0):
                raise ValueError(f"uncertainty calibration: {name} must be > 0, got {value}")

    @property
    def holes(self) -> float:
        """The factor inside the holes."""
        return self.scale if self.hole_scale is None else self.hole_scale

    def apply(
        self, std: Tensor, degraded: Tensor, restored: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        """The head's ``(B, C, H, W)`` standard deviation with the factors applied; the noise
        level is measured on ``degraded`` against ``restored``."""
        known = self.scale * std.new_ones(std.shape[0], 1, 1, 1)
        if self.noise_exponent:
            level = residual_level(degraded.float(), restored.float(), mask)
            known = known * (level / 10.0) ** self.noise_exponent
        if mask is None:
            return std * known
        return std * torch.where(mask.to(torch.bool), self.holes, known)

    def to_config(self) -> dict[str, float]:
        """The weight file's keys: the scale always, the others when they differ from the
        defaults (so a one-scale calibration reads as older files do)."""
        config = {KEYS[0]: float(self.scale)}
        if self.noise_exponent or self.holes != self.scale:
            config.update({KEYS[1]: float(self.noise_exponent), KEYS[2]: float(self.holes)})
        return config

    @classmethod
    def from_config(cls, config: dict) -> UncertaintyCalibration:
        """From a weight file's config (missing keys: the identity)."""
        return cls(
            float(config.get(KEYS[0], 1.0)),
            float(config.get(KEYS[1], 0.0)),
            None if config.get(KEYS[2]) is None else float(config[KEYS[2]]),
        )
