"""Hole masks: ``(B, 1, H, W)`` tensors with 1 = missing pixel, 0 = known pixel.

Generators follow LaMa (advimman/lama): small seeded classes that draw with OpenCV on the CPU; the
result is moved to the device and dtype of the images it is made for. Sizes are in pixels of an
image whose shorter side is ``reference_size`` (512, LaMa's evaluation size) and scale with the
image, so a preset covers the same share of a 128-pixel training crop as of a 512-pixel photo. Pass
``reference_size=None`` for absolute pixels. Every generator caps the hole area at ``max_coverage``
by adding strokes and boxes only while the cap holds, and draws again when that leaves no hole.

Mask files are read by the one rule of :mod:`restore.io.masks` (white = hole).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from restore.corruption import sampling
from restore.corruption.noise import check_images
from restore.io.listing import IMAGE_SUFFIXES, list_images
from restore.io.masks import load_mask
from restore.options import IntRange, check_int_range

#: LaMa's evaluation mask settings at 512 px (random_{thin,medium,thick}_512).
LAMA_PRESETS: dict[str, dict] = {
    "thin": dict(strokes=(4, 70), max_width=20, max_length=100, box_p=0.0),
    "medium": dict(strokes=(4, 10), max_width=100, max_length=200, box_p=0.3, box_size=(30, 150)),
    "thick": dict(strokes=(1, 5), max_width=250, max_length=450, box_p=0.3, box_size=(30, 300)),
}


def _coverage_ok(mask: np.ndarray, addition: np.ndarray, max_coverage: float) -> bool:
    return np.maximum(mask, addition).mean() <= max_coverage


def draw_strokes(
    mask: np.ndarray,
    rng: np.random.Generator,
    strokes: tuple[int, int],
    max_width: float,
    max_length: float,
    max_vertices: int = 5,
    max_coverage: float = 1.0,
    min_width: float = 5.0,
    min_length: float = 10.0,
) -> np.ndarray:
    """Add random polyline brush strokes to a float32 ``(H, W)`` mask in place and return it.

    Each stroke starts at a random point and has 1-``max_vertices`` segments of random direction,
    length in ``[min(min_length, max_length), max_length]`` and width in
    ``[min(min_width, max_width), max_width]`` (pixels). A stroke that would push coverage above
    ``max_coverage`` is skipped.
    """
    h, w = mask.shape
    for _ in range(rng.integers(strokes[0], strokes[1] + 1)):
        stroke = np.zeros_like(mask)
        x, y = rng.integers(0, w), rng.integers(0, h)
        for _ in range(rng.integers(1, max_vertices + 1)):
            angle = rng.uniform(0.0, 2.0 * math.pi)
            length = rng.uniform(min(min_length, max_length), max_length)
            width = max(1, int(round(rng.uniform(min(min_width, max_width), max_width))))
            nx = int(np.clip(x + length * math.cos(angle), 0, w - 1))
            ny = int(np.clip(y + length * math.sin(angle), 0, h - 1))
            cv2.line(stroke, (int(x), int(y)), (nx, ny), 1.0, width)
            x, y = nx, ny
        if _coverage_ok(mask, stroke, max_coverage):
            np.maximum(mask, stroke, out=mask)
    return mask


def draw_boxes(
    mask: np.ndarray,
    rng: np.random.Generator,
    count: tuple[int, int],
    size: tuple[float, float],
    max_coverage: float = 1.0,
) -> np.ndarray:
    """Add ``count`` axis-aligned boxes with sides in ``size`` pixels (clipped to the image)."""
    h, w = mask.shape
    for _ in range(rng.integers(count[0], count[1] + 1)):
        bh = int(np.clip(round(rng.uniform(*size)), 1, h))
        bw = int(np.clip(round(rng.uniform(*size)), 1, w))
        y, x = rng.integers(0, h - bh + 1), rng.integers(0, w - bw + 1)
        box = np.zeros_like(mask)
        box[y : y + bh, x : x + bw] = 1.0
        if _coverage_ok(mask, box, max_coverage):
            np.maximum(mask, box, out=mask)
    return mask


def _nonempty(draw_once, attempts: int = 20) -> np.ndarray:
    """``draw_once()`` again (up to ``attempts`` times) while it returns a mask without holes.

    Strokes and boxes that would break ``max_coverage`` are skipped, so a draw whose every shape is
    too big comes out empty; retrying keeps every mask a hole mask (``mask_p`` decides when there
    are none). Draws that have a hole the first time are unchanged.
    """
    for _ in range(attempts):
        mask = draw_once()
        if mask.any():
            break
    return mask


class MaskSampler(nn.Module):
    """Base class: ``generator(images, generator=None) -> (B, 1, H, W)`` mask, 1 = missing.

    Subclasses implement ``draw(height, width, rng) -> float32 (H, W)`` in NumPy. Each image gets
    its own NumPy generator seeded from the torch ``generator``, so a seed fixes the whole batch.

    Args:
        max_coverage: the largest share of an image's pixels the holes may cover, in ``(0, 1]``:
            strokes and boxes that would go above it are skipped.
        reference_size: the shorter image side, in pixels, at which sizes are given; sizes scale
            with ``min(H, W) / reference_size``. None: sizes are absolute pixels.
    """

    def __init__(self, max_coverage: float = 0.5, reference_size: int | None = 512) -> None:
        super().__init__()
        if not 0.0 < max_coverage <= 1.0:
            raise ValueError(f"max_coverage must be in (0, 1], got {max_coverage}")
        if reference_size is not None and reference_size <= 0:
            raise ValueError(f"reference_size must be positive or None, got {reference_size}")
        self.max_coverage = float(max_coverage)
        self.reference_size = reference_size

    def scale(self, height: int, width: int) -> float:
        """Factor from reference pixels to this image's pixels."""
        return 1.0 if self.reference_size is None else min(height, width) / self.reference_size

    def draw(self, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def forward(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        check_images(images)
        b, _, h, w = images.shape
        masks = [self.draw(h, w, np.random.default_rng(s)) for s in sampling.seeds(b, generator)]
        return torch.from_numpy(np.stack(masks)[:, None]).to(images.device, images.dtype)


class RectangleMasks(MaskSampler):
    """``count`` random boxes with sides uniform in ``size`` (reference pixels).

    Args:
        count: boxes per image, >= 1: a number or a ``[low, high]`` range (drawn uniformly).
        size: each side's length in reference pixels, >= 1: a ``[low, high]`` range (drawn
            uniformly) or a number; clipped to the image.
        max_coverage, reference_size: as :class:`MaskSampler`.
    """

    def __init__(
        self,
        count: IntRange = (1, 3),
        size: IntRange = (30, 200),
        max_coverage: float = 0.5,
        reference_size: int | None = 512,
    ) -> None:
        super().__init__(max_coverage, reference_size)
        self.count = check_int_range("count", count, 1)
        self.size = check_int_range("size", size, 1)

    def draw(self, height, width, rng):
        s = self.scale(height, width)
        size = (self.size[0] * s, self.size[1] * s)
        return _nonempty(
            lambda: draw_boxes(
                np.zeros((height, width), np.float32), rng, self.count, size, self.max_coverage
            )
        )


class BrushStrokeMasks(MaskSampler):
    """Free-form brush strokes (LaMa's irregular line strokes); sizes in reference pixels.

    Each stroke is a polyline from a random point (see :func:`draw_strokes`).

    Args:
        strokes: strokes per image, >= 1: a number or a ``[low, high]`` range (drawn uniformly).
        max_width: widest segment, in reference pixels; widths are uniform from
            ``min(5, max_width)`` up to it.
        max_length: longest segment, in reference pixels; lengths are uniform from
            ``min(10, max_length)`` up to it.
        max_vertices: most segments per stroke (each stroke has 1 to ``max_vertices``).
        max_coverage, reference_size: as :class:`MaskSampler`.
    """

    def __init__(
        self,
        strokes: IntRange = (1, 5),
        max_width: float = 40,
        max_length: float = 150,
        max_vertices: int = 5,
        max_coverage: float = 0.5,
        reference_size: int | None = 512,
    ) -> None:
        super().__init__(max_coverage, reference_size)
        self.strokes = check_int_range("strokes", strokes, 1)
        if max_width <= 0 or max_length <= 0 or max_vertices < 1:
            raise ValueError("max_width and max_length must be > 0 and max_vertices >= 1")
        self.max_width, self.max_length, self.max_vertices = max_width, max_length, max_vertices

    def draw(self, height, width, rng):
        s = self.scale(height, width)
        return _nonempty(
            lambda: draw_strokes(
                np.zeros((height, width), np.float32),
                rng,
                self.strokes,
                max(1.0, self.max_width * s),
                max(1.0, self.max_length * s),
                self.max_vertices,
                self.max_coverage,
                min_width=5.0 * s,
                min_length=10.0 * s,  # LaMa's minimums, in reference pixels too
            )
        )


class IrregularMasks(BrushStrokeMasks):
    """LaMa-style irregular masks: brush strokes plus, with probability ``box_p``, 1-5 boxes.

    ``preset`` is ``"thin"``, ``"medium"`` or ``"thick"`` (LaMa's evaluation settings, see
    :data:`LAMA_PRESETS`); explicit arguments override the preset's values.

    Args:
        preset: the preset, or None: :class:`BrushStrokeMasks`'s defaults and no boxes.
        max_coverage, reference_size: as :class:`MaskSampler`.
        overrides: keyword arguments over the preset's: those of :class:`BrushStrokeMasks`
            (``strokes``, ``max_width``, ``max_length``, ``max_vertices``), ``box_p`` (0-1),
            ``box_size`` (``[low, high]`` side length in reference pixels, default 30-150) and
            ``box_count`` (boxes when there are boxes, default 1-5).
    """

    def __init__(
        self,
        preset: str | None = "medium",
        max_coverage: float = 0.5,
        reference_size: int | None = 512,
        **overrides,
    ) -> None:
        if preset is not None and preset not in LAMA_PRESETS:
            raise ValueError(f"unknown mask preset {preset!r}; choose from {sorted(LAMA_PRESETS)}")
        params = {**(LAMA_PRESETS[preset] if preset else {}), **overrides}
        box_p = float(params.pop("box_p", 0.0))
        box_size = params.pop("box_size", (30, 150))
        box_count = params.pop("box_count", (1, 5))
        super().__init__(max_coverage=max_coverage, reference_size=reference_size, **params)
        if not 0.0 <= box_p <= 1.0:
            raise ValueError(f"box_p must be in [0, 1], got {box_p}")
        self.preset = preset
        self.box_p = box_p
        self.box_size = check_int_range("box_size", box_size, 1)
        self.box_count = check_int_range("box_count", box_count, 1)

    def draw(self, height, width, rng):
        mask = super().draw(height, width, rng)
        if rng.random() < self.box_p:
            s = self.scale(height, width)
            size = (self.box_size[0] * s, self.box_size[1] * s)
            draw_boxes(mask, rng, self.box_count, size, self.max_coverage)
        return mask


class MixtureMasks(MaskSampler):
    """Each image gets a mask from one of ``generators``, chosen with probabilities ``weights``."""

    def __init__(self, generators: Sequence[MaskSampler], weights: Sequence[float] | None = None):
        super().__init__(max_coverage=1.0, reference_size=None)
        if not generators:
            raise ValueError("MixtureMasks needs at least one generator")
        self.generators = nn.ModuleList(generators)
        w = np.ones(len(generators)) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (len(generators),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(
                f"weights must be {len(generators)} non-negative numbers, got {weights}"
            )
        self.weights = w / w.sum()

    def draw(self, height, width, rng):
        return self.generators[int(rng.choice(len(self.generators), p=self.weights))].draw(
            height, width, rng
        )


class FileMasks(MaskSampler):
    """Masks drawn at random from image files under ``root`` (recursive), resized to each image."""

    def __init__(self, root: str | Path) -> None:
        super().__init__(max_coverage=1.0, reference_size=None)
        root = Path(root)
        self.files = list_images(root) if root.is_dir() else []
        if not self.files:
            raise ValueError(
                f"{root}: no mask images found (looked for {', '.join(IMAGE_SUFFIXES)})"
            )

    def draw(self, height, width, rng):
        path = self.files[int(rng.integers(len(self.files)))]
        return load_mask(path, (height, width))[0, 0].numpy()


def apply_mask(images: Tensor, mask: Tensor, fill: float = 0.0) -> Tensor:
    """Replace the holes (``mask == 1``) of ``(B, C, H, W)`` images with ``fill``."""
    check_images(images)
    return images * (1 - mask) + fill * mask
