"""Denoising strength (issue #26): 0 is the input, 1 today's result bit for bit, in between a
blend; in ``Restorer``, ``JobOptions`` and ``restore-image --strength``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import hole, photo
from PIL import Image

from restore import Restorer
from restore.cli import main
from restore.io.images import read_image_file
from restore.jobs import JobOptions, restore_pixels
from restore.metrics import psnr

pytestmark = pytest.mark.usefixtures("one_thread")

CROP = Path(__file__).parent / "data" / "astronaut_crop.png"


@pytest.fixture(scope="module")
def tiny(weights) -> Restorer:
    return Restorer.from_checkpoint(weights, device="cpu", precision="fp32")


def test_zero_is_the_input_and_one_is_the_default(tiny):
    image = photo(0)
    assert np.array_equal(tiny.denoise(image, strength=0), image)
    assert np.array_equal(tiny.denoise(image, strength=1.0), tiny.denoise(image))
    floats = torch.from_numpy(photo(1)).permute(2, 0, 1).float() / 255 + 0.02  # some above 1
    assert torch.equal(tiny.denoise(floats, sigma=10, strength=0), floats)
    assert torch.equal(tiny.denoise(floats, 10, strength=1), tiny.denoise(floats, 10))
    mask = hole()
    assert np.array_equal(tiny.restore(image, mask, strength=1), tiny.restore(image, mask))


def test_restore_at_zero_keeps_the_known_pixels_and_fills_the_holes(tiny):
    image, mask = photo(2), hole()
    out = tiny.restore(image, mask, sigma=25, strength=0)
    assert np.array_equal(out[~mask], image[~mask])
    assert not np.array_equal(out[mask], image[mask])
    half = tiny.restore(image, mask, sigma=25, strength=0.5)
    full = tiny.restore(image, mask, sigma=25)
    assert np.array_equal(half[mask], full[mask])  # the holes are filled in full
    expected = np.round(image[~mask] + 0.5 * (full[~mask].astype(float) - image[~mask]))
    assert np.abs(half[~mask] - expected).max() <= 1  # a blend on the known pixels


def test_half_strength_lies_between_in_psnr(shipped):
    clean = np.asarray(Image.open(CROP).convert("RGB"))[:64, :64].copy()
    noise = np.random.default_rng(0).normal(0, 25, clean.shape)
    noisy = np.clip(np.round(clean + noise), 0, 255).astype(np.uint8)

    def score(image: np.ndarray) -> float:
        def batch(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a).permute(2, 0, 1)[None].double() / 255

        return float(psnr(batch(image), batch(clean)))

    scores = [score(shipped.denoise(noisy, strength=s)) for s in (0, 0.5, 1)]
    assert scores[0] < scores[1] < scores[2], scores
    assert scores[0] == score(noisy)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.5", True, None])
def test_bad_strengths_are_refused(tiny, bad):
    with pytest.raises(ValueError, match="strength must be a number in \\[0, 1\\]"):
        tiny.denoise(photo(0), strength=bad)
    with pytest.raises(ValueError, match="strength must be a number in \\[0, 1\\]"):
        JobOptions(strength=bad)


def test_job_options_carry_the_strength(tiny):
    image = photo(3)
    out = restore_pixels(tiny, image, None, JobOptions(task="denoise", strength=0.25)).image
    assert np.array_equal(out, tiny.denoise(image, strength=0.25))
    assert not np.array_equal(out, tiny.denoise(image))


def test_restore_image_strength(capsys, weights, tmp_path):
    Image.fromarray(photo(4)).save(tmp_path / "a.png")
    argv = [str(tmp_path / "a.png"), "--weights", str(weights), "--device", "cpu", "-o"]
    assert main([*argv, str(tmp_path / "out"), "--strength", "0"]) == 0
    assert np.array_equal(read_image_file(tmp_path / "out" / "a.png").pixels, photo(4))
    for bad in ("1.5", "-1", "nan"):
        with pytest.raises(SystemExit) as exit_:
            main([*argv, str(tmp_path / "bad"), "--strength", bad])
        assert exit_.value.code == 2
        assert "--strength must be a number in [0, 1]" in capsys.readouterr().err
