"""The benchmark's optional peers (the ``bench`` extra, which ``make install`` installs, so CI runs
them): each runs on a small image the test makes and does what it is there for. Without the extra
they skip, saying which package is missing, as the bench itself reports them."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import hole, photo

from restore.bench import inpaint as inpaint_bench
from restore.bench import peers


def _needs(problem: str | None) -> None:
    if problem is not None:
        pytest.skip(problem)


def test_bm3d_takes_most_of_the_noise_away():
    _needs(peers.peer_problem("bm3d"))
    clean = photo(3, 48, 48).astype(np.float64) / 255.0
    noisy = clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape)
    out = peers.denoisers(_NoRestorer(), ["bm3d"], opencv_h={})["bm3d"](noisy, 25.0)
    rms = [np.sqrt(np.mean((x - clean) ** 2)) * 255 for x in (noisy, out)]
    assert out.shape == clean.shape and rms[1] < 0.5 * rms[0], rms


def test_patchmatch_fills_the_hole_from_the_known_pixels_and_keeps_them():
    _needs(inpaint_bench.peer_problem("patchmatch"))
    clean, holes = photo(4), hole()
    image = np.where(holes[..., None], 0, clean).astype(np.uint8)
    out = inpaint_bench.methods(_NoRestorer(), ["patchmatch"])["patchmatch"](image, holes)
    assert out.shape == clean.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[~holes], clean[~holes])
    filled = out[holes].astype(float)
    assert filled.mean() > 60 and abs(filled.mean() - clean[holes].mean()) < 40  # not left black


class _NoRestorer:
    """What the peer tables read of a restorer when they build its rows (never called: these
    peers run without it)."""

    texture = True
    self_ensemble = False
