"""Pictures of per-pixel maps for people to look at (the numbers go to float TIFFs)."""

from __future__ import annotations

import cv2
import numpy as np


def uncertainty_picture(std: np.ndarray, top: float | None = None, bar: int = 28) -> np.ndarray:
    """An ``(H + bar, W, 3)`` uint8 RGB picture of an ``(H, W)`` standard-deviation map in grey
    levels: the inferno colour map from 0 (black) to ``top`` (yellow; default the map's 99th
    percentile, at least 1), with a scale bar below labelled in grey levels."""
    std = np.asarray(std, np.float32)
    if std.ndim != 2:
        raise ValueError(f"expected an (H, W) map, got shape {std.shape}")
    top = float(max(1.0, np.percentile(std, 99))) if top is None else float(top)
    height, width = std.shape

    def colour(values: np.ndarray) -> np.ndarray:
        levels = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)

    ramp = np.tile(np.linspace(0.0, top, width, dtype=np.float32), (bar // 2, 1))
    legend = np.full((bar - bar // 2, width, 3), 255, np.uint8)
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.35
    label = f"{top:.1f} grey levels (0-255)"
    (text_width, _), _ = cv2.getTextSize(label, font, scale, 1)
    baseline = legend.shape[0] - 3
    cv2.putText(legend, "0", (2, baseline), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(
        legend,
        label,
        (max(0, width - text_width - 2), baseline),
        font,
        scale,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    return np.concatenate([colour(std), colour(ramp), legend])[: height + bar]


def contact_sheet(
    images: list[np.ndarray], labels: list[str], columns: int = 4, size: int = 384
) -> np.ndarray:
    """A uint8 RGB sheet of ``images`` (each ``(H, W[, C])``, uint8, uint16 or float 0-1, all
    one shape) as thumbnails at most ``size`` pixels on their long side, ``columns`` to a row,
    each with its label underneath."""
    if not images or len(images) != len(labels):
        raise ValueError("need one label per image, and at least one image")
    height, width = images[0].shape[:2]
    scale = min(1.0, size / max(height, width))
    thumb = (max(1, round(width * scale)), max(1, round(height * scale)))
    font, text, pad = cv2.FONT_HERSHEY_SIMPLEX, 0.4, 4
    cell_w, cell_h = thumb[0] + 2 * pad, thumb[1] + 18 + pad
    rows = -(-len(images) // columns)
    sheet = np.full((rows * cell_h, min(columns, len(images)) * cell_w, 3), 255, np.uint8)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        if image.shape[:2] != (height, width):
            raise ValueError(f"images differ in size: {image.shape[:2]} and {(height, width)}")
        pixels = _as_rgb8(image)
        small = cv2.resize(pixels, thumb, interpolation=cv2.INTER_AREA)
        top, left = (i // columns) * cell_h + pad, (i % columns) * cell_w + pad
        sheet[top : top + thumb[1], left : left + thumb[0]] = small
        baseline = top + thumb[1] + 13
        cv2.putText(sheet, label, (left, baseline), font, text, (0, 0, 0), 1, cv2.LINE_AA)
    return sheet


def _as_rgb8(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 from uint8, uint16 or 0-1 float, gray or RGB(A) (alpha dropped)."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        pixels = image
    elif image.dtype == np.uint16:
        pixels = (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    else:
        pixels = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    channels = pixels.shape[2]
    if channels in (1, 2):
        return np.repeat(pixels[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(pixels[:, :, :3])
