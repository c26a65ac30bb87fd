"""Image files: recursive listing and decoding to float32 arrays in ``[0, 1]``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from restore.formats import IMAGE_SUFFIXES


def list_images(root: Path | str) -> list[Path]:
    """Image files under ``root``, searched recursively, sorted.

    A file counts as an image when its suffix (case-insensitive) is in :data:`IMAGE_SUFFIXES`.
    """
    return sorted(
        path
        for path in Path(root).rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    )


def read_image(path: Path | str, channels: int = 3) -> np.ndarray:
    """Decode an image file to a float32 ``(H, W, channels)`` array in ``[0, 1]``.

    8-bit and 16-bit files are scaled by 255 and 65535. Gray, BGR and BGRA files are accepted; alpha
    is dropped. ``channels=3`` gives RGB (gray is replicated), ``channels=1`` gives luma
    (ITU-R BT.601 weights, as ``cv2.cvtColor``).

    Raises:
        ValueError: ``channels`` is not 1 or 3, or the file is missing, empty or cannot be decoded.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ValueError(f"{path}: cannot decode image")
    image = _to_unit_float(image, path)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if channels == 3 else image
    elif image.ndim == 3 and image.shape[2] == 3:
        code = cv2.COLOR_BGR2RGB if channels == 3 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    else:
        raise ValueError(f"{path}: unsupported image shape {image.shape}")
    return np.ascontiguousarray(image.reshape(image.shape[0], image.shape[1], channels))


def _to_unit_float(image: np.ndarray, path: Path | str) -> np.ndarray:
    """Scale an integer or float image to float32 in ``[0, 1]``."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    if image.dtype in (np.float32, np.float64):
        return np.clip(image, 0.0, 1.0).astype(np.float32)
    raise ValueError(f"{path}: unsupported pixel type {image.dtype}")
