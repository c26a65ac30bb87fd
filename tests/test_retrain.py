"""Retraining on one's own photos from the shipped model (README "Retrain on your own photos"): a
tiny ``experiment=finetune`` on clean photos and a tiny ``experiment=adapt`` on noisy photos
alone; both run folders export a model that loads wherever a shipped one does and restores."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from restore import Restorer
from restore.corruption.fitted import FittedNoise, NoiseFit
from restore.data import synthetic_image
from restore.metrics import psnr
from restore.models.weights import load_net
from restore.train import train
from restore.training.config import compose_config

pytestmark = pytest.mark.slow

# correlated camera-like noise of about 6 grey levels
CAMERA = NoiseFit(
    gain=[[1e-3, 8e-4, 1.2e-3]],
    floor=[[5e-5, 5e-5, 8e-5]],
    colour=[[1.0, 0.0, 0.0], [0.4, 0.92, 0.0], [0.3, 0.2, 0.93]],
    kernel=[[[1.0 if (i, j) == (4, 4) else 0.0 for j in range(9)] for i in range(9)]] * 3,
)
TINY = [
    "trainer.max_steps=2",
    "trainer.val_check_interval=2",
    "+trainer.enable_progress_bar=false",
    "data.patch_size=64",
    "data.val_patch_size=64",
    "data.batch_size=2",
    "data.val_batch_size=2",
]


def _save(path: Path, image: np.ndarray) -> None:
    rgb = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def _clean(index: int) -> np.ndarray:
    """A photo-like image: a smooth colour ramp (the flat regions the noise is read on) with a
    textured procedural picture in one quarter."""
    ramp = np.linspace(0.2, 0.7, 128, dtype=np.float32)
    image = np.stack(
        [
            ramp[:, None] + 0.0 * ramp,
            0.5 + 0.2 * ramp[None, :] + 0.0 * ramp[:, None],
            np.full((128, 128), 0.3 + 0.05 * index, np.float32),
        ],
        -1,
    )
    image[64:, 64:] = synthetic_image(index, 64, seed=7)
    return image.astype(np.float32)


def _noisy(index: int) -> np.ndarray:
    clean = torch.from_numpy(_clean(index)).permute(2, 0, 1)[None]
    noisy = FittedNoise(CAMERA)(clean, generator=torch.Generator().manual_seed(index))
    return noisy[0].permute(1, 2, 0).numpy()


def _run(tmp_path: Path, experiment: str, photos: Path, *extra: str) -> Path:
    run = tmp_path / "run"
    cfg = compose_config(
        [
            f"experiment={experiment}",
            f"data.root={photos}",
            f"paths.output_dir={run}",
            *TINY,
            *extra,
        ]
    )
    train(cfg)
    return run


def _heads_as_shipped(net) -> bool:
    """The heads and noise estimator hold the shipped values (up to the rounding of the weight
    average, which averages constant values too)."""
    shipped = load_net("photo").state_dict()
    return all(
        torch.allclose(value, shipped[name], rtol=1e-5, atol=1e-6)
        for name, value in net.state_dict().items()
        if name.startswith(("scale_head.", "damage_head.", "noise_estimator."))
    )


def _gain(restorer: Restorer, noisy: np.ndarray, clean: np.ndarray) -> float:
    out = restorer.denoise(noisy)
    as_tensor = [torch.from_numpy(a).permute(2, 0, 1)[None] for a in (out, noisy, clean)]
    return float(psnr(as_tensor[0], as_tensor[2]) - psnr(as_tensor[1], as_tensor[2]))


def test_finetune_from_the_shipped_model_keeps_its_heads_and_refits_the_calibration(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(5):
        _save(photos / f"p{i}.png", _clean(i))
    run = _run(tmp_path, "finetune", photos)
    net = load_net(run)
    assert net.scale_head is not None and net.damage_head is not None
    assert net.noise_estimator is not None
    assert _heads_as_shipped(net)
    shipped = load_net("photo").calibration
    assert net.calibration.scale > 0 and net.calibration.scale != shipped.scale  # re-fitted
    restorer = Restorer.from_checkpoint(run, device="cpu")
    clean = _clean(9)
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 20 / 255, clean.shape), 0, 1)
    assert _gain(restorer, noisy.astype(np.float32), clean) > 3.0
    assert np.isfinite(restorer.uncertainty(noisy.astype(np.float32))).all()


def test_adapt_fits_the_photos_noise_and_exports_a_model_that_restores(tmp_path):
    photos = tmp_path / "noisy"
    photos.mkdir()
    for i in range(4):
        _save(photos / f"n{i}.png", _noisy(i))
    run = _run(tmp_path, "adapt", photos, "data.crop_size=64", "data.crops_per_photo=2")
    fit = NoiseFit(**json.loads((run / "noise_fit.json").read_text()))
    assert len(fit.gain) == 4  # one level curve per photo
    assert 0.5 * CAMERA.rms() < fit.rms() < 2.0 * CAMERA.rms()
    net = load_net(run / "export" / "model.pt")
    assert _heads_as_shipped(net)
    assert net.calibration == load_net("photo").calibration  # kept from the shipped model
    restorer = Restorer.from_checkpoint(run, device="cpu")
    assert _gain(restorer, _noisy(9), _clean(9)) > 2.0
