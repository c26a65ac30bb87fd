"""Composed corruption: noise ops in order, then old-photo damage, then holes. Returns what training
and evaluation need."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from restore.corruption import sampling
from restore.corruption.damage import Damage
from restore.corruption.masks import MaskSampler, apply_mask
from restore.corruption.noise import DegradationOp, check_images


@dataclass
class CorruptionResult:
    """Output of :func:`corrupt`.

    Attributes:
        degraded: ``(B, C, H, W)`` corrupted images, same dtype and device as the input.
        mask: ``(B, 1, H, W)`` hole mask, 1 = missing pixel (all zeros when no holes were made).
        rms_error: ``(B,)`` float32 RMS difference between degraded and clean pixels outside the
            holes and the damage, on the 0-255 scale (equals the Gaussian sigma, up to clipping,
            for Gaussian noise).
        damage: ``(B, 1, H, W)`` damage mask, 1 = damaged pixel that keeps a (damaged) value, 0 on
            the holes (see :mod:`.damage` for the rule); ``None`` when no damage op was given.
    """

    degraded: Tensor
    mask: Tensor
    rms_error: Tensor
    damage: Tensor | None = None


def corrupt(
    images: Tensor,
    noise: Sequence[DegradationOp] = (),
    masks: MaskSampler | None = None,
    mask_p: float = 1.0,
    fill: float = 0.0,
    generator: torch.Generator | None = None,
    damage: Damage | None = None,
) -> CorruptionResult:
    """Apply ``noise`` ops in order, then ``damage``, then holes from ``masks`` (each image with
    probability ``mask_p``).

    Holes are filled with ``fill`` (0-1). ``images`` is ``(B, C, H, W)`` float in ``[0, 1]``.
    """
    check_images(images)
    degraded = images
    for op in noise:
        degraded = op(degraded, generator=generator)
    damage_mask = None
    if damage is not None:
        degraded, damage_mask = damage(degraded, generator=generator)
    b, _, h, w = images.shape
    mask = images.new_zeros((b, 1, h, w))
    if masks is not None:
        drawn = masks(images, generator=generator)
        mask = sampling.apply_with_probability(mask_p, drawn, mask, generator)
        degraded = apply_mask(degraded, mask, fill)
    known = 1.0 - mask.float()
    if damage_mask is not None:
        damage_mask = damage_mask * (1 - mask)  # a hole is missing, not damaged
        known = known - damage_mask.float()
    sq_err = ((degraded.float() - images.float()) ** 2 * known).sum(dim=(1, 2, 3))
    count = (known.sum(dim=(1, 2, 3)) * images.shape[1]).clamp_min(1.0)
    rms_error = 255.0 * (sq_err / count).sqrt()
    return CorruptionResult(degraded, mask, rms_error, damage_mask)


class Corruption(nn.Module):
    """``nn.Module`` form of :func:`corrupt`:
    ``Corruption(noise, masks, damage=...)(images, generator)``.

    Args:
        noise: noise ops applied in order (each draws its own parameters per image).
        masks: hole generator; None: no holes.
        mask_p: share of images that get holes (each image with probability ``mask_p``), 0-1.
        fill: value the holes are set to in the degraded images (0-1 scale).
        damage: old-photo damage applied after the noise, before the holes; None: no damage.
    """

    def __init__(
        self,
        noise: Sequence[DegradationOp] = (),
        masks: MaskSampler | None = None,
        mask_p: float = 1.0,
        fill: float = 0.0,
        damage: Damage | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= mask_p <= 1.0:
            raise ValueError(f"mask_p must be in [0, 1], got {mask_p}")
        self.noise = nn.ModuleList(noise)
        self.masks = masks
        self.mask_p = mask_p
        self.fill = fill
        self.damage = damage

    def forward(self, images: Tensor, generator: torch.Generator | None = None) -> CorruptionResult:
        return corrupt(
            images, list(self.noise), self.masks, self.mask_p, self.fill, generator, self.damage
        )


class RandomChoice(DegradationOp):
    """Apply one of ``ops`` per image, chosen with probabilities ``weights`` (default: equal).

    Args:
        ops: the ops to choose from; each runs only on the images that chose it.
        weights: one non-negative weight per op, normalised to sum to 1; None: equal.
        p: share of images that get any op at all (each image with probability ``p``).
    """

    def __init__(
        self, ops: Sequence[DegradationOp], weights: Sequence[float] | None = None, p: float = 1.0
    ):
        super().__init__(p)
        if not ops:
            raise ValueError("RandomChoice needs at least one op")
        self.ops = nn.ModuleList(ops)
        w = torch.ones(len(ops)) if weights is None else torch.tensor(weights, dtype=torch.float32)
        if w.shape != (len(ops),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be {len(ops)} non-negative numbers, got {weights}")
        self.register_buffer("weights", w / w.sum(), persistent=False)

    def corrupt(self, images, generator):
        cumulative = self.weights.to(images.device).cumsum(0)
        u = sampling.rand((images.shape[0],), images, generator)
        choice = torch.searchsorted(cumulative, u, right=True).clamp_max(len(self.ops) - 1)
        out = images.clone()
        for i, op in enumerate(self.ops):
            chosen = choice == i
            if bool(chosen.any()):  # each op runs on its own images only
                out[chosen] = op(images[chosen], generator=generator).to(out.dtype)
        return out
