"""Classical hole filling used as the starting point of the network's residual.

Push-pull interpolation (Gortler et al., "The Lumigraph", 1996): the known pixels are averaged over a
pyramid of 2x2 cells ("push") and every hole pixel takes the colour of the coarsest cell around it
that holds known pixels, blended smoothly back up the pyramid ("pull"). The result is a smooth,
colour-faithful fill that reaches into holes of any width; the network then only adds the detail.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def pyramid_fill(image: Tensor, mask: Tensor) -> Tensor:
    """Fill the holes of ``image`` with a push-pull interpolation of its known pixels.

    Args:
        image: ``(B, C, H, W)`` float image (any range); values under holes are ignored.
        mask: ``(B, 1, H, W)`` hole mask, 1 = missing, 0 = known (fractional values weight pixels).

    Returns:
        ``(B, C, H, W)`` in ``image``'s dtype: known pixels unchanged, holes filled. An image with no
        known pixel at all is filled with 0. Computed in float32 (or float64 for float64 input).
    """
    if image.dim() != 4 or mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"expected (B, C, H, W) image and (B, 1, H, W) mask, got "
                         f"{tuple(image.shape)} and {tuple(mask.shape)}")
    dtype = torch.promote_types(image.dtype, torch.float32)
    weight = (1.0 - mask.to(dtype)).clamp(0.0, 1.0)
    value = image.to(dtype) * weight
    levels = [(value, weight)]
    while max(value.shape[-2:]) > 1:  # push: 2x2 means of colour x weight and of weight
        value = F.avg_pool2d(value, 2, ceil_mode=True)
        weight = F.avg_pool2d(weight, 2, ceil_mode=True)
        levels.append((value, weight))
    value, weight = levels[-1]
    filled = value / weight.clamp_min(1e-8)
    for value, weight in reversed(levels[:-1]):  # pull: blend the coarser fill into the gaps
        coarse = F.interpolate(filled, size=value.shape[-2:], mode="bilinear", align_corners=False)
        # weight * (mean known colour) + (1 - weight) * coarser fill; value = weight * mean.
        filled = value + (1.0 - weight) * coarse
    return filled.to(image.dtype)
