"""Noisy photos without clean references, prepared for adapting a model to their camera.

:class:`NoisyPhotosDataModule` cuts crops of each photo, restores them with the model the
adaptation starts from, fits the photos' noise (:func:`restore.corruption.fitted.fit_noise`) and
serves aligned ``(noisy, restored, std)`` crops: the noisy pixels, the starting model's
restoration of them and the fitted noise's per-pixel standard deviation, each ``(B, C, P, P)``
float32 (0-1 scale).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor
from torch.utils.data import Dataset

from restore.corruption.fitted import CELL, FittedNoise, fit_noise, noise_std
from restore.data.datamodule import ImageFolderDataModule
from restore.geometry import DIHEDRAL, dihedral, pad_to_size
from restore.io.images import to_float
from restore.options import check_number


class AlignedCrops(Dataset):
    """Aligned crops of tuples of ``(C, H, W)`` tensors: random crops of ``patch_size`` with one
    of the 8 flips / 90-degree rotations (global torch RNG) when ``train``, else the centre crop.
    Items are tuples of ``(C, P, P)`` tensors; ``length`` items per epoch (item ``i`` from tuple
    ``i % len(tuples)``)."""

    def __init__(
        self,
        tuples: Sequence[tuple[Tensor, ...]],
        patch_size: int,
        train: bool = True,
        length: int | None = None,
    ) -> None:
        check_number("patch_size", patch_size, 1, integer=True)
        if not tuples:
            raise ValueError("AlignedCrops needs at least one tuple of images")
        self.tuples = list(tuples)
        self.patch_size = patch_size
        self.train = train
        self.length = len(self.tuples) if length is None else length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} items")
        images = self.tuples[index % len(self.tuples)]
        height, width = images[0].shape[-2:]
        size = min(self.patch_size, height, width)
        if self.train:
            top = int(torch.randint(0, height - size + 1, ()))
            left = int(torch.randint(0, width - size + 1, ()))
            k, flip = DIHEDRAL[int(torch.randint(0, 8, ()))]
        else:
            top, left, k, flip = (height - size) // 2, (width - size) // 2, 0, False
        crops = (image[:, top : top + size, left : left + size] for image in images)
        return tuple(dihedral(crop, k, flip).contiguous() for crop in crops)


class NoisyPhotosDataModule(ImageFolderDataModule):
    """Noisy photos (no references) for adaptation: the split of :class:`ImageFolderDataModule`,
    then ``crops_per_photo`` crops of ``crop_size`` of each photo (seeded; smaller photos are
    reflect-padded), restored blind by the ``weights`` model, the noise fitted on all of them
    (written to ``fit_path`` when given) and served as aligned ``(noisy, restored, std)`` crops:
    random ``patch_size`` crops of the training photos' crops, centre ``val_patch_size`` crops of
    the validation photos'. :attr:`noise` is the fitted :class:`FittedNoise`.

    Args:
        weights: the model the adaptation starts from (a shipped model's name, an export, a
            checkpoint or a run folder).
        crop_size: side of the crops cut from each photo (a multiple of the fit's 32-px cells).
        crops_per_photo: crops per photo.
        fit_path: where to write the fitted noise (JSON), or None.
        **kwargs: :class:`ImageFolderDataModule` arguments.
    """

    def __init__(
        self,
        weights: str | Path,
        crop_size: int = 256,
        crops_per_photo: int = 4,
        fit_path: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_number("crop_size", crop_size, CELL, integer=True)
        check_number("crops_per_photo", crops_per_photo, 1, integer=True)
        if crop_size % CELL:
            raise ValueError(f"crop_size must be a multiple of {CELL}, got {crop_size}")
        self.weights = weights
        self.crop_size = crop_size
        self.crops_per_photo = crops_per_photo
        self.fit_path = None if fit_path is None else Path(fit_path)
        self.noise: FittedNoise | None = None

    def build_datasets(self) -> tuple[AlignedCrops, AlignedCrops]:
        from restore.models.weights import load_net

        train, val = super().build_datasets()
        generator = torch.Generator().manual_seed(self.split_seed)
        noisy, photo = [], []
        photos = [(dataset, i) for dataset in (train, val) for i in range(len(dataset.source))]
        for p, (dataset, i) in enumerate(photos):  # one decoded photo at a time
            for crop in self._crops(dataset.image(i), generator):
                noisy.append(crop)
                photo.append(p)
        noisy = torch.stack(noisy)
        net = load_net(self.weights)
        with torch.no_grad():
            restored = torch.cat([net.restore(chunk) for chunk in noisy.split(8)])
        photo = torch.tensor(photo)
        fit = fit_noise(noisy, restored, photo)
        if self.fit_path is not None:
            self.fit_path.parent.mkdir(parents=True, exist_ok=True)
            fit.save(self.fit_path)
        self.noise = FittedNoise(fit)
        std = noise_std(restored, self.noise.gain[photo], self.noise.floor[photo])
        rank_zero_info(
            f"{type(self).__name__}: noise fitted on {len(noisy)} crops of {int(photo.max()) + 1}"
            f" photos: {fit.rms():.2f} grey levels RMS at mid grey"
            + (f" ({self.fit_path})" if self.fit_path else "")
        )
        tuples = list(zip(noisy, restored, std, strict=True))
        split = len(train.source) * self.crops_per_photo
        return (
            AlignedCrops(tuples[:split], self.patch_size, length=max(split, self.batch_size)),
            AlignedCrops(tuples[split:], self.val_patch_size, train=False),
        )

    def _crops(self, image: np.ndarray, generator: torch.Generator) -> list[Tensor]:
        image = pad_to_size(image, self.crop_size)
        height, width = image.shape[:2]
        crops = []
        for _ in range(self.crops_per_photo):
            top = int(torch.randint(0, height - self.crop_size + 1, (), generator=generator))
            left = int(torch.randint(0, width - self.crop_size + 1, (), generator=generator))
            cut = image[top : top + self.crop_size, left : left + self.crop_size]
            crops.append(torch.from_numpy(np.array(to_float(cut))).permute(2, 0, 1))
        return crops
