"""Every task on every device the machine has (the ``device`` fixture): the CPU in fp32 always,
CUDA in fp16 and fp32 where a GPU exists. The CPU's fp32 outputs are the reference: a fresh
restorer on the CPU gives them again bit for bit, and a GPU gives them within rounding."""

from __future__ import annotations

import numpy as np
import pytest

from restore.restorer import Restorer
from tests.helpers import hole, photo

TASKS = {
    "denoise told": lambda r, x, m: r.denoise(x, sigma=15),
    "denoise blind": lambda r, x, m: r.denoise(x),
    "inpaint": lambda r, x, m: r.inpaint(x, m),
    "uncertainty": lambda r, x, m: r.uncertainty(x, sigma=15),
    "noise level": lambda r, x, m: r.estimate_noise(x),
    "damage": lambda r, x, m: r.detect_damage(x),
    "samples": lambda r, x, m: np.stack(r.sample(x, m, n=2, seed=3)),
}
# Largest mean absolute difference from the CPU in fp32 (0-255 outputs; maps in their units).
GPU_TOLERANCE = {"fp16": 1.5, "fp32": 0.05}


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    clean = photo(1, 96, 128)
    noisy = np.clip(clean + rng.normal(0, 15, clean.shape), 0, 255).astype(np.uint8)
    return noisy, hole(96, 128)


@pytest.fixture(scope="module")
def reference(inputs):
    """Every task's output from the shipped model on the CPU in fp32."""
    r = Restorer.from_pretrained(device="cpu", precision="fp32")
    return {name: np.asarray(task(r, *inputs), np.float64) for name, task in TASKS.items()}


@pytest.mark.parametrize("task", list(TASKS))
def test_task_on_device_matches_the_cpu(device, task, inputs, reference):
    kind, precision = device
    r = Restorer.from_pretrained(device=kind, precision=precision)
    out = np.asarray(TASKS[task](r, *inputs), np.float64)
    assert out.shape == reference[task].shape
    assert np.isfinite(out).all()
    if kind == "cpu":
        np.testing.assert_array_equal(out, reference[task])
    else:
        assert np.abs(out - reference[task]).mean() <= GPU_TOLERANCE[precision]


def test_the_reference_outputs_are_not_trivial(inputs, reference):
    noisy, mask = inputs
    assert np.abs(reference["denoise told"] - noisy).mean() > 3  # it removed noise
    assert np.abs(reference["inpaint"] - noisy)[mask].mean() > 3  # it filled the hole
    assert reference["uncertainty"].min() > 0
    assert 5 < float(np.mean(reference["noise level"])) < 30  # the noise is sigma 15
    a, b = reference["samples"]
    assert np.abs(a - b)[mask].mean() > 0  # two draws differ in the hole
