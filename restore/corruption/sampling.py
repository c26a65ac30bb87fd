"""Seeded random draws shared by the corruption ops.

Every op takes an optional ``torch.Generator``. Draws are made on the generator's device (so a CPU
generator gives the same numbers whatever device the images live on) and then moved to the images'
device and dtype. Without a generator the global torch RNG of the images' device is used.
"""

from __future__ import annotations

import torch
from torch import Tensor


def source_device(like: Tensor, generator: torch.Generator | None) -> torch.device:
    """Where to draw: the generator's device, else ``like``'s (the global generator there)."""
    return generator.device if generator is not None else like.device


def randn(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Standard normal samples of ``shape`` on ``like``'s device, float32."""
    out = torch.randn(shape, generator=generator, device=source_device(like, generator))
    return out.to(like.device)


def rand(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Uniform [0, 1) samples of ``shape`` on ``like``'s device, float32."""
    out = torch.rand(shape, generator=generator, device=source_device(like, generator))
    return out.to(like.device)


def uniform(
    low: float, high: float, n: int, like: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """``n`` float32 values drawn uniformly from ``[low, high]`` (exactly ``low`` when equal)."""
    return low + (high - low) * rand((n,), like, generator)


def seeds(n: int, generator: torch.Generator | None = None) -> list[int]:
    """``n`` integer seeds for NumPy-based generators (mask drawing), drawn from ``generator``."""
    device = generator.device if generator is not None else torch.device("cpu")
    return torch.randint(0, 2**31 - 1, (n,), generator=generator, device=device).tolist()


def per_image_param(
    value: float | tuple[float, float] | Tensor,
    n: int,
    like: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Per-image parameter of shape ``(n,)``, float32, on ``like``'s device.

    ``value`` is a fixed number, a ``(low, high)`` range drawn uniformly per image, or a tensor of
    shape ``()`` or ``(n,)`` used as given.
    """
    if isinstance(value, Tensor):
        out = value.to(device=like.device, dtype=torch.float32)
        return out.expand(n).clone() if out.dim() == 0 else out
    if isinstance(value, (tuple, list)):
        low, high = (float(v) for v in value)
        if high < low:
            raise ValueError(f"range must be (low, high) with low <= high, got {tuple(value)}")
        return uniform(low, high, n, like, generator)
    return torch.full((n,), float(value), device=like.device)


def apply_with_probability(
    p: float, corrupted: Tensor, original: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Keep ``corrupted`` for a random subset of the batch (each image with probability ``p``)."""
    if p >= 1.0:
        return corrupted
    keep = rand((original.shape[0],), original, generator) < p
    return torch.where(keep.view(-1, 1, 1, 1), corrupted, original)
