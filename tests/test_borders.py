"""No frame of noise along the edges: the outer pixels of a denoised photo are as clean as its
interior, on every side, for odd and even sizes, whole and tiled (issue #21)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from restore import Restorer


def smooth_photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth colour image (blurred random field plus a gradient): its own high frequencies are
    negligible, so what a denoiser leaves of the noise is what the measure sees."""
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.random((h + 64, w + 64, 3)).astype(np.float32), (0, 0), 6)
    field = field[32:-32, 32:-32]  # away from the blur's own edges: as smooth there as inside
    field = (field - field.min()) / (field.max() - field.min())
    ramp = np.linspace(0.2, 0.8, w, dtype=np.float32)[None, :, None]
    return np.clip(0.6 * field + 0.4 * ramp, 0, 1)


def high_frequency(image: np.ndarray) -> np.ndarray:
    """Mean over channels of |x - blur(x)| (1-px Gaussian), grey levels, per pixel."""
    x = image.astype(np.float32) * 255
    return np.abs(x - cv2.GaussianBlur(x, (0, 0), 1.0)).mean(-1)


def border_ratios(image: np.ndarray, width: int = 2) -> dict[str, float]:
    e = high_frequency(image)
    inner = e[8:-8, 8:-8].mean()
    sides = {
        "top": e[:width, 8:-8],
        "bottom": e[-width:, 8:-8],
        "left": e[8:-8, :width],
        "right": e[8:-8, -width:],
    }
    return {side: float(v.mean() / inner) for side, v in sides.items()}


@pytest.mark.parametrize("size", [(200, 264), (201, 263)])
@pytest.mark.parametrize("tile", [None, 320])
def test_outer_pixels_are_as_clean_as_the_interior(shipped, size, tile):
    h, w = size
    clean = smooth_photo(h * 2 if tile else h, w * 2 if tile else w)
    noisy = clean + np.random.default_rng(1).normal(0, 20 / 255, clean.shape).astype(np.float32)
    noisy = np.clip(noisy, 0, 1)
    r = shipped if tile is None else Restorer(shipped.net, device="cpu", tile=tile, tile_overlap=64)
    ratios = border_ratios(r.denoise(noisy))
    assert border_ratios(noisy)["top"] > 0.8  # the measure sees noise at the edges of the input
    assert max(ratios.values()) <= 1.2, ratios


def test_tiles_at_the_default_overlap_leave_no_seam(shipped):
    """The narrower overlap of images without holes (64 px) still gives the whole image's
    output: within half a grey level everywhere (9 tiles of 320 px against one; fp32, since bf16
    alone differs by more between the two)."""
    clean = smooth_photo(600, 700, seed=2)
    noisy = clean + np.random.default_rng(3).normal(0, 20 / 255, clean.shape).astype(np.float32)
    noisy = np.clip(noisy, 0, 1)
    tiles = []
    whole = Restorer(shipped.net, device="cpu", precision="fp32")
    tiled = Restorer(
        shipped.net, device="cpu", precision="fp32", tile=320, progress=lambda d, t: tiles.append(t)
    )
    difference = np.abs(tiled.denoise(noisy) - whole.denoise(noisy)) * 255
    assert tiles[-1] == 9 and difference.max() <= 0.5, (tiles[-1], difference.max())
