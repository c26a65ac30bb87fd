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
