"""Geometry shared by training, the network and inference: padding to the network's stride or to a
patch size, centre crops, the eight flips and rotations of an image and the region around holes.
Pure functions on ``(..., H, W)`` tensors, and on ``(H, W, C)`` arrays for the data's patches."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

# The 8 flips and rotations as (quarter turns, mirrored first); index t = 4 * flip + k.
DIHEDRAL = [(k, flip) for flip in (False, True) for k in range(4)]


def pad_to_multiple(images: Tensor, multiple: int) -> Tensor:
    """Pad ``(B, C, H, W)`` on the bottom and right so H and W are multiples of ``multiple``:
    reflect padding, or replicate where the image is too small to reflect."""
    h, w = images.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return images
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(images, (0, pw, 0, ph), mode=mode)


def pad_border(images: Tensor, margin: int) -> Tensor:
    """Pad ``(B, C, H, W)`` by ``margin`` pixels on every side: reflect padding, or replicate
    where the image is too small to reflect. Undo with ``out[..., m:-m, m:-m]``."""
    if margin <= 0:
        return images
    h, w = images.shape[-2:]
    mode = "reflect" if margin < h and margin < w else "replicate"
    return F.pad(images, (margin, margin, margin, margin), mode=mode)


def hole_region(hole: Tensor, margin: int = 64) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` of the part of an image that its holes ``(H, W)`` (bool,
    at least one) draw on: their bounding box grown by its longer side (at least ``margin``
    pixels) on every side, within the image. A fill or a texture taken from there costs little
    for a small hole in a large photo."""
    rows = torch.nonzero(hole.any(1), as_tuple=True)[0]
    cols = torch.nonzero(hole.any(0), as_tuple=True)[0]
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    grow = max(y1 - y0, x1 - x0, margin)
    h, w = hole.shape
    return max(0, y0 - grow), min(h, y1 + grow), max(0, x0 - grow), min(w, x1 + grow)


def pad_to_size(image: np.ndarray, size: int) -> np.ndarray:
    """Reflect-pad an ``(H, W, C)`` array on both sides so that H and W are at least ``size``
    (``image`` itself when they are)."""
    pad_h, pad_w = max(0, size - image.shape[0]), max(0, size - image.shape[1])
    if not pad_h and not pad_w:
        return image
    pad = ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0))
    return np.pad(image, pad, mode="reflect")


def centre_crop(images: Tensor, size: int | None) -> Tensor:
    """The centre ``size`` x ``size`` pixels of ``(..., H, W)`` (a view; a side shorter than
    ``size`` is kept whole; None: the whole image)."""
    if size is None:
        return images
    top, left = (max(0, side - size) // 2 for side in images.shape[-2:])
    return images[..., top : top + size, left : left + size]


def dihedral(image: Tensor, k: int, flip: bool) -> Tensor:
    """``image`` mirrored left-right if ``flip``, then rotated by ``k`` quarter turns."""
    return torch.rot90(image.flip(-1) if flip else image, k, (-2, -1))


def undo_dihedral(image: Tensor, k: int, flip: bool) -> Tensor:
    """The inverse of :func:`dihedral`."""
    image = torch.rot90(image, -k, (-2, -1))
    return image.flip(-1) if flip else image
