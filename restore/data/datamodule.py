"""Patch datasets and Lightning data modules serving clean images.

Batches are float32 ``(B, C, P, P)`` tensors in ``[0, 1]``: random augmented ``patch_size`` crops
for training, fixed ``val_patch_size`` centre crops for validation.
"""

from __future__ import annotations

import numbers
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from lightning import LightningDataModule
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from restore.data.io import IMAGE_SUFFIXES, list_images, read_image
from restore.data.synthetic import SyntheticImages

ImageSource = Sequence[str | Path] | SyntheticImages


class PatchDataset(Dataset):
    """Square patches of the images of ``source`` as float32 ``(C, P, P)`` tensors in ``[0, 1]``.

    Training mode takes a uniformly random crop, then one of the 8 flips / 90-degree rotations, all
    drawn from the global torch RNG (seeded per worker by the DataLoader, reproducibly under
    ``seed_everything(workers=True)``). Evaluation mode takes the centre crop. Images smaller than
    the patch are reflect-padded on both sides first.

    Args:
        source: image file paths (decoded with :func:`read_image` on every access) or synthetic
            images.
        patch_size: patch side in pixels.
        train: random crop and augmentation if true, centre crop otherwise.
        channels: 1 (luma) or 3 (RGB); must equal ``source.channels`` for synthetic images.
        length: items per epoch; item ``i`` comes from image ``i % len(source)``. Default: one item
            per image.
    """

    def __init__(
        self,
        source: ImageSource,
        patch_size: int,
        train: bool = True,
        channels: int = 3,
        length: int | None = None,
    ) -> None:
        _check_int("patch_size", patch_size)
        _check_channels(channels)
        if len(source) == 0:
            raise ValueError("PatchDataset needs at least one image")
        if isinstance(source, SyntheticImages) and source.channels != channels:
            raise ValueError(f"source has {source.channels} channels, expected {channels}")
        self.source = source
        self.patch_size = patch_size
        self.train = train
        self.channels = channels
        if length is not None:
            _check_int("length", length)
        self.length = len(source) if length is None else length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Tensor:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} items")
        image = _pad_to(self._load(index % len(self.source)), self.patch_size)
        height, width = image.shape[:2]
        size = self.patch_size
        if self.train:
            top = int(torch.randint(0, height - size + 1, ()))
            left = int(torch.randint(0, width - size + 1, ()))
        else:
            top, left = (height - size) // 2, (width - size) // 2
        patch = image[top : top + size, left : left + size]
        if self.train:
            transform = int(torch.randint(0, 8, ()))
            patch = np.rot90(patch[:, ::-1] if transform >= 4 else patch, transform % 4)
        return torch.from_numpy(patch.transpose(2, 0, 1).copy())

    def _load(self, index: int) -> np.ndarray:
        if isinstance(self.source, SyntheticImages):
            return self.source.image(index)
        return read_image(self.source[index], self.channels)


class RestorationDataModule(LightningDataModule, ABC):
    """Base data module: shuffled training patches and fixed validation crops.

    Subclasses implement :meth:`build_datasets`, which :meth:`setup` calls once. An epoch always
    holds at least one full training batch: with fewer training images than ``batch_size`` the
    images are reused, each time with a new random crop.

    Args:
        patch_size: training patch side in pixels.
        val_patch_size: validation crop side in pixels.
        batch_size: training batch size.
        val_batch_size: validation batch size.
        num_workers: DataLoader worker processes (0 loads in the main process).
        channels: 1 (luma) or 3 (RGB).
        pin_memory: pin batches in page-locked memory for faster host-to-GPU copies.
    """

    def __init__(
        self,
        patch_size: int = 128,
        val_patch_size: int = 256,
        batch_size: int = 16,
        val_batch_size: int = 8,
        num_workers: int = 2,
        channels: int = 3,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (
            ("patch_size", patch_size),
            ("val_patch_size", val_patch_size),
            ("batch_size", batch_size),
            ("val_batch_size", val_batch_size),
        ):
            _check_int(name, value)
        _check_int("num_workers", num_workers, minimum=0)
        _check_channels(channels)
        self.patch_size = patch_size
        self.val_patch_size = val_patch_size
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size
        self.num_workers = num_workers
        self.channels = channels
        self.pin_memory = pin_memory
        self.data_train: PatchDataset | None = None
        self.data_val: PatchDataset | None = None

    @abstractmethod
    def build_datasets(self) -> tuple[PatchDataset, PatchDataset]:
        """Training and validation datasets."""

    def setup(self, stage: str | None = None) -> None:
        if self.data_train is None:
            self.data_train, self.data_val = self.build_datasets()

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.data_train, self.batch_size, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.data_val, self.val_batch_size, train=False)

    def _train_set(self, source: ImageSource) -> PatchDataset:
        return PatchDataset(
            source,
            self.patch_size,
            train=True,
            channels=self.channels,
            length=max(len(source), self.batch_size),
        )

    def _val_set(self, source: ImageSource) -> PatchDataset:
        return PatchDataset(source, self.val_patch_size, train=False, channels=self.channels)

    def _loader(self, dataset: PatchDataset | None, batch_size: int, train: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"call {type(self).__name__}.setup() before requesting data loaders")
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=train,
            drop_last=train,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )


class ImageFolderDataModule(RestorationDataModule):
    """Images found recursively under a folder, any of :data:`IMAGE_SUFFIXES`.

    :meth:`setup` decodes every file once (in threads) and drops unreadable ones with a single
    warning. Validation images come from ``val_root`` if given (files under both folders are
    removed from training), else from a seeded random ``val_fraction`` of ``root``; either way at
    most ``max_val_images`` of them, never shared with training. A folder with a single image uses
    it for both, with a warning.

    Args:
        root: training image folder.
        val_root: optional separate validation image folder.
        val_fraction: share of ``root`` held out for validation without ``val_root``, in (0, 1);
            at least one image.
        max_val_images: cap on the number of validation images.
        split_seed: seed of the validation split and of the ``max_val_images`` subset.
        **kwargs: :class:`RestorationDataModule` arguments.
    """

    def __init__(
        self,
        root: str | Path,
        val_root: str | Path | None = None,
        val_fraction: float = 0.05,
        max_val_images: int = 32,
        split_seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        _check_int("max_val_images", max_val_images)
        self.root = Path(root)
        self.val_root = None if val_root is None else Path(val_root)
        self.val_fraction = val_fraction
        self.max_val_images = max_val_images
        self.split_seed = split_seed

    def build_datasets(self) -> tuple[PatchDataset, PatchDataset]:
        files = self._readable_images(self.root)
        if self.val_root is not None:
            val_files = self._readable_images(self.val_root)
            val_files = _split(val_files, self.max_val_images, self.split_seed)[1]
            held_out = {path.resolve() for path in val_files}
            train_files = [path for path in files if path.resolve() not in held_out]
            if not train_files:
                raise ValueError(
                    f"no training images left in {self.root}: all are validation images"
                    f" from {self.val_root}"
                )
        elif len(files) == 1:
            rank_zero_warn(
                f"only 1 readable image in {self.root}: using it for training and validation"
            )
            train_files = val_files = files
        else:
            count = max(1, round(self.val_fraction * len(files)))
            count = min(count, self.max_val_images, len(files) - 1)
            train_files, val_files = _split(files, count, self.split_seed)
        rank_zero_info(
            f"{type(self).__name__}: {len(train_files)} training and {len(val_files)} validation"
            f" images"
        )
        return self._train_set(train_files), self._val_set(val_files)

    def _readable_images(self, folder: Path) -> list[Path]:
        """Decodable images under ``folder``; warns once about the others."""
        if not folder.is_dir():
            raise FileNotFoundError(f"image folder not found: {folder}")
        files = list_images(folder)
        if not files:
            raise ValueError(
                f"no images found in {folder} (searched recursively for"
                f" {', '.join(IMAGE_SUFFIXES)})"
            )
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            decodes = list(pool.map(self._decodes, files))
        readable = [path for path, ok in zip(files, decodes) if ok]
        skipped = [str(path.relative_to(folder)) for path, ok in zip(files, decodes) if not ok]
        if not readable:
            raise ValueError(f"none of the {len(files)} image files in {folder} can be decoded")
        if skipped:
            rank_zero_warn(
                f"skipped {len(skipped)} unreadable image{'s' if len(skipped) > 1 else ''}"
                f" in {folder}: {', '.join(skipped)}"
            )
        return readable

    def _decodes(self, path: Path) -> bool:
        try:
            read_image(path, self.channels)
        except (ValueError, cv2.error):
            return False
        return True


class SyntheticDataModule(RestorationDataModule):
    """Procedural images from :func:`synthetic_image`.

    Training uses image numbers ``0 .. num_train - 1``, validation the next ``num_val``.

    Args:
        num_train: number of training images.
        num_val: number of validation images.
        image_size: side of the generated images in pixels.
        seed: seed of the image family.
        cache: draw all images once in :meth:`setup` (about 4 s and 160 MB at the defaults) instead
            of on every access (about 10 ms per image, slower than a GPU consumes them).
        **kwargs: :class:`RestorationDataModule` arguments.
    """

    def __init__(
        self,
        num_train: int = 512,
        num_val: int = 16,
        image_size: int = 160,
        seed: int = 0,
        cache: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_int("num_train", num_train)
        _check_int("num_val", num_val)
        _check_int("image_size", image_size)
        _check_int("seed", seed, minimum=0)
        self.num_train = num_train
        self.num_val = num_val
        self.image_size = image_size
        self.seed = seed
        self.cache = cache

    def build_datasets(self) -> tuple[PatchDataset, PatchDataset]:
        images = {"size": self.image_size, "channels": self.channels, "seed": self.seed}
        train = SyntheticImages(self.num_train, **images, cache=self.cache)
        val = SyntheticImages(self.num_val, **images, start=self.num_train, cache=self.cache)
        return self._train_set(train), self._val_set(val)


def _pad_to(image: np.ndarray, size: int) -> np.ndarray:
    """Reflect-pad an ``(H, W, C)`` image on both sides so that H and W are at least ``size``."""
    pad_h, pad_w = max(0, size - image.shape[0]), max(0, size - image.shape[1])
    if not pad_h and not pad_w:
        return image
    pad = ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0))
    return np.pad(image, pad, mode="reflect")


def _split(files: list[Path], count: int, seed: int) -> tuple[list[Path], list[Path]]:
    """Seeded random split into ``(rest, chosen)`` with ``min(count, len(files))`` chosen."""
    chosen = set(np.random.default_rng(seed).permutation(len(files))[:count].tolist())
    rest = [path for index, path in enumerate(files) if index not in chosen]
    return rest, [path for index, path in enumerate(files) if index in chosen]


def _check_int(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        requirement = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {requirement}, got {value!r}")


def _check_channels(channels: int) -> None:
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (luma) or 3 (RGB), got {channels!r}")
