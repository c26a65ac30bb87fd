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


@pytest.mark.parametrize("background", ["flat", "gradient"])
def test_the_shipped_model_repairs_the_small_dots_on_plain_backgrounds_and_nothing_else(
    shipped, background
):
    """What the default model does today (MODEL_CARD, "Damage a person sees at a glance"): the
    white and black dots of radius 1-2 filled, no other pixel of a plain background. Held so that
    a new damage head keeps them; the issue's target (every mark) is not met yet."""
    image, masks = marks_image(background)
    held, false = score_marks(shipped.repair(image)[1], masks)
    small = [
        i
        for i, m in enumerate(MARKS)
        if m.shape == "dot" and m.size <= 2 and m.colour in ("white", "black")
    ]
    assert [held[i] for i in small] == pytest.approx([1.0] * len(small), abs=0.1)
    assert false == 0.0
