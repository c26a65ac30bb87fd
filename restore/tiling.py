"""Tiled inference: run a network over overlapping tiles and blend them without seams.

Memory stays bounded by the tile size (plus one float32 accumulator of the whole image), so photos
of any size run on CPU. :func:`tile_shape` picks the fewest tiles under a pixel budget, so an
image that fits runs whole and no pixel is computed twice that need not be. Tiles are blended
with separable weights that ramp smoothly (raised cosine) across the overlap, so neighbouring
tiles hand over gradually and no seams show. The outer half of the overlap is used as context
only, where convolution border effects are largest.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from restore.geometry import pad_to_multiple
from restore.options import HOLE_TILE_OVERLAP, MAX_TILE_PIXELS, TILE_OVERLAP


def _side(length: int, count: int, overlap: int, multiple: int) -> int:
    """The shortest tile side (a multiple of ``multiple``) whose ``count`` tiles cover
    ``length`` overlapping by at least ``overlap``."""
    side = -(-(length + (count - 1) * overlap) // count)
    return min(-(-side // multiple) * multiple, length)


def tile_shape(
    height: int,
    width: int,
    max_pixels: int = MAX_TILE_PIXELS,
    overlap: int = TILE_OVERLAP,
    multiple: int = 1,
) -> tuple[int, int]:
    """The tile ``(h, w)`` for an image of ``height x width`` (already a multiple of
    ``multiple``): among the tilings whose tiles hold at most ``max_pixels`` each, the one that
    sends the fewest pixels through the network (overlaps counted each time), so an image that
    fits runs as one tile. Both sides are multiples of ``multiple`` and more than twice
    ``overlap`` (or the whole side); a budget below that gives the smallest such tile."""

    def sides(length: int) -> list[int]:
        found, count = [], 1
        while True:
            side = _side(length, count, overlap, multiple)
            if count > 1 and side <= 2 * overlap:
                return found
            if side not in found:
                found.append(side)
            if side <= multiple:
                return found
            count += 1

    best = None
    for th in sides(height):
        for tw in sides(width):
            tiles = len(tile_starts(height, th, overlap, multiple)) * len(
                tile_starts(width, tw, overlap, multiple)
            )
            work = tiles * th * tw
            fits = th * tw <= max_pixels
            key = (not fits, work if fits else th * tw)
            if best is None or key < best[0]:
                best = (key, (th, tw))
    return best[1]


def tile_description(tile: int | None, overlap: int | None) -> str:
    """How a ``Restorer``'s ``tile`` and ``tile_overlap`` settings read in reports: ``768 px,
    overlap 32 px`` or ``auto (at most 1.25 MP), overlap 64 px (128 px with holes)``."""
    size = f"auto (at most {MAX_TILE_PIXELS / 1e6:g} MP)" if tile is None else f"{tile} px"
    if overlap is None:
        return f"{size}, overlap {TILE_OVERLAP} px ({HOLE_TILE_OVERLAP} px with holes)"
    return f"{size}, overlap {overlap} px"


def tile_starts(length: int, tile: int, overlap: int, multiple: int) -> list[int]:
    """Where the tiles of side ``tile`` start along an axis of ``length`` pixels: multiples of
    ``multiple``, the last ending at ``length``, neighbours overlapping by about ``overlap``."""
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
    tile: int | tuple[int, int] | None = None,
    overlap: int = TILE_OVERLAP,
    multiple: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> Tensor:
    """Apply ``fn(image_tile, extra_tile, (y, x)) -> output_tile`` over overlapping tiles and blend.

    Args:
        fn: maps ``(B, C, h, w)`` and ``(B, E, h, w)`` tiles whose top-left pixel is ``(y, x)`` (in
            the padded image; multiples of ``multiple``) to a ``(B, C', h, w)`` tile.
        images: ``(B, C, H, W)`` input.
        extra: ``(B, E, H, W)`` per-pixel side input tiled alongside (e.g. the hole mask).
        tile: tile side in pixels, or ``(h, w)`` (images smaller than a tile run whole); None:
            :func:`tile_shape` for this image and batch (at most :data:`MAX_TILE_PIXELS` pixels
            of all the batch's images together per tile).
        overlap: overlap between neighbouring tiles in pixels (< tile / 2).
        multiple: the network's stride. The image is padded to a multiple of it and tiles start on
            multiples of it, so a tiled run sees the same grid as a whole-image run.
        progress: called as ``progress(done, total)`` after each tile, ``total`` being the
            number of tiles (1 for an image that runs whole); the last call is
            ``(total, total)``. None: not called.

    Returns:
        ``(B, C', H, W)`` float32 on the input's device.
    """
    height, width = images.shape[-2:]
    images, extra = pad_to_multiple(images, multiple), pad_to_multiple(extra, multiple)
    b, _, h, w = images.shape
    if tile is None:
        if overlap < 0:
            raise ValueError(f"need overlap >= 0, got {overlap}")
        tile_h, tile_w = tile_shape(h, w, MAX_TILE_PIXELS // b, overlap, multiple)
    else:
        tile_h, tile_w = (tile, tile) if isinstance(tile, int) else tile
        tile_h, tile_w = tile_h // multiple * multiple, tile_w // multiple * multiple
        if min(tile_h, tile_w) <= 0 or not 0 <= overlap < min(tile_h, tile_w) / 2:
            raise ValueError(
                f"need tile >= {multiple} and 0 <= overlap < tile / 2, got tile={tile}, "
                f"overlap={overlap}"
            )
    if h <= tile_h and w <= tile_w:
        out = fn(images, extra, (0, 0)).float()[..., :height, :width]
        if progress is not None:
            progress(1, 1)
        return out
    ys, xs = tile_starts(h, tile_h, overlap, multiple), tile_starts(w, tile_w, overlap, multiple)
    total = len(ys) * len(xs)
    out = None
    # The tiles lie on a grid and their weights are separable, so the weights' sum is the outer
    # product of the sums along each axis: two vectors, not an image-sized map.
    rows = [_ramp(min(tile_h, h - y), overlap, i == 0, i == len(ys) - 1, images.device)
            for i, y in enumerate(ys)]  # fmt: skip
    cols = [_ramp(min(tile_w, w - x), overlap, i == 0, i == len(xs) - 1, images.device)
            for i, x in enumerate(xs)]  # fmt: skip
    row_sum, col_sum = torch.zeros(h, device=images.device), torch.zeros(w, device=images.device)
    for y, wy in zip(ys, rows, strict=True):
        row_sum[y : y + len(wy)] += wy
    for x, wx in zip(xs, cols, strict=True):
        col_sum[x : x + len(wx)] += wx
    for iy, (y, wy) in enumerate(zip(ys, rows, strict=True)):
        th = len(wy)
        for ix, (x, wx) in enumerate(zip(xs, cols, strict=True)):
            tw = len(wx)
            result = fn(
                images[..., y : y + th, x : x + tw], extra[..., y : y + th, x : x + tw], (y, x)
            ).float()
            if out is None:
                out = torch.zeros((b, result.shape[1], h, w), device=images.device)
            out[..., y : y + th, x : x + tw] += result * wy[:, None] * wx[None, :]
            if progress is not None:
                progress(iy * len(xs) + ix + 1, total)
    return out.div_(row_sum[:, None]).div_(col_sum[None, :])[..., :height, :width]


def hole_windows(
    holes: Tensor, context: int, multiple: int = 1, max_share: float = 0.5
) -> list[tuple[int, int, int, int]] | None:
    """Boxes ``(y0, y1, x0, x1)`` that hold every hole of ``holes`` ``(B, 1, H, W)`` (nonzero:
    hole; all the batch's images together) with at least ``context`` pixels of the image around
    it (less only at the image's edges), none overlapping another; edges on multiples of
    ``multiple`` (or the image's edge). A network that only fills the holes needs to see no more.
    None when the boxes would cover more than ``max_share`` of the image (running it whole is as
    cheap); an empty list when there is no hole."""
    import cv2

    h, w = holes.shape[-2:]
    cell = multiple * -(-16 // multiple)  # 16 px or more
    grid = torch.nn.functional.max_pool2d(
        (holes != 0).any(0, keepdim=True).float(), cell, ceil_mode=True
    )[0, 0]
    if not bool(grid.any()):
        return []
    reach = -(-context // cell)
    grid = torch.nn.functional.max_pool2d(grid[None, None], 2 * reach + 1, 1, reach)[0, 0]
    _, _, stats, _ = cv2.connectedComponentsWithStats(
        grid.to(torch.uint8).cpu().numpy(), connectivity=8
    )
    boxes = [
        (int(y) * cell, min(int(y + ch) * cell, h), int(x) * cell, min(int(x + cw) * cell, w))
        for x, y, cw, ch, _ in stats[1:]
    ]
    i = 0
    while i < len(boxes):  # boxes of different components may still overlap: join them
        a = boxes[i]
        j = next((j for j in range(i + 1, len(boxes)) if _overlap(a, boxes[j])), None)
        if j is None:
            i += 1
            continue
        b = boxes.pop(j)
        boxes[i] = (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))
        i = 0  # the grown box may now overlap an earlier one
    if sum((y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in boxes) > max_share * h * w:
        return None
    return boxes


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether boxes ``(y0, y1, x0, x1)`` share a pixel."""
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]
