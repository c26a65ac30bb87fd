"""A second damage generator, for evaluation only: never imported by training (the layers forbid
it), written independently of :mod:`restore.corruption.damage` and in another style (Pillow's
vector drawing of Bezier curves and ellipses, soft alpha mattes, colours drawn from the photo and
from paper tones), so that a score on its damage says how well the damage head generalises beyond
the routine it learned from.

Kinds: ``scratches`` (long, gently bent curves, 1-3 px, bright or dark, sharp or soft, opacity
0.5-1), ``dust`` (specks of radius 1-3 px, bright or dark, soft edges), ``hairs`` (thin dark
wavy curves), ``mixed`` (all three). The damage mask is every pixel the matte covers by more
than 0.1 that the damage changed by more than 0.02 (0-1 scale).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

KINDS = ("scratches", "dust", "hairs", "mixed")


def _bezier(rng: np.random.Generator, h: int, w: int, bend: float, steps: int = 64):
    """Points of a quadratic Bezier curve across much of the image, bent by ``bend`` x its
    length."""
    length = rng.uniform(0.3, 0.9) * max(h, w)
    angle = rng.uniform(0, np.pi)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
    p0, p2 = np.array([cx - dx, cy - dy]), np.array([cx + dx, cy + dy])
    normal = np.array([-np.sin(angle), np.cos(angle)])
    p1 = (p0 + p2) / 2 + normal * rng.normal(0, bend) * length
    t = np.linspace(0, 1, steps)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def _matte(h: int, w: int, draw) -> np.ndarray:
    """A float ``(h, w)`` matte in [0, 1] drawn at 4x and averaged down (anti-aliased)."""
    big = Image.new("L", (4 * w, 4 * h), 0)
    draw(ImageDraw.Draw(big), 4)
    return np.asarray(big.resize((w, h), Image.Resampling.BOX), np.float32) / 255.0


def _scratches(rng, h, w, layers):
    for _ in range(int(rng.integers(2, 7))):
        points = _bezier(rng, h, w, bend=0.08)
        width = rng.uniform(1.0, 3.0)
        matte = _matte(
            h,
            w,
            lambda d, s, p=points, wd=width: d.line([tuple(q) for q in p * s], 255, int(wd * s)),
        )
        if rng.random() < 0.5:  # a soft scratch
            matte = _soften(matte, rng.uniform(0.5, 1.2))
        tone = rng.uniform(0.85, 1.0) if rng.random() < 0.7 else rng.uniform(0.0, 0.2)
        layers.append((matte * rng.uniform(0.5, 1.0), tone))


def _dust(rng, h, w, layers):
    count = int(rng.integers(15, 60) * (h * w) / (512 * 512)) + 5
    centres = rng.uniform(0, 1, (count, 2)) * (w, h)
    radii = rng.uniform(1.0, 3.0, count)
    dark = rng.random(count) < 0.5
    for want_dark in (False, True):
        chosen = [(c, r) for c, r, dk in zip(centres, radii, dark, strict=True) if dk == want_dark]
        if not chosen:
            continue

        def draw(d, s, chosen=chosen):
            for (x, y), r in chosen:
                d.ellipse([(x - r) * s, (y - r * 0.8) * s, (x + r) * s, (y + r * 0.8) * s], 255)

        matte = _soften(_matte(h, w, draw), 0.6)
        layers.append((matte, rng.uniform(0.0, 0.15) if want_dark else rng.uniform(0.85, 1.0)))


def _hairs(rng, h, w, layers):
    for _ in range(int(rng.integers(1, 4))):
        points = _bezier(rng, h, w, bend=0.25)[:: int(rng.integers(1, 3))] * rng.uniform(0.3, 0.6)
        points += rng.uniform(0, 1, 2) * (w, h) * 0.5
        wave = np.sin(np.linspace(0, rng.uniform(3, 9), len(points)))[:, None]
        points = points + wave * rng.uniform(1, 4)
        matte = _matte(h, w, lambda d, s, p=points: _line(d, p * s, s))
        layers.append((matte * rng.uniform(0.7, 1.0), rng.uniform(0.0, 0.12)))


def _line(draw: ImageDraw.ImageDraw, points: np.ndarray, width: float) -> None:
    draw.line([tuple(q) for q in points], fill=255, width=max(1, int(round(width))), joint="curve")


def _soften(matte: np.ndarray, radius: float) -> np.ndarray:
    image = Image.fromarray(np.round(matte * 255).astype(np.uint8))
    return np.asarray(image.filter(ImageFilter.GaussianBlur(radius)), np.float32) / 255.0


_DRAW = {"scratches": _scratches, "dust": _dust, "hairs": _hairs}


def independent_damage(clean: np.ndarray, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(damaged uint8 ``(H, W, 3)``, bool ``(H, W)`` damage mask) of an 8-bit RGB image."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)
    h, w = clean.shape[:2]
    layers: list[tuple[np.ndarray, float]] = []
    for name in ("scratches", "dust", "hairs") if kind == "mixed" else (kind,):
        _DRAW[name](rng, h, w, layers)
    image = clean.astype(np.float32) / 255.0
    covered = np.zeros((h, w), np.float32)
    for matte, tone in layers:
        paper = np.array([tone, tone * rng.uniform(0.9, 1.0), tone * rng.uniform(0.8, 1.0)])
        image = image * (1 - matte[..., None]) + paper * matte[..., None]
        covered = np.maximum(covered, matte)
    damaged = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    changed = np.abs(damaged.astype(np.float32) - clean).max(-1) / 255.0 > 0.02
    return damaged, (covered > 0.1) & changed
