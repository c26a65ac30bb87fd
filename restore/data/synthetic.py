"""Procedural clean images for training without a photo collection.

Each image is a "dead leaves" stack: a smooth random colour field, optionally overlaid with a faint
texture, covered by anti-aliased shapes (discs, ellipses, rotated rectangles, star-shaped polygons,
thick lines), some with blurred edges. Every layer is filled with a flat colour, a linear gradient,
a sinusoidal grating of random frequency, orientation and edge sharpness, or a blurred-noise
texture. Shape sizes are log-uniform, so there are many small shapes and few large ones, which gives
sharp edges, flat regions and textures at several scales. All draws come from a NumPy generator
seeded with ``(seed, index)``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

_SHIFT = 4  # fractional bits of OpenCV drawing coordinates (1/16-pixel positions)
_SHAPES = ("disc", "ellipse", "rectangle", "polygon", "line")
_FILLS = ("flat", "gradient", "grating", "noise")
_FILL_WEIGHTS = (0.4, 0.2, 0.2, 0.2)
_RADIUS_RANGE = (0.015, 0.4)  # shape radius as a fraction of the shorter image side


def synthetic_image(
    index: int, size: int | tuple[int, int], channels: int = 3, seed: int = 0
) -> np.ndarray:
    """Deterministic procedural image number ``index``.

    Args:
        index: non-negative image number; different numbers give unrelated images.
        size: side in pixels, or ``(height, width)``.
        channels: 3 for RGB, 1 for luma.
        seed: non-negative seed of the whole family of images.

    Returns:
        float32 ``(H, W, channels)`` array in ``[0, 1]``.
    """
    height, width = _pair(size)
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if index < 0 or seed < 0:
        raise ValueError(f"index and seed must be non-negative, got index={index}, seed={seed}")
    rng = np.random.default_rng([seed, index])
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)

    rows, cols = (int(n) for n in rng.integers(2, 5, 2))
    grid = np.stack([_colour(rng) for _ in range(rows * cols)]).reshape(rows, cols, 3)
    image = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.5:
        image += rng.uniform(0.1, 0.4) * (_fill(rng, yy, xx) - image)

    side = min(height, width)
    for _ in range(int(rng.integers(20, 60))):
        low, high = _RADIUS_RANGE
        radius = max(1.5, side * low * (high / low) ** rng.random())
        _add_shape(rng, image, yy, xx, radius)

    image = np.clip(image, 0.0, 1.0)
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None]
    return image


class SyntheticImages(Dataset):
    """``num_images`` synthetic images as float32 ``(C, H, W)`` tensors in ``[0, 1]``.

    Item ``i`` is ``synthetic_image(start + i, size, channels, seed)``; disjoint index ranges give
    disjoint image sets (e.g. training and validation). ``cache=True`` draws all of them once,
    up front, into a read-only array of
    ``num_images * H * W * C * 4`` bytes (shared with forked DataLoader workers).
    """

    def __init__(
        self,
        num_images: int,
        size: int | tuple[int, int],
        channels: int = 3,
        seed: int = 0,
        start: int = 0,
        cache: bool = False,
    ) -> None:
        if num_images < 1:
            raise ValueError(f"num_images must be positive, got {num_images}")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.num_images = num_images
        self.size = _pair(size)
        self.channels = channels
        self.seed = seed
        self.start = start
        self._cache: np.ndarray | None = None
        if cache:
            self._cache = np.stack([self._draw(index) for index in range(num_images)])
            self._cache.flags.writeable = False

    def __len__(self) -> int:
        return self.num_images

    def image(self, index: int) -> np.ndarray:
        """Image ``index`` as a float32 ``(H, W, C)`` array in ``[0, 1]``."""
        if not 0 <= index < self.num_images:
            raise IndexError(f"index {index} out of range for {self.num_images} images")
        return self._draw(index) if self._cache is None else self._cache[index]

    def __getitem__(self, index: int) -> Tensor:
        return torch.from_numpy(self.image(index).transpose(2, 0, 1).copy())

    def _draw(self, index: int) -> np.ndarray:
        return synthetic_image(self.start + index, self.size, self.channels, self.seed)


def _pair(size: int | tuple[int, int]) -> tuple[int, int]:
    height, width = (size, size) if isinstance(size, int) else size
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive, got {size}")
    return int(height), int(width)


def _colour(rng: np.random.Generator) -> np.ndarray:
    """Random RGB colour: uniform brightness, mostly muted saturation."""
    tint = rng.uniform(-0.5, 0.5, 3) * rng.random()
    return np.clip(rng.random() + tint, 0.0, 1.0).astype(np.float32)


def _fill(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Fill pattern broadcastable to ``(H, W, 3)``: flat colour, gradient, grating or noise."""
    kind = rng.choice(_FILLS, p=_FILL_WEIGHTS)
    low = _colour(rng)
    if kind == "flat":
        return low[None, None, :]
    high = _colour(rng)
    if kind == "noise":
        noise = rng.standard_normal(yy.shape).astype(np.float32)
        noise = cv2.GaussianBlur(noise, (0, 0), rng.uniform(1.0, 6.0))
        level = np.clip(0.5 + 0.25 * noise / (noise.std() + 1e-6), 0.0, 1.0)
    else:
        angle = rng.uniform(0.0, math.pi)
        along = xx * math.cos(angle) + yy * math.sin(angle)
        if kind == "gradient":
            level = (along - along.min()) / (np.ptp(along) + 1e-6)
        else:
            cycles_per_pixel = math.exp(rng.uniform(math.log(1 / 48), math.log(1 / 3)))
            sharpness = math.exp(rng.uniform(math.log(0.5), math.log(8.0)))
            wave = np.sin(2 * math.pi * cycles_per_pixel * along + rng.uniform(0.0, 2 * math.pi))
            level = 0.5 + 0.5 * np.tanh(sharpness * wave) / math.tanh(sharpness)
    return low + (high - low) * level[:, :, None]


def _add_shape(
    rng: np.random.Generator, image: np.ndarray, yy: np.ndarray, xx: np.ndarray, radius: float
) -> None:
    """Paint one random filled shape of about ``radius`` pixels onto ``image`` in place.

    Work is confined to the shape's bounding box; 30 % of shapes get soft (blurred) edges.
    """
    height, width = image.shape[:2]
    centre = rng.uniform(-0.1, 1.1, 2) * (width, height)
    blur = rng.uniform(0.5, 3.0) if rng.random() < 0.3 else 0.0
    thickness = int(rng.integers(1, max(2, int(radius / 4)) + 1))
    reach = math.sqrt(2) * radius + thickness + 3 * blur + 2
    x0, y0 = (max(0, math.floor(c - reach)) for c in centre)
    x1, y1 = min(width, math.ceil(centre[0] + reach)), min(height, math.ceil(centre[1] + reach))
    if x0 >= x1 or y0 >= y1:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    centre = centre - (x0, y0)
    angle = rng.uniform(0.0, 180.0)
    kind = rng.choice(_SHAPES)
    if kind == "disc":
        cv2.circle(mask, _point(centre), _fixed(radius), 255, -1, cv2.LINE_AA, _SHIFT)
    elif kind == "ellipse":
        axes = (_fixed(radius), _fixed(radius * rng.uniform(0.2, 1.0)))
        cv2.ellipse(mask, _point(centre), axes, angle, 0, 360, 255, -1, cv2.LINE_AA, _SHIFT)
    elif kind == "rectangle":
        sides = (2 * radius, 2 * radius * rng.uniform(0.2, 1.0))
        corners = cv2.boxPoints((tuple(centre), sides, angle))
        cv2.fillPoly(mask, [_polygon(corners)], 255, cv2.LINE_AA, _SHIFT)
    elif kind == "polygon":
        count = int(rng.integers(3, 10))
        theta = np.sort(rng.uniform(0.0, 2 * math.pi, count))
        spokes = radius * rng.uniform(0.4, 1.0, count)
        corners = centre + np.stack([spokes * np.cos(theta), spokes * np.sin(theta)], axis=1)
        cv2.fillPoly(mask, [_polygon(corners)], 255, cv2.LINE_AA, _SHIFT)
    else:
        direction = np.array([math.cos(math.radians(angle)), math.sin(math.radians(angle))])
        ends = _point(centre - radius * direction), _point(centre + radius * direction)
        cv2.line(mask, *ends, 255, thickness, cv2.LINE_AA, _SHIFT)
    coverage = mask.astype(np.float32) / 255.0
    if blur:
        coverage = cv2.GaussianBlur(coverage, (0, 0), blur)
    box = image[y0:y1, x0:x1]
    box += (_fill(rng, yy[y0:y1, x0:x1], xx[y0:y1, x0:x1]) - box) * coverage[:, :, None]


def _fixed(value: float) -> int:
    """Pixel length or coordinate to OpenCV fixed point with ``_SHIFT`` fractional bits."""
    return round(float(value) * (1 << _SHIFT))


def _point(xy: np.ndarray) -> tuple[int, int]:
    return _fixed(xy[0]), _fixed(xy[1])


def _polygon(corners: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(corners) * (1 << _SHIFT)).astype(np.int32)
