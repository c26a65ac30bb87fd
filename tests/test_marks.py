"""The flat-image check of issue #39 (restore.bench.marks): marks drawn where they should be, and
scored as a person would count them."""

from __future__ import annotations

import numpy as np
import pytest

from restore.bench.marks import BACKGROUNDS, MARKS, marks_image, score_marks


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_every_mark_is_drawn_in_its_own_cell(background):
    image, masks = marks_image(background)
    assert image.dtype == np.uint8 and image.shape[2] == 3
    assert len(masks) == len(MARKS)
    assert all(m.any() for m in masks)
    assert (np.sum(masks, 0) <= 1).all()  # no two marks overlap
    dots = {
        (m.colour, m.size): int(k.sum())
        for m, k in zip(MARKS, masks, strict=True)
        if m.shape == "dot"
    }
    for colour in ("white", "black", "red"):
        areas = [dots[(colour, r)] for r in range(1, 7)]
        assert areas == sorted(areas) and areas[-1] > 100  # radius 6: about pi 6^2 pixels


def test_the_same_seed_draws_the_same_image_and_another_seed_other_noise():
    a, _ = marks_image("texture", seed=1)
    assert np.array_equal(a, marks_image("texture", seed=1)[0])
    assert not np.array_equal(a, marks_image("texture", seed=2)[0])


def test_a_map_is_scored_per_mark_and_outside_the_marks():
    _, masks = marks_image("flat")
    held, false = score_marks(np.any(masks, 0), masks)
    assert held == [1.0] * len(MARKS) and false == 0.0
    held, false = score_marks(np.zeros_like(masks[0]), masks)
    assert held == [0.0] * len(MARKS) and false == 0.0
    held, false = score_marks(np.ones_like(masks[0]), masks)
    assert false == 1.0
    half = np.any(masks[: len(MARKS) // 2], 0)
    held, _ = score_marks(half, masks)
    assert (
        held[: len(MARKS) // 2] == [1.0] * (len(MARKS) // 2) and max(held[len(MARKS) // 2 :]) == 0
    )
