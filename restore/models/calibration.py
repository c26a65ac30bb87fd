"""The post-hoc calibration of the heads, as data, stored in the weight file's config
(:mod:`restore.models.weights` reads and writes its keys): the uncertainty head's
(:class:`UncertaintyCalibration`, fitted by :mod:`restore.training.calibration`, applied to the
head's map by :meth:`UncertaintyCalibration.apply`) and the damage head's threshold (the
probability above which a repair fills a pixel by default, chosen by ``restore-calibrate``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import kornia
import torch
from torch import Tensor

from restore.models.noise_level import residual_level

# The weight files' config keys (older files have only the first ones, or none).
KEYS = (
    "uncertainty_scale",
    "uncertainty_noise_exponent",
    "uncertainty_hole_scale",
    "uncertainty_gradient_scale",
)
DAMAGE_THRESHOLD_KEY = "damage_threshold"
DEFAULT_DAMAGE_THRESHOLD = 0.5  # weight files without the key
GRADIENT_WINDOW = 7  # pixels: the box over which local_gradient averages


def check_damage_threshold(value: object) -> float:
    """``value`` as a damage threshold, a probability in (0, 1); ``ValueError`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"damage threshold must be a number in (0, 1), got {value!r}")
    return float(value)


def local_gradient(image: Tensor) -> Tensor:
    """The local contrast of ``image`` ``(B, C, H, W)`` (0-1): its Sobel gradient magnitude
    averaged over a :data:`GRADIENT_WINDOW`-pixel box and over the channels, ``(B, 1, H, W)``
    (0-1 scale per pixel; edges and fine texture high, flat areas near 0)."""
    magnitude = kornia.filters.sobel(image.float())
    return kornia.filters.box_blur(magnitude, GRADIENT_WINDOW).mean(1, keepdim=True)


@dataclass(frozen=True)
class UncertaintyCalibration:
    """On the known pixels the head's standard deviation ``h`` becomes
    ``sqrt((scale * h * (level / 10) ** noise_exponent) ** 2 + (gradient_scale * g) ** 2)``,
    where ``level`` is the noise the image shows (:func:`residual_level`, grey levels) and ``g``
    the restoration's :func:`local_gradient` (edges and texture, where errors the head does not
    foresee gather on content it has not seen); inside the holes it is multiplied by
    ``hole_scale`` (default ``scale``). The default is the identity."""

    scale: float = 1.0
    noise_exponent: float = 0.0
    hole_scale: float | None = None
    gradient_scale: float = 0.0

    def __post_init__(self) -> None:
        for name in ("scale", "noise_exponent", "hole_scale", "gradient_scale"):
            value = getattr(self, name)
            if value is None:
                continue
            if not math.isfinite(value):
                raise ValueError(f"uncertainty calibration: {name} must be finite, got {value}")
            if name in ("scale", "hole_scale") and value <= 0:
                raise ValueError(f"uncertainty calibration: {name} must be > 0, got {value}")
            if name == "gradient_scale" and value < 0:
                raise ValueError(f"uncertainty calibration: {name} must be >= 0, got {value}")

    @property
    def holes(self) -> float:
        """The factor inside the holes."""
        return self.scale if self.hole_scale is None else self.hole_scale

    def apply(
        self, std: Tensor, degraded: Tensor, restored: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        """The head's ``(B, C, H, W)`` standard deviation with the calibration applied; the
        noise level is measured on ``degraded`` against ``restored``, the gradient on
        ``restored``."""
        known = self.scale * std.new_ones(std.shape[0], 1, 1, 1)
        if self.noise_exponent:
            level = residual_level(degraded.float(), restored.float(), mask)
            known = known * (level / 10.0) ** self.noise_exponent
        known = std * known
        if self.gradient_scale:
            known = torch.hypot(known, self.gradient_scale * local_gradient(restored).to(known))
        if mask is None:
            return known
        return torch.where(mask.to(torch.bool), self.holes * std, known)

    def __str__(self) -> str:
        return (
            f"scale {self.scale:.4f}, noise exponent {self.noise_exponent:.2f}, hole scale"
            f" {self.holes:.4f}, gradient scale {self.gradient_scale:.4f}"
        )

    def to_config(self) -> dict[str, float]:
        """The weight file's keys: the scale always, the others when they differ from the
        defaults (so a one-scale calibration reads as older files do)."""
        config = {KEYS[0]: float(self.scale)}
        if self.noise_exponent or self.holes != self.scale:
            config.update({KEYS[1]: float(self.noise_exponent), KEYS[2]: float(self.holes)})
        if self.gradient_scale:
            config[KEYS[3]] = float(self.gradient_scale)
        return config

    @classmethod
    def from_config(cls, config: dict) -> UncertaintyCalibration:
        """From a weight file's config (missing keys: the identity)."""
        return cls(
            float(config.get(KEYS[0], 1.0)),
            float(config.get(KEYS[1], 0.0)),
            None if config.get(KEYS[2]) is None else float(config[KEYS[2]]),
            float(config.get(KEYS[3], 0.0)),
        )
