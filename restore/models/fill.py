"""Classical hole filling used as the starting point of the network's residual.

* :func:`pyramid_fill`, push-pull interpolation (Gortler et al., "The Lumigraph", 1996): the known
  pixels are averaged over a pyramid of 2x2 cells ("push") and every hole pixel takes the colour of
  the coarsest cell around it that holds known pixels, blended smoothly back up the pyramid
  ("pull").
  Fast and colour-faithful, but blurry and blocky.
* :func:`harmonic_fill`: approximates the membrane (harmonic) interpolation, where every hole pixel
  is the mean of its four neighbours and the known pixels are the boundary values (the discrete
  Laplace equation), the smoothest fill that meets the hole's edges. Cascadic multigrid: the
  push-pull pyramid gives the start at each level, and a few red-black successive over-relaxation
  (SOR) sweeps refine it. How close each comes to the true pixels is measured in MODEL_CARD.md
  ("Inpainting").

Both take ``(B, C, H, W)`` images of any range and ``(B, 1, H, W)`` hole masks (1 = missing).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

Pyramid = list[tuple[Tensor, Tensor]]


def _push(image: Tensor, mask: Tensor) -> tuple[Pyramid, Tensor]:
    """Pyramid of (weight x colour, weight) 2x2 means, finest first, and the coarsest level's
    fill."""
    if (
        image.dim() != 4
        or mask.dim() != 4
        or mask.shape[1] != 1
        or mask.shape[-2:] != image.shape[-2:]
    ):
        raise ValueError(
            f"expected (B, C, H, W) image and (B, 1, H, W) mask, got "
            f"{tuple(image.shape)} and {tuple(mask.shape)}"
        )
    dtype = torch.promote_types(image.dtype, torch.float32)
    weight = (1.0 - mask.to(dtype)).clamp(0.0, 1.0)
    value = image.to(dtype) * weight
    levels = [(value, weight)]
    while max(value.shape[-2:]) > 1:
        value = F.avg_pool2d(value, 2, ceil_mode=True)
        weight = F.avg_pool2d(weight, 2, ceil_mode=True)
        levels.append((value, weight))
    value, weight = levels.pop()
    return levels, value / weight.clamp_min(1e-8)


def _pull(coarse: Tensor, value: Tensor, weight: Tensor) -> Tensor:
    """One pull step: ``weight * (mean known colour) + (1 - weight) * upsampled coarser fill``."""
    coarse = F.interpolate(coarse, size=value.shape[-2:], mode="bilinear", align_corners=False)
    return value + (1.0 - weight) * coarse


def pyramid_fill(image: Tensor, mask: Tensor) -> Tensor:
    """Fill the holes of ``image`` with a push-pull interpolation of its known pixels.

    Args:
        image: ``(B, C, H, W)`` float image (any range); values under holes are ignored.
        mask: ``(B, 1, H, W)`` hole mask, 1 = missing, 0 = known (fractional values weight pixels).

    Returns:
        ``(B, C, H, W)`` in ``image``'s dtype: known pixels unchanged, holes filled. An image with
        no known pixel at all is filled with 0. Computed in float32 (or float64 for float64 input).
    """
    levels, filled = _push(image, mask)
    for value, weight in reversed(levels):
        filled = _pull(filled, value, weight)
    return filled.to(image.dtype)


def neighbour_sum(image: Tensor, out: Tensor) -> Tensor:
    """``out`` = sum of each pixel's 4 neighbours, the border pixels repeated outside the image."""
    out[..., 1:, :] = image[..., :-1, :]
    out[..., :1, :] = image[..., :1, :]
    out[..., :-1, :] += image[..., 1:, :]
    out[..., -1:, :] += image[..., -1:, :]
    out[..., :, 1:] += image[..., :, :-1]
    out[..., :, :1] += image[..., :, :1]
    out[..., :, :-1] += image[..., :, 1:]
    out[..., :, -1:] += image[..., :, -1:]
    return out


def _sor(image: Tensor, hole: Tensor, sweeps: int, omega: float) -> Tensor:
    """``sweeps`` red-black SOR sweeps of the Laplace equation on the ``hole`` pixels, in place.

    ``hole``: ``(B, 1, H, W)`` bool. Outside the image the border pixels repeat (zero-flux edges).
    """
    if sweeps == 0 or not bool(hole.any()):
        return image
    # Only the holes' bounding box and a pixel around it (every pixel a hole pixel reads): the
    # same result, at a fraction of the cost where the holes cover a small part of the image.
    rows = torch.nonzero(hole.any(-1).flatten(0, -2).any(0), as_tuple=True)[0]
    cols = torch.nonzero(hole.any(-2).flatten(0, -2).any(0), as_tuple=True)[0]
    top, left = max(0, int(rows[0]) - 1), max(0, int(cols[0]) - 1)
    bottom, right = int(rows[-1]) + 2, int(cols[-1]) + 2
    box = image[..., top:bottom, left:right]
    hole = hole[..., top:bottom, left:right]
    h, w = box.shape[-2:]
    red = (
        torch.arange(top, top + h, device=image.device)[:, None]
        + torch.arange(left, left + w, device=image.device)[None, :]
    ) % 2 == 0
    steps = [((hole & red) * omega).to(image.dtype), ((hole & ~red) * omega).to(image.dtype)]
    update = torch.empty_like(box)
    for _ in range(sweeps):
        for step in steps:  # pixel += omega * (mean of its 4 neighbours - pixel), one colour
            box.add_(neighbour_sum(box, update).mul_(0.25).sub_(box).mul_(step))
    return image


def harmonic_fill(
    image: Tensor, mask: Tensor, sweeps: int = 4, omega: float = 1.8, max_sweeps: int = 64
) -> Tensor:
    """Fill the holes of ``image`` with the harmonic (membrane) interpolation of its known pixels.

    Args:
        image: ``(B, C, H, W)`` float image (any range); values under holes are ignored.
        mask: ``(B, 1, H, W)`` hole mask, 1 = missing, 0 = known. Only fully missing pixels (and
            pyramid cells) are relaxed: pixels with fractional values keep their push-pull value.
        sweeps: SOR sweeps at full resolution (0 = :func:`pyramid_fill`).
        omega: over-relaxation factor in ``(0, 2)``; 1 is Gauss-Seidel.
        max_sweeps: each coarser level gets twice the sweeps of the finer one (cheap there), up to
            this many (or ``sweeps``, if larger).

    Returns:
        ``(B, C, H, W)`` in ``image``'s dtype: known pixels unchanged, holes filled. An image
        with no known pixel at all is filled with 0. Computed in float32 (or float64 for float64
        input). Cost: about 16 full-resolution passes, plus the small coarse levels.
    """
    if sweeps < 0 or max_sweeps < 0 or not 0.0 < omega < 2.0:
        raise ValueError(
            f"need sweeps, max_sweeps >= 0 and omega in (0, 2), got {sweeps}, {max_sweeps}, {omega}"
        )
    levels, filled = _push(image, mask)
    for level in reversed(range(len(levels))):
        value, weight = levels[level]
        filled = _pull(filled, value, weight)
        filled = _sor(filled, weight < 1e-6, max(sweeps, min(max_sweeps, sweeps * 2**level)), omega)
    return filled.to(image.dtype)
