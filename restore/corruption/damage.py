"""Synthetic old-photo damage on ``(B, C, H, W)`` float images in ``[0, 1]`` (C = 1 or 3).

Kinds: :class:`Blotches` (stains, dark and faded patches), :class:`Creases` (cracks),
:class:`Scratches`, :class:`Dust` (specks and short hairs), :class:`Hairs` (long wavy hairs and
fibres) and :class:`TextAndStamps`. Unlike holes, damaged pixels keep a value: the damaged colour.
The thin kinds (scratches, dust, hairs) can vary their look beyond a sharp line of paper or grey
(:class:`Style`: soft or haloed profiles, tinted colours, grain in the damage).

Each kind draws layers with OpenCV on the CPU, from a NumPy generator seeded per image from the
torch ``generator`` (as :mod:`.masks` does); the result is moved to the images' device and dtype.
A layer is an alpha map (0-1) and a colour (RGB, 0-1), laid over the image
(``y = (1 - a) x + a c``) or multiplied into it (``y = x (1 - a + a c)``, for stains). Sizes are in
pixels of an image whose shorter side is ``reference_size`` (512) and scale with the image; lines
and specks under a pixel are drawn one pixel wide at proportionally lower opacity.

Damage mask rule: a pixel is damaged (mask 1) where the damage changed it by more than
``threshold`` (0-1 scale) in any channel; every other pixel keeps its input value bit for bit. The
mask marks visible change, so a white scratch over a white sky leaves no mask.
"""

from __future__ import annotations

import colorsys
import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from restore.corruption import sampling
from restore.corruption.noise import check_images
from restore.options import IntRange, Range, check_int_range, check_range

_SHIFT = 4  # fractional bits of the coordinates given to OpenCV (1/16-pixel precision)
_PAPER = np.array([1.0, 0.97, 0.9], np.float32)  # off-white of old photo paper
_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as kornia's rgb_to_grayscale
_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
)
#: Ink colours of writing and stamps: black, blue, red, purple, a camera's orange date imprint,
#: white.
_INKS = np.array(
    [
        (0.08, 0.08, 0.1),
        (0.12, 0.2, 0.55),
        (0.65, 0.1, 0.1),
        (0.4, 0.15, 0.45),
        (1.0, 0.55, 0.1),
        (0.95, 0.95, 0.92),
    ],
    np.float32,
)


@dataclass
class Layer:
    """One damage layer: ``alpha`` float32 ``(H, W)`` in ``[0, 1]`` and an RGB ``colour`` in
    ``[0, 1]``, laid over the image or, when ``multiply``, multiplied into it."""

    alpha: np.ndarray
    colour: np.ndarray
    multiply: bool = False


def _float_range(
    name: str, value: Range, low: float, high: float | None = None
) -> tuple[float, float]:
    checked = check_range(name, value, low, high)
    return checked if isinstance(checked, tuple) else (checked, checked)


def _count(rng: np.random.Generator, count: tuple[int, int]) -> int:
    return int(rng.integers(count[0], count[1] + 1))


def _value(opacity: float) -> int:
    """``opacity`` (0-1) as a uint8 canvas value."""
    return int(round(255 * min(max(opacity, 0.0), 1.0)))


def _fixed(points: np.ndarray) -> np.ndarray:
    """Pixel coordinates as OpenCV fixed-point integers (see ``_SHIFT``)."""
    return np.round(np.asarray(points) * (1 << _SHIFT)).astype(np.int32)


def _stroke(canvas: np.ndarray, points: np.ndarray, width: float, opacity: float) -> None:
    """Draw the antialiased polyline ``points`` ``(N, 2)`` (x, y pixels, or fixed-point int32 from
    :func:`_fixed`), ``width`` pixels wide, at ``opacity`` (0-1) into a uint8 canvas; under a pixel
    wide it is drawn one pixel wide at ``opacity * width``."""
    value = _value(opacity * min(1.0, width))
    if value:
        fixed = points if points.dtype == np.int32 else _fixed(points)
        thickness = max(1, round(width))
        cv2.polylines(canvas, [fixed], False, value, thickness, cv2.LINE_AA, _SHIFT)


def _layer(canvas: np.ndarray, colour: np.ndarray, multiply: bool = False) -> list[Layer]:
    """A uint8 ``canvas`` (255 = opaque) as a one-layer list, or ``[]`` when it is blank."""
    if not canvas.any():
        return []
    return [Layer(canvas.astype(np.float32) / 255.0, np.asarray(colour, np.float32), multiply)]


def _grey(rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    return np.full(3, rng.uniform(low, high), np.float32)


def _paper(rng: np.random.Generator) -> np.ndarray:
    """Bright damage colour: the photo paper showing through."""
    return (rng.uniform(0.85, 1.0) * _PAPER).astype(np.float32)


def _tint(rng: np.random.Generator, bright: bool) -> np.ndarray:
    """A tinted damage colour of any hue: light (0.75-1) when ``bright``, else dark (0.05-0.35)."""
    value = rng.uniform(0.75, 1.0) if bright else rng.uniform(0.05, 0.35)
    return np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.2, 0.8), value), np.float32)


@dataclass(frozen=True)
class Style:
    """How the thin kinds' marks (scratches, dust, hairs) look beyond a sharp, even line of paper
    or grey; drawn per layer (all of a kind's bright or dark marks in one image).

    ``soft_p``: share of layers blurred by 0.3-1.2 image pixels (soft edges, out-of-focus dust);
    ``halo_p``: share given a faint halo of the opposite tone around the marks (1-3 pixels,
    opacity 0.15-0.4); ``tint_p``: share drawn in a tinted colour of any hue (saturation 0.2-0.8)
    instead of paper or grey; ``grain``: the marks' opacity varies from pixel to pixel by up to
    this share (0-1). All 0 (the default) draws exactly what the kinds drew before.
    """

    soft_p: float = 0.0
    halo_p: float = 0.0
    tint_p: float = 0.0
    grain: float = 0.0

    def __post_init__(self) -> None:
        for name in ("soft_p", "halo_p", "tint_p", "grain"):
            check_range(name, getattr(self, name), 0.0, 1.0)

    def layers(
        self, canvas: np.ndarray, colour: np.ndarray, bright: bool, rng: np.random.Generator
    ) -> list[Layer]:
        """A uint8 ``canvas`` of marks (255 = opaque) in ``colour`` as styled layers (a halo
        first, under the marks), or ``[]`` when it is blank."""
        if not canvas.any():
            return []
        alpha = canvas.astype(np.float32) / 255.0
        if self.tint_p and rng.random() < self.tint_p:
            colour = _tint(rng, bright)
        out = []
        if self.halo_p and rng.random() < self.halo_p:
            halo = cv2.GaussianBlur(
                cv2.dilate(alpha, np.ones((3, 3), np.uint8)), (0, 0), rng.uniform(1.0, 3.0)
            )
            halo *= rng.uniform(0.15, 0.4) / max(float(halo.max()), 1e-6)
            out.append(Layer(halo, _grey(rng, 0.0, 0.25) if bright else _paper(rng)))
        if self.soft_p and rng.random() < self.soft_p:
            peak = float(alpha.max())
            alpha = cv2.GaussianBlur(alpha, (0, 0), rng.uniform(0.3, 1.2))
            alpha *= min(3.0, peak * rng.uniform(0.6, 1.0) / max(float(alpha.max()), 1e-6))
            alpha = alpha.clip(0.0, 1.0)
        if self.grain:
            alpha *= 1.0 - rng.uniform(0.0, self.grain) * rng.random(alpha.shape, np.float32)
        return out + [Layer(alpha, np.asarray(colour, np.float32))]


def _style(style: Style | Mapping | None) -> Style:
    if style is None:
        return Style()
    return style if isinstance(style, Style) else Style(**style)


def _centre(rng: np.random.Generator, height: int, width: int, margin: float) -> np.ndarray:
    """A random point (x, y) at least ``margin`` (share of each side) from the borders."""
    return rng.uniform(margin, 1.0 - margin, 2) * (width, height)


def _direction(angle: float) -> np.ndarray:
    return np.array([math.cos(angle), math.sin(angle)])


def _bezier(
    rng: np.random.Generator, start: np.ndarray, end: np.ndarray, bend: float, points: int = 32
) -> np.ndarray:
    """``points`` points ``(N, 2)`` of a cubic Bezier curve from ``start`` to ``end`` whose inner
    control points lie off the chord by up to ``bend`` times its length, on either side."""
    chord = end - start
    normal = np.array([-chord[1], chord[0]])
    c1 = start + chord / 3 + normal * rng.uniform(-bend, bend)
    c2 = start + 2 * chord / 3 + normal * rng.uniform(-bend, bend)
    t = np.linspace(0.0, 1.0, points)[:, None]
    return (1 - t) ** 3 * start + 3 * (1 - t) ** 2 * t * c1 + 3 * (1 - t) * t**2 * c2 + t**3 * end


def _jagged(
    rng: np.random.Generator, start: np.ndarray, angle: float, length: float, step: float
) -> np.ndarray:
    """Points ``(N, 2)`` of a crack about ``length`` pixels long from ``start``, heading ``angle``
    (radians): steps of about ``step`` pixels zigzag around a slowly drifting heading."""
    n = max(2, math.ceil(length / step))
    heading = angle + np.cumsum(rng.normal(0.0, 0.05, n)) + rng.normal(0.0, 0.4, n)
    moves = np.stack([np.cos(heading), np.sin(heading)], 1) * step * rng.uniform(0.5, 1.5, (n, 1))
    return np.vstack([start, start + np.cumsum(moves, axis=0)])


def _marks(style: Style, bright: np.ndarray, dark: np.ndarray, rng: np.random.Generator):
    """A thin kind's uint8 canvases of bright marks (paper) and dark marks (grey) as layers in
    its ``style``."""
    return style.layers(bright, _paper(rng), True, rng) + style.layers(
        dark, _grey(rng, 0.0, 0.25), False, rng
    )


class DamageKind:
    """One kind of damage, drawn on each image with probability ``p``.

    Subclasses implement ``layers(height, width, scale, rng) -> list[Layer]``; ``scale`` converts
    reference pixels to the image's pixels.
    """

    name = ""

    def __init__(self, p: float = 1.0) -> None:
        self.p = float(check_range("p", p, 0.0, 1.0))

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({settings})"

    def draw(self, height: int, width: int, scale: float, rng: np.random.Generator) -> list[Layer]:
        """The kind's layers for one image; none with probability ``1 - p``."""
        return self.layers(height, width, scale, rng) if rng.random() < self.p else []

    def layers(
        self, height: int, width: int, scale: float, rng: np.random.Generator
    ) -> list[Layer]:
        raise NotImplementedError


class Scratches(DamageKind):
    """Thin long bright or dark lines: ``count`` near-straight cubic Bezier curves ``width`` pixels
    wide and ``length`` long (reference pixels), bent off their chord by up to ``bend`` times the
    length, at ``opacity`` (0-1) that fades along each curve down to 40 % of it; a share
    ``bright_p`` of them is bright; ``style``: their look (:class:`Style`). Drawn on each image
    with probability ``p``."""

    name = "scratches"

    def __init__(
        self,
        p: float = 1.0,
        count: IntRange = (1, 4),
        width: Range = (1.0, 3.0),
        length: Range = (250.0, 1000.0),
        bend: float = 0.08,
        opacity: Range = (0.3, 0.9),
        bright_p: float = 0.7,
        style: Style | Mapping | None = None,
    ) -> None:
        super().__init__(p)
        self.count = check_int_range("count", count, 1)
        self.width = _float_range("width", width, 0.0)
        self.length = _float_range("length", length, 0.0)
        self.bend = float(check_range("bend", bend, 0.0))
        self.opacity = _float_range("opacity", opacity, 0.0, 1.0)
        self.bright_p = float(check_range("bright_p", bright_p, 0.0, 1.0))
        self.style = _style(style)

    def layers(self, height, width, scale, rng):
        bright, dark = np.zeros((2, height, width), np.uint8)
        for _ in range(_count(rng, self.count)):
            canvas = bright if rng.random() < self.bright_p else dark
            centre = _centre(rng, height, width, 0.1)
            half = 0.5 * rng.uniform(*self.length) * scale * _direction(rng.uniform(0, math.pi))
            points = _fixed(_bezier(rng, centre - half, centre + half, self.bend))
            line_width = rng.uniform(*self.width) * scale
            opacity = rng.uniform(*self.opacity)
            along = np.linspace(0.0, 1.0, len(points) - 1)  # position of each segment
            fade = np.interp(along, np.linspace(0.0, 1.0, 5), rng.uniform(0.4, 1.0, 5))
            for i, f in enumerate(fade):
                _stroke(canvas, points[i : i + 2], line_width, opacity * f)
        return _marks(self.style, bright, dark, rng)


class Dust(DamageKind):
    """Dust: ``specks`` small bright or dark elliptic blobs ``size`` pixels across and ``hairs``
    short thin curves ``hair_length`` long and ``hair_width`` wide (reference pixels), at
    ``opacity`` (0-1); a share ``bright_p`` of them is bright; ``style``: their look
    (:class:`Style`). Drawn on each image with probability ``p``."""

    name = "dust"

    def __init__(
        self,
        p: float = 1.0,
        specks: IntRange = (10, 150),
        size: Range = (1.0, 6.0),
        hairs: IntRange = (0, 5),
        hair_length: Range = (10.0, 50.0),
        hair_width: Range = (1.0, 2.0),
        opacity: Range = (0.5, 1.0),
        bright_p: float = 0.5,
        style: Style | Mapping | None = None,
    ) -> None:
        super().__init__(p)
        self.specks = check_int_range("specks", specks)
        self.size = _float_range("size", size, 0.0)
        self.hairs = check_int_range("hairs", hairs)
        self.hair_length = _float_range("hair_length", hair_length, 0.0)
        self.hair_width = _float_range("hair_width", hair_width, 0.0)
        self.opacity = _float_range("opacity", opacity, 0.0, 1.0)
        self.bright_p = float(check_range("bright_p", bright_p, 0.0, 1.0))
        self.style = _style(style)

    def layers(self, height, width, scale, rng):
        bright, dark = np.zeros((2, height, width), np.uint8)
        n = _count(rng, self.specks)
        is_bright = rng.random(n) < self.bright_p
        diameters = rng.uniform(*self.size, n) * scale
        opacities = rng.uniform(*self.opacity, n) * np.minimum(1.0, diameters) ** 2
        aspect = rng.uniform(0.5, 1.0, n)
        axes = 0.5 * np.maximum(1.0, diameters)[:, None] * np.stack([np.ones(n), aspect], 1)
        centres = rng.uniform(0.0, 1.0, (n, 2)) * (width, height)
        angles = rng.uniform(0.0, 180.0, n)
        specks = zip(
            is_bright,
            _fixed(centres).tolist(),
            _fixed(axes).tolist(),
            angles,
            opacities,
            strict=True,
        )
        for speck_is_bright, centre, axis, angle, opacity in specks:
            canvas = bright if speck_is_bright else dark
            value = _value(opacity)
            cv2.ellipse(canvas, centre, axis, angle, 0, 360, value, -1, cv2.LINE_AA, _SHIFT)
        for _ in range(_count(rng, self.hairs)):
            canvas = bright if rng.random() < self.bright_p else dark
            centre = _centre(rng, height, width, 0.0)
            angle = rng.uniform(0.0, 2 * math.pi)
            half = 0.5 * rng.uniform(*self.hair_length) * scale * _direction(angle)
            points = _bezier(rng, centre - half, centre + half, bend=0.4, points=12)
            hair_width = rng.uniform(*self.hair_width) * scale
            _stroke(canvas, points, hair_width, rng.uniform(*self.opacity))
        return _marks(self.style, bright, dark, rng)


class Hairs(DamageKind):
    """Hairs and fibres on the print or the scanner glass: ``count`` thin curves ``length`` long
    and ``width`` wide (reference pixels), bent off their chord by up to ``bend`` times the
    length and waving up to ``wave`` reference pixels to either side (2-8 waves along a hair), at
    ``opacity`` (0-1); a share ``bright_p`` of them is bright; ``style``: their look
    (:class:`Style`). Drawn on each image with probability ``p``."""

    name = "hairs"

    def __init__(
        self,
        p: float = 1.0,
        count: IntRange = (1, 3),
        length: Range = (40.0, 400.0),
        width: Range = (0.5, 2.0),
        bend: float = 0.3,
        wave: Range = (0.0, 4.0),
        opacity: Range = (0.5, 1.0),
        bright_p: float = 0.3,
        style: Style | Mapping | None = None,
    ) -> None:
        super().__init__(p)
        self.count = check_int_range("count", count, 1)
        self.length = _float_range("length", length, 0.0)
        self.width = _float_range("width", width, 0.0)
        self.bend = float(check_range("bend", bend, 0.0))
        self.wave = _float_range("wave", wave, 0.0)
        self.opacity = _float_range("opacity", opacity, 0.0, 1.0)
        self.bright_p = float(check_range("bright_p", bright_p, 0.0, 1.0))
        self.style = _style(style)

    def layers(self, height, width, scale, rng):
        bright, dark = np.zeros((2, height, width), np.uint8)
        t = np.linspace(0.0, 1.0, 64)[:, None]
        for _ in range(_count(rng, self.count)):
            canvas = bright if rng.random() < self.bright_p else dark
            angle = rng.uniform(0.0, math.pi)
            half = 0.5 * rng.uniform(*self.length) * scale * _direction(angle)
            centre = _centre(rng, height, width, 0.0)
            points = _bezier(rng, centre - half, centre + half, self.bend, points=len(t))
            waves = rng.uniform(2.0, 8.0) * 2 * math.pi * t + rng.uniform(0.0, 2 * math.pi)
            amplitude = rng.uniform(*self.wave) * scale
            points = points + amplitude * np.sin(waves) * _direction(angle + math.pi / 2)
            _stroke(canvas, points, rng.uniform(*self.width) * scale, rng.uniform(*self.opacity))
        return _marks(self.style, bright, dark, rng)


class Creases(DamageKind):
    """Creases and cracks: ``count`` jagged lines ``length`` long and ``width`` wide (reference
    pixels) with ``branches`` side branches (10-40 % of the length, 60 % of the width); bright
    (paper showing through) at ``opacity`` over a soft dark edge (the lines blurred by 1.5
    reference pixels) at ``edge_opacity`` (both 0-1). Drawn on each image with probability
    ``p``."""

    name = "creases"
    step = 10.0  # reference pixels between the corners of a crack

    def __init__(
        self,
        p: float = 1.0,
        count: IntRange = (1, 2),
        length: Range = (300.0, 1000.0),
        width: Range = (2.0, 5.0),
        branches: IntRange = (0, 3),
        opacity: Range = (0.6, 1.0),
        edge_opacity: Range = (0.3, 0.6),
    ) -> None:
        super().__init__(p)
        self.count = check_int_range("count", count, 1)
        self.length = _float_range("length", length, 0.0)
        self.width = _float_range("width", width, 0.0)
        self.branches = check_int_range("branches", branches)
        self.opacity = _float_range("opacity", opacity, 0.0, 1.0)
        self.edge_opacity = _float_range("edge_opacity", edge_opacity, 0.0, 1.0)

    def layers(self, height, width, scale, rng):
        bright = np.zeros((height, width), np.uint8)
        step = max(2.0, self.step * scale)
        for _ in range(_count(rng, self.count)):
            length = rng.uniform(*self.length) * scale
            angle = rng.uniform(0.0, 2 * math.pi)
            start = _centre(rng, height, width, 0.1) - 0.5 * length * _direction(angle)
            main = _jagged(rng, start, angle, length, step)
            line_width = rng.uniform(*self.width) * scale
            opacity = rng.uniform(*self.opacity)
            _stroke(bright, main, line_width, opacity)
            for _ in range(_count(rng, self.branches)):
                origin = main[rng.integers(len(main))]
                turn = rng.choice((-1.0, 1.0)) * rng.uniform(0.3, 1.0)
                branch = _jagged(rng, origin, angle + turn, length * rng.uniform(0.1, 0.4), step)
                _stroke(bright, branch, 0.6 * line_width, opacity)
        edge = cv2.GaussianBlur(bright, (0, 0), max(0.5, 1.5 * scale))
        edge = (edge * rng.uniform(*self.edge_opacity)).astype(np.uint8)
        return _layer(edge, _grey(rng, 0.0, 0.2)) + _layer(bright, _paper(rng))


class Blotches(DamageKind):
    """Soft-edged irregular patches: ``count`` blobs of ``radius`` (reference pixels) with edges
    blurred by ``softness`` times the radius and a mottled alpha of up to ``opacity`` (0-1). Half
    are brownish or yellowish stains and a fifth dark patches (both multiplied into the image); the
    rest are faded patches (paper colour laid over). Drawn on each image with probability
    ``p``."""

    name = "blotches"

    def __init__(
        self,
        p: float = 1.0,
        count: IntRange = (1, 3),
        radius: Range = (20.0, 150.0),
        softness: Range = (0.1, 0.4),
        opacity: Range = (0.3, 0.7),
    ) -> None:
        super().__init__(p)
        self.count = check_int_range("count", count, 1)
        self.radius = _float_range("radius", radius, 0.0)
        self.softness = _float_range("softness", softness, 0.0)
        self.opacity = _float_range("opacity", opacity, 0.0, 1.0)

    def layers(self, height, width, scale, rng):
        out = []
        for _ in range(_count(rng, self.count)):
            radius = max(1.0, rng.uniform(*self.radius) * scale)
            sigma = max(0.5, rng.uniform(*self.softness) * radius)
            centre = _centre(rng, height, width, 0.0)
            corners = 16
            angles = (np.arange(corners) + rng.uniform(-0.3, 0.3, corners)) * 2 * math.pi / corners
            radii = radius * rng.uniform(0.6, 1.3, (corners, 1))
            outline = centre + radii * np.stack([np.cos(angles), np.sin(angles)], 1)
            # A soft blob loses nothing when drawn and blurred at a lower resolution.
            down = max(1, int(sigma // 2))
            small_size = (math.ceil(width / down), math.ceil(height / down))
            blob = np.zeros(small_size[::-1], np.float32)
            cv2.fillPoly(blob, [_fixed(outline / down)], 1.0, cv2.LINE_8, _SHIFT)
            blob = cv2.GaussianBlur(blob, (0, 0), sigma / down)
            mottle = rng.uniform(0.5, 1.0, (5, 5)).astype(np.float32)
            blob *= cv2.resize(mottle, small_size, interpolation=cv2.INTER_CUBIC).clip(0.0, 1.0)
            alpha = cv2.resize(blob, (width, height), interpolation=cv2.INTER_LINEAR)
            alpha *= rng.uniform(*self.opacity)
            look = rng.choice(3, p=(0.5, 0.2, 0.3))
            if look == 0:  # brownish to yellowish stain
                tint = np.array([1.0, rng.uniform(0.75, 0.9), rng.uniform(0.4, 0.7)])
                out.append(Layer(alpha, (rng.uniform(0.6, 1.0) * tint).astype(np.float32), True))
            elif look == 1:
                out.append(Layer(alpha, _grey(rng, 0.3, 0.7), True))
            else:
                out.append(Layer(alpha, _paper(rng)))
        return out


class TextAndStamps(DamageKind):
    """Writing painted over the photo: ``count`` items, each a date (as a camera's date imprint
    writes it), a word or a number in a random Hershey font, ``height`` reference pixels tall, and
    with probability ``stamp_p`` a rectangle or circle outline around it (a stamp); turned by up to
    ``rotation`` degrees either way, in an ink colour at ``opacity`` (0-1). Drawn on each image
    with probability ``p``."""

    name = "text"

    def __init__(
        self,
        p: float = 1.0,
        count: IntRange = (1, 2),
        height: Range = (12.0, 60.0),
        rotation: float = 30.0,
        opacity: Range = (0.6, 1.0),
        stamp_p: float = 0.3,
    ) -> None:
        super().__init__(p)
        self.count = check_int_range("count", count, 1)
        self.height = _float_range("height", height, 0.0)
        self.rotation = float(check_range("rotation", rotation, 0.0, 180.0))
        self.opacity = _float_range("opacity", opacity, 0.0, 1.0)
        self.stamp_p = float(check_range("stamp_p", stamp_p, 0.0, 1.0))

    @staticmethod
    def caption(rng: np.random.Generator) -> str:
        """A date, a word or a number."""
        form = rng.integers(3)
        if form == 0:
            return f"'{rng.integers(50, 100)} {rng.integers(1, 13)} {rng.integers(1, 29)}"
        if form == 1:
            return "".join(rng.choice(list(string.ascii_letters), rng.integers(3, 9)))
        return str(rng.integers(1, 100_000))

    def layers(self, height, width, scale, rng):
        out = []
        for _ in range(_count(rng, self.count)):
            canvas = np.zeros((height, width), np.uint8)
            text = self.caption(rng)
            font = int(rng.choice(_FONTS)) | (cv2.FONT_ITALIC if rng.random() < 0.3 else 0)
            text_height = max(2.0, rng.uniform(*self.height) * scale)
            thickness = max(1, round(text_height * rng.uniform(0.05, 0.12)))
            font_scale = text_height / cv2.getTextSize("0", font, 1.0, thickness)[0][1]
            (tw, th), _ = cv2.getTextSize(text, font, font_scale, thickness)
            x = int(rng.uniform(0, max(1, width - tw)))
            y = int(rng.uniform(th, max(th + 1, height)))
            value = _value(rng.uniform(*self.opacity))
            cv2.putText(canvas, text, (x, y), font, font_scale, value, thickness, cv2.LINE_AA)
            centre = (x + tw / 2, y - th / 2)
            if rng.random() < self.stamp_p:
                pad = 0.4 * th + thickness
                if rng.random() < 0.5:
                    corners = _fixed([(x - pad, y - th - pad), (x + tw + pad, y + pad)])
                    cv2.rectangle(canvas, *corners.tolist(), value, thickness, cv2.LINE_AA, _SHIFT)
                else:
                    radius = 0.5 * max(tw, th) + pad
                    cv2.circle(
                        canvas,
                        _fixed(centre).tolist(),
                        int(_fixed(radius)),
                        value,
                        thickness,
                        cv2.LINE_AA,
                        _SHIFT,
                    )
            turn = cv2.getRotationMatrix2D(centre, rng.uniform(-self.rotation, self.rotation), 1.0)
            canvas = cv2.warpAffine(canvas, turn, (width, height), flags=cv2.INTER_LINEAR)
            out += _layer(canvas, _INKS[rng.integers(len(_INKS))])
        return out


#: The kinds by name; a name in ``kinds`` stands for the kind with its default settings (p = 1).
DAMAGE_KINDS: dict[str, type[DamageKind]] = {
    kind.name: kind for kind in (Blotches, Creases, Scratches, Dust, Hairs, TextAndStamps)
}


def default_kinds() -> list[DamageKind]:
    """Every kind with its default settings, at the probabilities of a typical damaged photo;
    stains lie under cracks, scratches, dust and writing."""
    return [Blotches(p=0.4), Creases(p=0.25), Scratches(p=0.6), Dust(p=0.7), TextAndStamps(p=0.1)]


def kinds_to_fill() -> list[DamageKind]:
    """:func:`default_kinds` but stains (blotches): the damage a repair is to fill."""
    return [kind for kind in default_kinds() if kind.name != "blotches"]


def _resolve(kinds: Sequence[DamageKind | str] | None) -> list[DamageKind]:
    if kinds is None:
        return default_kinds()
    resolved = []
    for kind in kinds:
        if isinstance(kind, str):
            if kind not in DAMAGE_KINDS:
                raise ValueError(f"unknown damage kind {kind!r}; choose from {list(DAMAGE_KINDS)}")
            kind = DAMAGE_KINDS[kind]()
        elif not isinstance(kind, DamageKind):
            raise TypeError(f"expected a DamageKind or its name, got {type(kind).__name__}")
        resolved.append(kind)
    return resolved


def _check_settings(threshold: float, reference_size: int | None) -> None:
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    if reference_size is not None and reference_size <= 0:
        raise ValueError(f"reference_size must be positive or None, got {reference_size}")


def _composite(layers: list[Layer], height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``layers`` applied in order as one per-pixel affine map ``y = x * gain + offset``; ``gain``
    and ``offset`` are float32 ``(3, H, W)``."""
    gain = np.ones((3, height, width), np.float32)
    offset = np.zeros((3, height, width), np.float32)
    for layer in layers:
        x, y, w, h = cv2.boundingRect((layer.alpha > 0).view(np.uint8))
        box = np.s_[:, y : y + h, x : x + w]
        alpha = layer.alpha[box[1:]]
        colour = layer.colour[:, None, None]
        if layer.multiply:
            factor = 1.0 + alpha * (colour - 1.0)
            gain[box] *= factor
            offset[box] *= factor
        else:
            keep = 1.0 - alpha
            gain[box] *= keep
            offset[box] *= keep
            offset[box] += alpha * colour
    return gain, offset


def add_damage(
    images: Tensor,
    kinds: Sequence[DamageKind | str] | None = None,
    generator: torch.Generator | None = None,
    threshold: float = 0.02,
    reference_size: int | None = 512,
) -> tuple[Tensor, Tensor]:
    """Draw old-photo damage on ``(B, C, H, W)`` float images in ``[0, 1]`` (C = 1 or 3).

    ``kinds`` are applied in order: :class:`DamageKind` instances or names from
    :data:`DAMAGE_KINDS`; ``None`` means :func:`default_kinds`. Each image gets its own damage,
    fixed by ``generator``. Sizes are in pixels at ``reference_size`` (``None``: image pixels).

    Returns ``(damaged, mask)``: the damaged images (same shape, dtype and device; damaged pixels
    clipped to ``[0, 1]``) and the ``(B, 1, H, W)`` damage mask in {0, 1} (images' dtype), 1 where
    the damage changed a pixel by more than ``threshold`` (0-1 scale) in any channel. Pixels
    outside the mask keep their input values exactly.
    """
    check_images(images)
    b, c, h, w = images.shape
    if c not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels, got {c}")
    _check_settings(threshold, reference_size)
    kinds = _resolve(kinds)
    scale = 1.0 if reference_size is None else min(h, w) / reference_size
    maps = []
    for seed in sampling.seeds(b, generator):
        rng = np.random.default_rng(seed)
        layers = [layer for kind in kinds for layer in kind.draw(h, w, scale, rng)]
        maps.append(_composite(layers, h, w))
    x = images.float()
    gain = torch.from_numpy(np.stack([g for g, _ in maps])).to(x.device)
    offset = torch.from_numpy(np.stack([o for _, o in maps])).to(x.device)
    if c == 1:
        luma = torch.tensor(_LUMA, device=x.device).view(1, 3, 1, 1)
        gain, offset = (gain * luma).sum(1, keepdim=True), (offset * luma).sum(1, keepdim=True)
    drawn = x * gain + offset
    changed = (drawn - x).abs().amax(dim=1, keepdim=True) > threshold
    damaged = torch.where(changed, drawn.clamp(0.0, 1.0).to(images.dtype), images)
    return damaged, changed.to(images.dtype)


class Damage(nn.Module):
    """Old-photo damage as a module: ``Damage(kinds)(images, generator=None) -> (damaged, mask)``.

    See :func:`add_damage` for ``kinds``, ``threshold``, ``reference_size``, the shapes and the mask
    rule. Each image is damaged with probability ``p``; the others are returned unchanged with an
    empty mask.
    """

    def __init__(
        self,
        kinds: Sequence[DamageKind | str] | None = None,
        threshold: float = 0.02,
        reference_size: int | None = 512,
        p: float = 1.0,
    ) -> None:
        super().__init__()
        _check_settings(threshold, reference_size)
        self.kinds = _resolve(kinds)
        self.threshold = float(threshold)
        self.reference_size = reference_size
        self.p = float(check_range("p", p, 0.0, 1.0))

    def extra_repr(self) -> str:
        return (
            f"kinds={self.kinds}, threshold={self.threshold}, "
            f"reference_size={self.reference_size}, p={self.p}"
        )

    def _damage(self, images: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        return add_damage(images, self.kinds, generator, self.threshold, self.reference_size)

    def forward(
        self, images: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        check_images(images)
        if self.p >= 1.0:
            return self._damage(images, generator)
        b, _, h, w = images.shape
        chosen = sampling.rand((b,), images, generator) < self.p
        damaged, mask = images.clone(), images.new_zeros((b, 1, h, w))
        if bool(chosen.any()):
            damaged[chosen], mask[chosen] = self._damage(images[chosen], generator)
        return damaged, mask


def damaged_photo(clean: np.ndarray, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """An 8-bit photo ``(H, W, C)`` with damage drawn on it, seeded by ``seed``
    (``torch.Generator().manual_seed(seed)``), sizes at ``reference_size`` 512: one ``kind`` (a
    name of :data:`DAMAGE_KINDS`, its default settings, drawn with p = 1) or ``mixed``
    (:func:`kinds_to_fill`, each at its own chance, drawn again until one lands). Returns the
    damaged photo, rounded to 8 bits as in a scan, and the bool ``(H, W)`` damage mask."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(clean).permute(2, 0, 1)[None].float() / 255.0
    kinds = kinds_to_fill() if kind == "mixed" else [DAMAGE_KINDS[kind](p=1.0)]
    for _ in range(20):
        damaged, mask = Damage(kinds, reference_size=512)(x, generator=generator)
        if mask.any():
            break
    pixels = (damaged[0].permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
    return pixels, mask[0, 0].numpy() > 0.5
