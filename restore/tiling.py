"""Tiled inference: run a network over overlapping tiles and blend them without seams.

Memory stays bounded by the tile size (plus one float32 accumulator of the whole image), so photos
of any size run on CPU. Tiles are blended with separable weights that ramp smoothly (raised cosine)
across the overlap, so neighbouring tiles hand over gradually and no seams show. The outer half of
the overlap is used as context only, where convolution border effects are largest.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from restore.geometry import pad_to_multiple
from restore.options import DEFAULT_TILE, DEFAULT_TILE_OVERLAP


def _starts(length: int, tile: int, overlap: int, multiple: int) -> list[int]:
    """Tile starts covering ``length``: multiples of ``multiple``, overlapping by about
    ``overlap``."""
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    step = (length - tile) / (count - 1)
    return [round(i * step / multiple) * multiple for i in range(count)]


def _ramp(length: int, overlap: int, first: bool, last: bool, device) -> Tensor:
    """1-D blending weight of one tile along one axis.

    At an inner tile edge the first half of the overlap is context only (weight ~0: the network's
    border effects live there) and the second half ramps up as a raised cosine; image edges keep
    weight 1.
    """
    w = torch.ones(length, device=device)
    if overlap > 0:
        context, blend = overlap // 2, overlap - overlap // 2
        t = (torch.arange(blend, device=device, dtype=torch.float32) + 0.5) / blend
        ramp = torch.cat(
            [torch.full((context,), 1e-6, device=device), 0.5 - 0.5 * torch.cos(math.pi * t)]
        )
        if not first:
            w[:overlap] = ramp
        if not last:
            w[-overlap:] = ramp.flip(0)
    return w


def tiled(
    fn: Callable[[Tensor, Tensor, tuple[int, int]], Tensor],
    images: Tensor,
    extra: Tensor,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_TILE_OVERLAP,
    multiple: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> Tensor:
    """Apply ``fn(image_tile, extra_tile, (y, x)) -> output_tile`` over overlapping tiles and blend.

    Args:
        fn: maps ``(B, C, h, w)`` and ``(B, E, h, w)`` tiles whose top-left pixel is ``(y, x)`` (in
            the padded image; multiples of ``multiple``) to a ``(B, C', h, w)`` tile.
        images: ``(B, C, H, W)`` input.
        extra: ``(B, E, H, W)`` per-pixel side input tiled alongside (e.g. the hole mask).
        tile: tile side in pixels (images smaller than a tile run whole).
        overlap: overlap between neighbouring tiles in pixels (< tile / 2).
        multiple: the network's stride. The image is padded to a multiple of it and tiles start on
            multiples of it, so a tiled run sees the same grid as a whole-image run.
        progress: called as ``progress(done, total)`` after each tile, ``total`` being the
            number of tiles (1 for an image that runs whole); the last call is
            ``(total, total)``. None: not called.

    Returns:
        ``(B, C', H, W)`` float32 on the input's device.
    """
    tile = tile // multiple * multiple
    if tile <= 0 or not 0 <= overlap < tile / 2:
        raise ValueError(
            f"need tile >= {multiple} and 0 <= overlap < tile / 2, got tile={tile}, "
            f"overlap={overlap}"
        )
    height, width = images.shape[-2:]
    images, extra = pad_to_multiple(images, multiple), pad_to_multiple(extra, multiple)
    b, _, h, w = images.shape
    if h <= tile and w <= tile:
        out = fn(images, extra, (0, 0)).float()[..., :height, :width]
        if progress is not None:
            progress(1, 1)
        return out
    ys, xs = _starts(h, tile, overlap, multiple), _starts(w, tile, overlap, multiple)
    total = len(ys) * len(xs)
    out = None
    weight = torch.zeros((1, 1, h, w), device=images.device)
    for iy, y in enumerate(ys):
        th = min(tile, h - y)
        wy = _ramp(th, overlap, iy == 0, iy == len(ys) - 1, images.device)
        for ix, x in enumerate(xs):
            tw = min(tile, w - x)
            wx = _ramp(tw, overlap, ix == 0, ix == len(xs) - 1, images.device)
            result = fn(
                images[..., y : y + th, x : x + tw], extra[..., y : y + th, x : x + tw], (y, x)
            ).float()
            if out is None:
                out = torch.zeros((b, result.shape[1], h, w), device=images.device)
            wt = (wy[:, None] * wx[None, :])[None, None]
            out[..., y : y + th, x : x + tw] += result * wt
            weight[..., y : y + th, x : x + tw] += wt
            if progress is not None:
                progress(iy * len(xs) + ix + 1, total)
    return out.div_(weight)[..., :height, :width]
