"""Image files: recursive listing and decoding to float32 arrays in ``[0, 1]``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from restore.formats import IMAGE_SUFFIXES
from restore.imagefile import read_image_file


def list_images(root: Path | str) -> list[Path]:
    """Image files under ``root``, searched recursively, sorted.

    A file counts as an image when its suffix (case-insensitive) is in :data:`IMAGE_SUFFIXES`.
    """
    return sorted(
        path
        for path in Path(root).rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    )


def decode_image(path: Path | str, channels: int = 3) -> np.ndarray:
    """Decode an image file to an ``(H, W, channels)`` array of its own bit depth (uint8, uint16).

    As :func:`read_image`, without the conversion to float (a quarter or half of the memory);
    colour files read as luma (``channels=1``) come back as float32 in ``[0, 1]``.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    image = read_image_file(path).pixels  # gray, gray + alpha, RGB or RGBA; uint8 or uint16
    if image.ndim == 3 and image.shape[2] in (2, 4):
        image = image[:, :, :-1]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if channels == 3 else image
    elif channels == 1:
        image = to_float(image)
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(image.reshape(image.shape[0], image.shape[1], channels))


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 / uint16 pixels as float32 in ``[0, 1]`` (scaled by 255 / 65535); floats as they are."""
    if image.dtype.kind == "f":
        return image.astype(np.float32, copy=False)
    return image.astype(np.float32) / np.iinfo(image.dtype).max


def read_image(path: Path | str, channels: int = 3) -> np.ndarray:
    """Decode an image file to a float32 ``(H, W, channels)`` array in ``[0, 1]``.

    Decoded by :func:`restore.imagefile.read_image_file`, as in ``restore-image``: EXIF orientation
    applied, truncated files refused. 8-bit and 16-bit files are scaled by 255 and 65535; alpha is
    dropped. ``channels=3`` gives RGB (gray is replicated), ``channels=1`` gives luma (ITU-R BT.601
    weights, as ``cv2.cvtColor``).

    Raises:
        ValueError: ``channels`` is not 1 or 3, or the file is missing, empty, truncated or cannot be
            decoded (the message names the file).
    """
    return to_float(decode_image(path, channels))
