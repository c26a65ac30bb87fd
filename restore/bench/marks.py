"""Damage a person sees at a glance (issue #39): dots and lines drawn with OpenCV on flat, gradient
and textured backgrounds, and how much of each mark a damage map holds.

:func:`marks_image` draws one background with every mark of :data:`MARKS` on it, each in its own
cell of a grid; :func:`score_marks` says, per mark, the share of its pixels that a boolean map
(``Restorer.repair``'s ``found``) holds, and the share of the other pixels it holds (false
positives; the 2 pixels around each mark are left out of both, where anti-aliasing makes a pixel
half mark, half background).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

BACKGROUNDS = ("flat", "gradient", "texture")
CELL = 96  # pixels per side of each mark's cell
COLOURS = {"white": (235, 235, 235), "black": (20, 20, 20), "red": (200, 30, 30)}


@dataclass(frozen=True)
class Mark:
    """One mark: ``shape`` ``dot`` (``size`` = radius), ``line`` (straight, ``size`` = width) or
    ``bent`` (a gently bent curve, ``size`` = width), in ``colour`` (a key of :data:`COLOURS`)."""

    shape: str
    size: int
    colour: str

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape} {self.size} px"


MARKS = tuple(
    [Mark("dot", r, c) for c in COLOURS for r in range(1, 7)]
    + [Mark(s, w, c) for s in ("line", "bent") for c in ("white", "black") for w in range(1, 5)]
)


def _background(kind: str, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "flat":
        base = np.full((h, w, 3), 128.0, np.float32)
    elif kind == "gradient":
        base = np.stack([60 + 140 * x / w, 90 + 80 * y / h, 170 - 100 * x / w], -1)
    elif kind == "texture":  # a fine, low-contrast texture like paper, cloth or a wall
        grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.5)
        grain = 18 * grain / grain.std()
        base = np.stack([130 + grain, 115 + grain, 100 + 0.8 * grain], -1)
    else:
        raise ValueError(f"background must be one of {BACKGROUNDS}, got {kind!r}")
    noise = rng.normal(0, 2, (h, w, 3))
    return np.clip(base + noise, 0, 255)


def _draw(canvas: np.ndarray, mark: Mark, cy: int, cx: int) -> None:
    colour = COLOURS[mark.colour]
    if mark.shape == "dot":
        cv2.circle(canvas, (cx, cy), mark.size, colour, -1, cv2.LINE_AA)
        return
    half = CELL // 2 - 10
    if mark.shape == "line":
        points = np.array([[cx - half, cy - half // 3], [cx + half, cy + half // 3]])
    else:
        t = np.linspace(-1, 1, 40)
        points = np.stack([cx + half * t, cy + 0.35 * half * (1 - t**2) - half * 0.15], 1)
    cv2.polylines(
        canvas, [np.round(points).astype(np.int32)], False, colour, mark.size, cv2.LINE_AA
    )


def marks_image(background: str, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """A uint8 RGB image of ``background`` (:data:`BACKGROUNDS`) with every mark of
    :data:`MARKS` drawn in its own ``CELL``-pixel cell, and each mark's bool mask (the pixels
    it changed by more than 10 grey levels), in the order of :data:`MARKS`."""
    rng = np.random.default_rng(seed)
    columns = 8
    rows = -(-len(MARKS) // columns)
    h, w = rows * CELL, columns * CELL
    clean = _background(background, h, w, rng)
    image, masks = clean.copy(), []
    for i, mark in enumerate(MARKS):
        cy, cx = (i // columns) * CELL + CELL // 2, (i % columns) * CELL + CELL // 2
        before = image.copy()
        _draw(image, mark, cy, cx)
        masks.append(np.abs(image - before).max(-1) > 10)
    return np.clip(np.round(image), 0, 255).astype(np.uint8), masks


def score_marks(found: np.ndarray, masks: list[np.ndarray]) -> tuple[list[float], float]:
    """``(held, false)``: per mark, the share of its pixels that ``found`` (bool ``(H, W)``)
    holds, leaving out its outermost pixel; and the share of the pixels more than 2 px away
    from every mark that it holds."""
    ring = np.ones((5, 5), np.uint8)
    held = []
    for mask in masks:
        core = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        core = core if core.any() else mask
        held.append(float(found[core].mean()))
    near = cv2.dilate(np.any(masks, 0).astype(np.uint8), ring).astype(bool)
    return held, float(found[~near].mean())
