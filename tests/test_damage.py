"""Synthetic old-photo damage: the mask rule, reproducibility, each kind's geometry and coverage,
the op's probabilities, dtype/device handling, argument checking and its place in Corruption."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from restore.corruption import (
    DAMAGE_KINDS,
    Blotches,
    Corruption,
    Creases,
    Damage,
    Dust,
    GaussianNoise,
    Hairs,
    RectangleMasks,
    Scratches,
    Style,
    TextAndStamps,
    add_damage,
)

THRESHOLD = 0.02  # the default damage-mask threshold, 0-1 scale


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def photo(b: int = 2, c: int = 3, size: int = 128, dtype=torch.float32) -> torch.Tensor:
    """A smooth mid-tone texture (0.3-0.7), so bright and dark damage both change it."""
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    base = 0.5 + 0.2 * torch.sin(xx / 9.0) * torch.cos(yy / 13.0)
    tint = torch.linspace(-0.05, 0.05, c).view(1, c, 1, 1) if c > 1 else 0.0
    return (base.expand(b, c, size, size) + tint).to(dtype).contiguous()


def changed_by(damaged: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """``(B, 1, H, W)`` largest change over the channels."""
    return (damaged.double() - images.double()).abs().amax(dim=1, keepdim=True)


def coverage(mask: torch.Tensor) -> torch.Tensor:
    return mask.flatten(1).float().mean(dim=1)


# --------------------------------------------------------------------------------------------------
# The op's contract: shapes, dtypes, range, the mask rule, reproducibility
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_and_range_are_kept_and_the_mask_is_binary(channels, dtype):
    x = photo(2, channels, 96, dtype)
    damaged, mask = add_damage(x, list(DAMAGE_KINDS), gen(0))
    assert damaged.shape == x.shape and damaged.dtype == dtype
    assert mask.shape == (2, 1, 96, 96) and mask.dtype == dtype
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    assert (coverage(mask) > 0).all()
    assert damaged.min() >= 0 and damaged.max() <= 1


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("kind", list(DAMAGE_KINDS))
def test_mask_is_exactly_the_pixels_changed_by_more_than_the_threshold(kind, channels):
    x = photo(3, channels, 128)
    damaged, mask = add_damage(x, [kind], gen(1))
    keep = mask.expand_as(x) == 0
    assert torch.equal(damaged[keep], x[keep])  # bit for bit outside the mask
    assert torch.equal(mask.bool(), changed_by(damaged, x) > THRESHOLD)
    assert mask.sum() > 0


def test_pixels_outside_the_mask_keep_out_of_range_values_and_damaged_ones_are_clipped():
    x = photo(2, 3, 96) * 3.0 - 1.0  # as after unclipped noise: values in about [-0.1, 1.25]
    damaged, mask = add_damage(x, ["scratches", "dust", "blotches"], gen(2))
    keep = mask.expand_as(x) == 0
    assert torch.equal(damaged[keep], x[keep])
    assert x[keep].min() < 0 and x[keep].max() > 1  # out-of-range values outside the mask survive
    inside = damaged[~keep]
    assert inside.numel() > 0 and inside.min() >= 0 and inside.max() <= 1


def test_a_seed_reproduces_the_damage_and_images_and_seeds_differ():
    x = photo(2, 3, 128)  # two identical images
    first = add_damage(x, generator=gen(3))
    again = add_damage(x, generator=gen(3))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    other = add_damage(x, list(DAMAGE_KINDS), gen(4))[1]
    assert not torch.equal(add_damage(x, list(DAMAGE_KINDS), gen(3))[1], other)
    assert not torch.equal(other[0], other[1])  # each image gets its own damage
    module = Damage(["scratches", "text"])
    assert torch.equal(module(x, gen(5))[0], module(x, gen(5))[0])


def test_cuda_gives_the_cpu_result_from_a_cpu_generator():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x = photo(2, 3, 96)
    damaged, mask = add_damage(x.cuda(), generator=gen(6))
    assert damaged.device.type == "cuda" and mask.device.type == "cuda"
    cpu_damaged, cpu_mask = add_damage(x, generator=gen(6))
    assert torch.equal(mask.cpu(), cpu_mask)
    torch.testing.assert_close(damaged.cpu(), cpu_damaged, atol=1e-6, rtol=0)


# --------------------------------------------------------------------------------------------------
# The kinds
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,low,high",
    [
        (Scratches(), 0.001, 0.05),
        (Dust(), 0.001, 0.05),
        (Hairs(), 0.0005, 0.03),
        (Creases(), 0.001, 0.12),
        (TextAndStamps(), 0.001, 0.12),
        (Blotches(), 0.001, 0.8),
    ],
    ids=lambda v: v.name if hasattr(v, "name") else None,
)
def test_each_kind_alone_damages_every_image_with_a_plausible_coverage(kind, low, high):
    damaged, mask = add_damage(photo(4, 3, 256), [kind], gen(7))
    cov = coverage(mask)
    assert (cov > low).all() and (cov < high).all(), cov


def test_blotches_cover_more_than_scratches_and_dust():
    x = photo(6, 3, 128)
    blotches = coverage(add_damage(x, ["blotches"], gen(8))[1]).mean()
    for thin in ("scratches", "dust"):
        assert blotches > 3 * coverage(add_damage(x, [thin], gen(8))[1]).mean()


def test_scratches_are_thin_and_long():
    size = 256
    _, mask = add_damage(photo(16, 3, size), [Scratches(count=1)], gen(9))
    extents = []
    for m in mask[:, 0].numpy().astype(np.uint8):
        _, _, w, h = cv2.boundingRect(m)
        extents.append(max(w, h) / size)
        assert m.sum() / max(w, h) < 4.0  # thin: 1-3 reference px (0.5-1.5 px here) plus edges
    # Long: 250-1000 reference px (125-500 px here), part of which may run out of the image.
    assert min(extents) > 0.2 and np.median(extents) > 0.5


def test_hairs_are_thin_long_and_wavy():
    size = 256
    straight = Hairs(count=1, length=(300, 300), width=(1, 1), bend=0.0, wave=(0, 0))
    wavy = Hairs(count=1, length=(300, 300), width=(1, 1), bend=0.0, wave=(6, 6))
    for kind in (straight, wavy):
        _, mask = add_damage(photo(8, 3, size), [kind], gen(30), reference_size=None)
        for m in mask[:, 0].numpy().astype(np.uint8):
            _, _, w, h = cv2.boundingRect(m)
            assert m.sum() / max(w, h) < 4.0  # about one pixel wide plus antialiased edges
            assert max(w, h) > 60  # 300 px long, centred anywhere: at least part lies inside

    # A wave of 6 px to either side makes a band about 12 px wide across the hair: its thinner
    # side of the rotated bounding box; a straight hair's is a few px.
    def across(mask):
        points = np.argwhere(mask[:, 0].numpy()[0] > 0).astype(np.float32)
        return min(cv2.minAreaRect(points)[1])

    x = photo(1, 3, size)
    assert across(add_damage(x, [straight], gen(31), reference_size=None)[1]) < 4
    assert across(add_damage(x, [wavy], gen(31), reference_size=None)[1]) > 8


def test_the_default_style_draws_what_the_kinds_drew_before():
    x = photo(3, 3, 128)
    for kind in (Scratches, Dust):
        plain = add_damage(x, [kind()], gen(32))
        styled = add_damage(x, [kind(style=Style())], gen(32))
        assert torch.equal(plain[0], styled[0]) and torch.equal(plain[1], styled[1])
    # A style given as a plain mapping (as a config gives it) is the same style.
    assert Scratches(style={"soft_p": 0.5}).style == Style(soft_p=0.5)


def test_a_soft_profile_spreads_the_marks_and_lowers_their_peak():
    x = photo(6, 3, 192)
    sharp = dict(count=3, width=(1, 1), opacity=(1, 1))
    hard, hard_mask = add_damage(x, [Scratches(**sharp)], gen(33), reference_size=None)
    soft, soft_mask = add_damage(
        x, [Scratches(**sharp, style=Style(soft_p=1.0))], gen(33), reference_size=None
    )
    assert soft_mask.sum() > 1.5 * hard_mask.sum()  # blurred by 0.3-1.2 px: wider marks
    assert changed_by(soft, x).amax() < changed_by(hard, x).amax() + 1e-6


def test_a_halo_darkens_around_bright_marks():
    x = photo(4, 1, 192)
    plain, _ = add_damage(x, [Scratches(bright_p=1.0)], gen(34))
    assert (plain - x).min() >= 0  # bright marks only brighten
    haloed, mask = add_damage(x, [Scratches(bright_p=1.0, style=Style(halo_p=1.0))], gen(34))
    darkened = (haloed - x < -THRESHOLD) & mask.bool()
    assert darkened.sum() > 0.1 * mask.sum()


def test_tinted_marks_carry_colour():
    x = photo(8, 3, 128)

    def saturation(kinds):
        damaged, mask = add_damage(x, kinds, gen(35))
        spread = damaged.amax(dim=1, keepdim=True) - damaged.amin(dim=1, keepdim=True)
        return spread[mask.bool() & (changed_by(damaged, x) > 0.2)].median()

    assert saturation([Dust(opacity=(1, 1), style=Style(tint_p=1.0))]) > 2 * saturation(
        [Dust(opacity=(1, 1))]
    )


def test_grain_varies_the_opacity_of_a_mark():
    x = torch.full((4, 3, 128, 128), 0.3)  # flat grey: the change is the marks' opacity alone
    even = dict(specks=(20, 20), size=(8, 8), hairs=(0, 0), opacity=(1, 1), bright_p=1.0)

    def even_share(style):  # share of the marked pixels at the marks' full opacity
        damaged, mask = add_damage(x, [Dust(**even, style=style)], gen(36), reference_size=None)
        change = changed_by(damaged, x)
        full = change > change.amax(dim=(1, 2, 3), keepdim=True) - 0.02  # per image (colour)
        return (full.sum() / mask.sum()).item()

    assert even_share(Style()) > 0.5  # the rest: antialiased rims
    assert even_share(Style(grain=1.0)) < 0.5 * even_share(Style())


def test_scratches_and_dust_are_bright_or_dark_as_asked():
    x = photo(2, 1, 128)
    for kind in (Scratches, Dust):
        bright, mask = add_damage(x, [kind(bright_p=1.0)], gen(10))
        assert (bright - x)[mask.bool()].min() > 0
        dark, mask = add_damage(x, [kind(bright_p=0.0)], gen(10))
        assert (dark - x)[mask.bool()].max() < 0


def test_creases_are_bright_with_a_darker_edge():
    x = photo(4, 3, 192)
    damaged, mask = add_damage(x, [Creases()], gen(11))
    delta = (damaged - x).mean(dim=1, keepdim=True) * mask
    brightened, darkened = delta > 0, delta < 0
    assert darkened.any()
    assert delta[brightened].sum() > 5 * -delta[darkened].sum()  # mostly bright
    # The dark pixels line the bright ones: nearly all lie within 3 px of one.
    near = torch.nn.functional.max_pool2d(brightened.float(), 7, stride=1, padding=3).bool()
    assert (darkened & near).sum() > 0.9 * darkened.sum()


def test_blotches_have_soft_edges():
    x = photo(4, 3, 192)
    damaged, mask = add_damage(x, [Blotches(count=1, opacity=0.7)], gen(12))
    change = changed_by(damaged, x)[mask.bool()]
    # Strong inside, fading out to the threshold at the edge rather than stopping at a step.
    assert change.max() > 0.1
    assert (change < 2 * THRESHOLD).float().mean() > 0.05


def test_sizes_are_in_reference_pixels():
    x = photo(4, 3, 128)
    same = add_damage(x, ["scratches", "dust"], gen(13), reference_size=128)
    absolute = add_damage(x, ["scratches", "dust"], gen(13), reference_size=None)
    assert torch.equal(same[1], absolute[1])  # reference 128 on 128-px images is 1:1
    small = coverage(add_damage(x, ["dust"], gen(13), reference_size=512)[1]).mean()
    large = coverage(add_damage(x, ["dust"], gen(13), reference_size=64)[1]).mean()
    assert large > 4 * small


# --------------------------------------------------------------------------------------------------
# Probabilities and arguments
# --------------------------------------------------------------------------------------------------


def test_p_zero_leaves_images_unchanged_and_the_mask_empty():
    x = photo(3, 3, 96)
    damaged, mask = Damage(p=0.0)(x, gen(14))
    assert torch.equal(damaged, x) and not mask.any()
    damaged, mask = add_damage(x, [Scratches(p=0.0), Dust(p=0.0)], gen(14))
    assert torch.equal(damaged, x) and not mask.any()


def test_p_damages_a_share_of_the_batch_and_leaves_the_rest_alone():
    x = photo(16, 3, 64)
    damaged, mask = Damage(["scratches", "dust"], p=0.5)(x, gen(15))
    hit = mask.flatten(1).any(dim=1)
    assert 0 < hit.sum() < 16
    assert torch.equal(damaged[~hit], x[~hit])


def test_bad_arguments_are_rejected():
    x = photo(1, 3, 32)
    with pytest.raises(ValueError, match="scratches"):
        add_damage(x, ["scrathces"])
    with pytest.raises(TypeError, match="DamageKind"):
        Damage([GaussianNoise()])
    with pytest.raises(ValueError, match="channels"):
        add_damage(photo(1, 2, 32))
    with pytest.raises(ValueError, match="threshold"):
        Damage(threshold=1.0)
    with pytest.raises(ValueError, match="width"):
        Scratches(width=(3.0, 1.0))
    with pytest.raises(ValueError, match="p must"):
        Dust(p=1.5)
    with pytest.raises(ValueError, match="soft_p"):
        Style(soft_p=1.5)
    with pytest.raises(ValueError, match="wave"):
        Hairs(wave=(4.0, 1.0))


# --------------------------------------------------------------------------------------------------
# In Corruption
# --------------------------------------------------------------------------------------------------


def test_corruption_reports_the_damage_beside_the_holes():
    x = photo(4, 3, 128)
    damage = Damage(["scratches", "dust", "blotches"])
    masks = RectangleMasks(count=1, size=(30, 60))
    result = Corruption(masks=masks, damage=damage, fill=0.0)(x, gen(16))
    assert result.damage is not None and result.damage.shape == (4, 1, 128, 128)
    assert (result.damage.flatten(1).sum(dim=1) > 0).all()
    holes = result.mask.bool()
    assert holes.any() and not (result.damage.bool() & holes).any()  # disjoint
    assert (result.degraded.masked_select(holes.expand_as(x)) == 0).all()
    # The damage is drawn first (no noise ops), so it is the op's own output outside the holes.
    damaged, damage_mask = damage(x, gen(16))
    known = ~holes.expand_as(x)
    assert torch.equal(result.degraded[known], damaged[known])
    assert torch.equal(result.damage, damage_mask * ~holes)
    # Damage is not noise: without noise ops nothing is left to measure outside holes and damage.
    assert torch.equal(result.rms_error, torch.zeros(4))


def test_corruption_without_damage_has_no_damage_mask_and_noise_level_is_kept():
    x = photo(2, 3, 128)
    plain = Corruption(noise=[GaussianNoise(25)])(x, gen(17))
    assert plain.damage is None
    noisy = Corruption(noise=[GaussianNoise(25)], damage=Damage(["scratches"]))(x, gen(17))
    assert noisy.damage is not None and noisy.damage.any()
    # rms_error still measures the noise: the damaged pixels are left out of it.
    torch.testing.assert_close(noisy.rms_error, plain.rms_error, rtol=0.05, atol=0.0)
