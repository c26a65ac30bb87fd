"""Hole masks: the one rule that turns a mask image or array into missing pixels.

**The rule.** A pixel is a hole (missing) when its brightest colour channel is above half the range:
above 127 for 8 bits, 32767 for 16 bits, 0.5 for floats; ``True`` for booleans. A mask whose
values are all 0 or 1 (an integer 0/1 array, as code writes them) has its 1s as holes. Alpha is
ignored: a mask image exported with an opaque black background and a white hole is read by its
colour. So white (or any bright colour) = hole, black = known
(:data:`restore.io.mask_rule.MASK_RULE` says it in one line for help texts and messages).

Layouts: NumPy arrays and PIL images are ``(H, W)`` or ``(H, W, C)`` with C = 1, 2 (gray + alpha),
3 (RGB) or 4 (RGBA); torch tensors are ``(H, W)``, ``(C, H, W)`` or ``(B, C, H, W)`` with the
same channel meanings. ``restore-image --masks``, ``Restorer.inpaint`` / ``restore`` and training's
:class:`restore.corruption.FileMasks` all read masks through :func:`holes_in_mask`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor

from restore.io.images import read_image_file


def _colour_max(pixels: np.ndarray) -> np.ndarray:
    """The brightest colour channel of channels-last ``(..., C)`` pixels, alpha dropped."""
    channels = pixels.shape[-1]
    if channels not in (1, 2, 3, 4):
        raise ValueError(f"a mask has 1-4 channels (gray, gray + alpha, RGB, RGBA), got {channels}")
    colour = pixels[..., :1] if channels == 2 else pixels[..., :3]
    return colour.max(axis=-1)


def holes_in_mask(mask: Any) -> np.ndarray:
    """Bool hole map of a NumPy ``(H, W)`` / ``(H, W, C)`` array or a PIL image (see the rule in the
    module docstring): ``(H, W)``, True = missing pixel."""
    pixels = np.asarray(mask)
    if pixels.ndim == 3:
        pixels = _colour_max(pixels)
    if pixels.ndim != 2:
        raise ValueError(f"expected an (H, W) or (H, W, C) mask, got shape {pixels.shape}")
    return _threshold(pixels)


def holes_in_mask_tensor(mask: Tensor) -> Tensor:
    """Bool hole map ``(B, 1, H, W)`` (B = 1 unless given) of a ``(H, W)``, ``(C, H, W)`` or
    ``(B, C, H, W)`` tensor, on its device, by the same rule."""
    if mask.dim() == 2:
        mask = mask[None, None]
    elif mask.dim() == 3:
        mask = mask[None]
    if mask.dim() != 4:
        raise ValueError(
            f"expected an (H, W), (C, H, W) or (B, C, H, W) mask, got {tuple(mask.shape)}"
        )
    pixels = mask.detach().movedim(1, -1).cpu()
    pixels = (pixels.float() if pixels.dtype == torch.bfloat16 else pixels).numpy()
    return torch.from_numpy(_threshold(_colour_max(pixels)))[:, None].to(mask.device)


def _threshold(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == bool:
        return pixels.copy()
    if np.issubdtype(pixels.dtype, np.integer):
        if pixels.size and pixels.min() >= 0 and pixels.max() <= 1:
            return pixels == 1  # a 0/1 mask
        return pixels > np.iinfo(pixels.dtype).max // 2
    if np.issubdtype(pixels.dtype, np.floating):
        return pixels > 0.5
    raise ValueError(f"unsupported mask dtype {pixels.dtype}")


def read_mask(path: str | Path) -> np.ndarray:
    """The bool ``(H, W)`` hole map of a mask image file (EXIF orientation applied).

    Raises :class:`restore.io.ImageFileError` (a ``ValueError``) naming the file when it cannot be
    read.
    """
    return holes_in_mask(read_image_file(path).pixels)


def load_mask(path: str | Path, size: tuple[int, int] | None = None) -> Tensor:
    """A mask image file as a float32 ``(1, 1, H, W)`` tensor of 0/1 (1 = hole), resized with
    nearest neighbour to ``size`` = ``(height, width)`` when given."""
    mask = read_mask(path).astype(np.float32)
    if size is not None and mask.shape != tuple(size):
        mask = cv2.resize(mask, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    return torch.from_numpy(mask)[None, None]
