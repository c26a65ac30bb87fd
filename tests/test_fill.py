"""Classical hole fills: push-pull and harmonic (membrane) interpolation."""

from __future__ import annotations

import pytest
import torch

from restore.models.fill import harmonic_fill, neighbour_sum, pyramid_fill


def test_pyramid_fill_keeps_known_pixels_and_fills_with_their_colours():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 37, 53, generator=g)  # odd sizes: partial 2x2 cells at the borders
    mask = (torch.rand(2, 1, 37, 53, generator=g) < 0.4).float()
    mask[..., 5:30, 10:45] = 1  # a hole wider than any 3x3 neighbourhood
    out = pyramid_fill(x, mask)
    known = mask.expand_as(x) == 0
    assert torch.equal(out[known], x[known])
    lo = x.masked_fill(~known, 2).amin(dim=(2, 3), keepdim=True)
    hi = x.masked_fill(~known, -1).amax(dim=(2, 3), keepdim=True)
    assert (out >= lo - 1e-6).all() and (out <= hi + 1e-6).all()  # convex mix of known colours

    # Left half red, right half blue, the middle columns missing: the fill goes from red to blue.
    img = torch.zeros(1, 3, 32, 64)
    img[:, 0, :, :32], img[:, 2, :, 32:] = 1.0, 1.0
    gap = torch.zeros(1, 1, 32, 64)
    gap[..., 16:48] = 1
    filled = pyramid_fill(img, gap)[0, :, 16]
    assert filled[0, 17] > 0.75 and filled[2, 17] < 0.25  # next to the red side: red
    assert filled[2, 46] > 0.75 and filled[0, 46] < 0.25
    assert (filled[0, 16:48].diff() <= 1e-6).all()  # monotone across the gap
    assert torch.allclose(filled[:, 16:48].sum(0), torch.ones(32), atol=1e-5)  # no foreign colour


@pytest.mark.parametrize("fill", [pyramid_fill, harmonic_fill])
def test_fill_edge_cases(fill):
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    assert fill(x, torch.zeros(1, 1, 8, 8)).dtype == torch.float64
    assert torch.equal(fill(x, torch.zeros(1, 1, 8, 8)), x)
    assert fill(x, torch.ones(1, 1, 8, 8)).abs().max() == 0  # nothing known: 0
    half = torch.full((1, 1, 8, 8), 0.5)  # fractional masks blend the pixel with the fill
    c = torch.full((1, 3, 8, 8), 0.3, dtype=torch.float64)
    torch.testing.assert_close(fill(c, half), c)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\) mask"):
        fill(x, torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\) mask"):
        fill(x, torch.zeros(1, 1, 8, 9))


def test_harmonic_fill_solves_the_laplace_equation():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 41, 67, generator=g, dtype=torch.float64)
    mask = (torch.rand(2, 1, 41, 67, generator=g) < 0.3).double()
    mask[..., 8:30, 12:50] = 1
    out = harmonic_fill(x, mask, sweeps=400)
    known = mask.expand_as(x) == 0
    assert torch.equal(out[known], x[known])
    padded = torch.nn.functional.pad(out, (1, 1, 1, 1), mode="replicate")
    mean4 = (
        padded[..., :-2, 1:-1]
        + padded[..., 2:, 1:-1]
        + padded[..., 1:-1, :-2]
        + padded[..., 1:-1, 2:]
    ) / 4
    assert (out - mean4)[~known].abs().max() < 1e-6  # every hole pixel = mean of its 4 neighbours
    # The default sweeps land well on the way there from push-pull (the start, = sweeps=0).
    holes = ~known
    start = (pyramid_fill(x, mask) - out)[holes].abs().mean()
    torch.testing.assert_close(harmonic_fill(x, mask, sweeps=0), pyramid_fill(x, mask))
    assert (harmonic_fill(x, mask) - out)[holes].abs().mean() < 0.5 * start  # measured: 0.36
    # More full-resolution sweeps than max_sweeps are honoured (max_sweeps caps coarse levels).
    assert not torch.equal(harmonic_fill(x, mask, sweeps=80), harmonic_fill(x, mask, sweeps=64))


def test_neighbour_sum_repeats_the_border_pixels():
    for h, w in ((5, 4), (1, 7), (7, 1), (1, 1)):
        x = torch.rand(2, 3, h, w)
        padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
        expected = (
            padded[..., :-2, 1:-1]
            + padded[..., 2:, 1:-1]
            + padded[..., 1:-1, :-2]
            + padded[..., 1:-1, 2:]
        )
        torch.testing.assert_close(neighbour_sum(x, torch.empty_like(x)), expected)


def test_harmonic_fill_treats_batch_items_apart_and_keeps_half_precision():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(3, 3, 20, 30, generator=g)
    mask = (torch.rand(3, 1, 20, 30, generator=g) < 0.5).float()
    whole = harmonic_fill(x, mask)
    for i in range(3):
        torch.testing.assert_close(harmonic_fill(x[i : i + 1], mask[i : i + 1]), whole[i : i + 1])
    half = harmonic_fill(x.half(), mask.half())
    assert half.dtype == torch.float16
    torch.testing.assert_close(half.float(), whole, atol=2e-3, rtol=0)


def test_harmonic_fill_continues_gradients_that_push_pull_flattens():
    # A linear ramp is harmonic: the membrane fill restores it, push-pull only approximates it.
    ramp = torch.linspace(0, 1, 96).expand(1, 3, 64, 96).clone()
    gap = torch.zeros(1, 1, 64, 96)
    gap[..., 30:54] = 1
    holes = gap.expand_as(ramp) == 1
    harmonic = (harmonic_fill(ramp, gap) - ramp)[holes].abs().max()
    push_pull = (pyramid_fill(ramp, gap) - ramp)[holes].abs().max()
    assert harmonic < 0.005
    assert push_pull > 5 * harmonic


def test_harmonic_fill_rejects_bad_settings():
    x, m = torch.rand(1, 3, 8, 8), torch.zeros(1, 1, 8, 8)
    for kwargs in ({"sweeps": -1}, {"omega": 0.0}, {"omega": 2.0}, {"max_sweeps": -1}):
        with pytest.raises(ValueError, match="omega"):
            harmonic_fill(x, m, **kwargs)


def _sor_whole_image(image, hole, sweeps, omega):
    """Red-black SOR over every pixel of the image (the plain form of restore.models.fill._sor,
    which sweeps only the holes' box): the oracle for that restriction."""
    h, w = image.shape[-2:]
    red = (torch.arange(h)[:, None] + torch.arange(w)[None, :]) % 2 == 0
    update = torch.empty_like(image)
    for _ in range(sweeps):
        for colour in (red, ~red):
            step = ((hole & colour) * omega).to(image.dtype)
            image.add_(neighbour_sum(image, update).mul_(0.25).sub_(image).mul_(step))
    return image


@pytest.mark.parametrize("seed", range(6))
def test_harmonic_fill_sweeps_only_around_the_holes_with_the_same_result(monkeypatch, seed):
    from restore.models import fill

    g = torch.Generator().manual_seed(seed)
    h, w = 40 + 7 * seed, 61 - 5 * seed
    x = torch.rand(2, 3, h, w, generator=g)
    inside = torch.zeros(1, 1, h, w)
    inside[..., 2 + seed : 9 + seed, 5 + 2 * seed : 10 + 2 * seed] = 1  # box corner of each parity
    corner = torch.zeros(1, 1, h, w)
    corner[..., : seed + 1, -(seed + 2) :] = 1  # touching two edges
    masks = [inside, corner, torch.cat([inside, corner])]  # a batch sweeps the union's box
    boxed = [harmonic_fill(x[: len(m)], m) for m in masks]
    monkeypatch.setattr(fill, "_sor", _sor_whole_image)
    for mask, out in zip(masks, boxed, strict=True):
        assert torch.equal(out, harmonic_fill(x[: len(mask)], mask))
