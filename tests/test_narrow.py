"""A narrower network started from a wider one's weights (restore.models.narrow, through
init_from): it keeps the channels that matter, exactly."""

from __future__ import annotations

import pytest
import torch
from helpers import SMALL

from restore.models import RestorationVAE
from restore.models.narrow import can_narrow, narrow_state
from restore.models.weights import export_weights, init_from

NARROW = [8, 16, 24]  # SMALL's widths are 16, 24, 32
HEADS = dict(uncertainty=True, damage=True, noise_estimator=True)


def _random(widths: list[int], seed: int) -> RestorationVAE:
    torch.manual_seed(seed)
    net = RestorationVAE(**{**SMALL, "widths": widths}, **HEADS).eval()
    batch_norms = {f"damage_head.{i}.weight" for i in (1, 4, 7)}  # scales near 1, not 0
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.randn_like(p) * 0.1 + (name in batch_norms))
    return net


def _segments(key: str, size: int, small: RestorationVAE) -> list[int]:
    """How the channels of one dimension of ``small``'s tensor ``key`` split into groups that a
    wider network widens each at its end."""
    w, c_in = small.config["widths"], small.stem.weight.shape[1]
    if key.startswith("merge.") and key.endswith("weight") and size == 2 * w[int(key[6])]:
        return [size // 2, size // 2]
    if key == "fuse.weight" and size == w[-1] + small.latent_channels:
        return [w[-1], small.latent_channels]
    if key == "damage_head.0.weight" and size == c_in + 2 * w[0]:
        return [c_in, w[0], w[0]]
    return [size]


def _embed(small: RestorationVAE, wide: RestorationVAE) -> None:
    """Put ``small``'s weights into ``wide``'s first channels of each group, every other weight
    zero (variances one): the extra channels do nothing."""
    big = wide.state_dict()
    for key, value in small.state_dict().items():
        target = torch.ones_like(big[key]) if key.endswith("running_var") else big[key] * 0
        index = []
        for n, m in zip(value.shape, target.shape, strict=True):
            ours, theirs = _segments(key, n, small), _segments(key, m, wide)
            offsets = torch.tensor([0, *theirs[:-1]]).cumsum(0)
            parts = zip(ours, offsets, strict=True)
            index.append(torch.cat([torch.arange(p) + o for p, o in parts]))
        if value.dim():
            target[torch.meshgrid(*index, indexing="ij")] = value
        else:
            target = value
        big[key] = target
    wide.load_state_dict(big)


def test_a_narrower_network_keeps_exactly_the_channels_that_do_something(tmp_path):
    small = _random(NARROW, 0)
    wide = _random(SMALL["widths"], 1)
    _embed(small, wide)
    x = torch.rand(2, 3, 48, 48)
    mask = (torch.rand(2, 1, 48, 48) > 0.9).float()
    with torch.no_grad():
        told = small.restore(x, mask, noise_level=20.0)
        torch.testing.assert_close(wide.restore(x, mask, noise_level=20.0), told)  # the embedding
        student = RestorationVAE(**{**SMALL, "widths": NARROW}, **HEADS).eval()
        init_from(student, export_weights(wide, tmp_path / "wide.pt"))
        for key, value in small.state_dict().items():
            if not key.startswith("posterior"):  # training only: the student's own start
                torch.testing.assert_close(student.state_dict()[key], value, msg=key)
        torch.testing.assert_close(student.restore(x, mask), small.restore(x, mask))
        torch.testing.assert_close(student.detect_damage(x), small.detect_damage(x))
        std = student.restore_with_uncertainty(x, mask)[1]
        torch.testing.assert_close(std, small.restore_with_uncertainty(x, mask)[1])


def test_a_narrowed_network_runs_and_is_not_its_random_start(tmp_path):
    wide = _random(SMALL["widths"], 1)
    student = RestorationVAE(**{**SMALL, "widths": NARROW}, **HEADS).eval()
    start = student.stem.weight.clone()
    init_from(student, export_weights(wide, tmp_path / "wide.pt"))
    assert not torch.equal(student.stem.weight, start)
    # the noise estimator is copied whole
    estimators = student.noise_estimator.parameters(), wide.noise_estimator.parameters()
    assert all(torch.equal(a, b) for a, b in zip(*estimators, strict=True))
    with torch.no_grad():
        assert torch.isfinite(student.restore(torch.rand(1, 3, 40, 40))).all()


def test_the_strongest_channel_is_kept():
    wide = _random(SMALL["widths"], 1)
    with torch.no_grad():
        weakest = int(wide.stem.weight.abs().sum((1, 2, 3)).argmin())
        wide.stem.weight[weakest] *= 1000  # now by far the strongest writer of level 0
    narrow = narrow_state(wide.state_dict(), SMALL["widths"], SMALL["blocks"], NARROW)
    kept = narrow["stem.weight"].abs().sum((1, 2, 3))
    assert kept.max() > 100 * kept.median()


@pytest.mark.parametrize(
    "theirs, ours, ok",
    [
        ([16, 24, 32], [8, 16, 24], True),
        ([16, 24, 32], [16, 24, 32], False),  # nothing to narrow
        ([16, 24, 32], [8, 32, 24], False),  # a level wider
        ([16, 24, 32], [8, 16], False),  # another depth
    ],
)
def test_which_networks_can_be_narrowed(theirs, ours, ok):
    blocks = {"blocks": [1, 1, 1]}
    assert can_narrow({"widths": theirs, **blocks}, {"widths": ours, **blocks}) is ok
    assert not can_narrow({"widths": theirs, **blocks}, {"widths": ours, "blocks": [2, 1, 1]})


def test_a_wider_network_cannot_start_from_a_narrower_one(tmp_path):
    narrow = RestorationVAE(**{**SMALL, "widths": NARROW})
    with pytest.raises(ValueError, match="widths"):
        init_from(RestorationVAE(**SMALL), export_weights(narrow, tmp_path / "narrow.pt"))
