"""Lightning data modules serving clean images (and real noisy pairs), from the datasets of
:mod:`restore.data.datasets`.

Batches are float32 ``(B, C, P, P)`` tensors in ``[0, 1]``: random augmented ``patch_size`` crops
for training, fixed ``val_patch_size`` centre crops for validation. Real noisy/clean pairs for
validation (:class:`PairedImages`) come as dicts ``{"name", "noisy", "clean"}``, one whole image
per batch.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from lightning import LightningDataModule
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch.utils.data import DataLoader, Dataset

from restore.data.datasets import (
    DecodedImages,
    ImageSource,
    PairedImages,
    PairedPatches,
    PatchDataset,
    check_channels,
)
from restore.data.synthetic import SyntheticImages
from restore.io.images import decode_image
from restore.io.listing import IMAGE_SUFFIXES, list_images
from restore.options import check_number


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
        real_val: real noisy/clean pairs validated beside the synthetic tasks, by name:
            ``{name: {"root": folder, "noisy_suffix": ..., "clean_suffix": ..., "names": ...,
            "exclude": ...}}`` (:class:`PairedImages`); one image per batch.
        real_train: real noisy/clean pairs trained on, in the same form (:class:`PairedPatches`
            crops of them). Training batches are then ``{"synthetic": (B - R, C, P, P) clean
            crops, "real": ((R, C, P, P) noisy, (R, C, P, P) clean)}`` with ``R =
            real_batch_size``; without, plain ``(B, C, P, P)`` clean crops.
        real_batch_size: real crops in each training batch of ``batch_size`` (< ``batch_size``).
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
        real_val: Mapping[str, Mapping[str, Any]] | None = None,
        real_train: Mapping[str, Mapping[str, Any]] | None = None,
        real_batch_size: int = 4,
    ) -> None:
        super().__init__()
        for name, value in (
            ("patch_size", patch_size),
            ("val_patch_size", val_patch_size),
            ("batch_size", batch_size),
            ("val_batch_size", val_batch_size),
        ):
            check_number(name, value, 1, integer=True)
        check_number("num_workers", num_workers, 0, integer=True)
        check_channels(channels)
        if real_train:
            check_number("real_batch_size", real_batch_size, 1, integer=True)
            if real_batch_size >= batch_size:
                raise ValueError(
                    f"real_batch_size ({real_batch_size}) must be below batch_size ({batch_size})"
                )
        self.patch_size = patch_size
        self.val_patch_size = val_patch_size
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size
        self.num_workers = num_workers
        self.channels = channels
        self.pin_memory = pin_memory
        self.real_val = {name: dict(spec) for name, spec in (real_val or {}).items()}
        self.real_train = {name: dict(spec) for name, spec in (real_train or {}).items()}
        self.real_batch_size = real_batch_size if self.real_train else 0
        self.data_train: PatchDataset | None = None
        self.data_val: PatchDataset | None = None
        self.data_real: list[PairedImages] = []
        self.data_real_train: PairedPatches | None = None

    @abstractmethod
    def build_datasets(self) -> tuple[PatchDataset, PatchDataset]:
        """Training and validation datasets."""

    def setup(self, stage: str | None = None) -> None:
        if self.data_train is None:
            self.data_train, self.data_val = self.build_datasets()
            self.data_real = [
                PairedImages(name=name, channels=self.channels, **spec)
                for name, spec in self.real_val.items()
            ]
            for pairs in self.data_real:
                rank_zero_info(
                    f"{type(self).__name__}: {len(pairs)} real noisy/clean pairs ({pairs.name})"
                )
            if self.real_train:
                sets = [
                    PairedImages(name=name, channels=self.channels, **spec)
                    for name, spec in self.real_train.items()
                ]
                pairs = sets[0]
                for other in sets[1:]:
                    pairs.pairs += other.pairs
                    pairs.stems += other.stems
                rank_zero_info(
                    f"{type(self).__name__}: training on {len(pairs)} real noisy/clean pairs"
                    f" ({', '.join(self.real_train)}), {self.real_batch_size} crops a batch"
                )
                self.data_real_train = PairedPatches(
                    pairs, self.patch_size, length=max(len(pairs), self.real_batch_size)
                )

    def train_dataloader(self) -> DataLoader | dict[str, DataLoader]:
        """Clean crops; with ``real_train``, a dict of loaders that Lightning cycles together
        (its ``max_size_cycle``: the real pairs repeat, each time with new crops)."""
        synthetic = self._loader(
            self.data_train, self.batch_size - self.real_batch_size, train=True
        )
        if self.data_real_train is None:
            return synthetic
        real = self._loader(self.data_real_train, self.real_batch_size, train=True)
        return {"synthetic": synthetic, "real": real}

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        synthetic = self._loader(self.data_val, self.val_batch_size, train=False)
        if not self.data_real:
            return synthetic
        return [synthetic, *(DataLoader(pairs, batch_size=1) for pairs in self.data_real)]

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

    def _loader(self, dataset: Dataset | None, batch_size: int, train: bool) -> DataLoader:
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
    """Images found recursively under one or more folders, any of :data:`IMAGE_SUFFIXES`.

    :meth:`setup` decodes every file once (in threads), keeps them in memory when ``cache`` is
    true, and drops unreadable ones with a single warning. Validation images come from
    ``val_root`` if given (files under both folders are removed from training), else from a seeded
    random ``val_fraction`` of each folder of ``root``; either way at most ``max_val_images`` of
    them per folder, never shared with training. A folder with a single image uses it for both,
    with a warning.

    Args:
        root: training image folder, or a list of them.
        val_root: optional separate validation image folder.
        val_fraction: share of each ``root`` folder held out for validation without ``val_root``,
            in (0, 1); at least one image per folder.
        max_val_images: cap on the number of validation images per folder.
        split_seed: seed of the validation split and of the ``max_val_images`` subset.
        cache: keep the decoded training and validation images in memory (uint8: about 3 bytes a
            pixel) instead of decoding a file for every patch.
        **kwargs: :class:`RestorationDataModule` arguments.
    """

    def __init__(
        self,
        root: str | Path | Sequence[str | Path],
        val_root: str | Path | None = None,
        val_fraction: float = 0.05,
        max_val_images: int = 32,
        split_seed: int = 0,
        cache: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        check_number("max_val_images", max_val_images, 1, integer=True)
        roots = [root] if isinstance(root, (str, Path)) else list(root)
        if not roots:
            raise ValueError("root needs at least one folder")
        self.roots = [Path(r) for r in roots]
        self.val_root = None if val_root is None else Path(val_root)
        self.val_fraction = val_fraction
        self.max_val_images = max_val_images
        self.split_seed = split_seed
        self.cache = cache
        self.train_files: list[Path] = []
        self.val_files: list[Path] = []
        self._decoded: dict[Path, np.ndarray] = {}

    def build_datasets(self) -> tuple[PatchDataset, PatchDataset]:
        train_files: list[Path] = []
        val_files: list[Path] = []
        if self.val_root is not None:
            val_files = _split(
                self._readable_images(self.val_root), self.max_val_images, self.split_seed
            )[1]
            held_out = {path.resolve() for path in val_files}
        for root in self.roots:
            files = self._readable_images(root)
            if self.val_root is not None:
                train_files += [path for path in files if path.resolve() not in held_out]
            elif len(files) == 1:
                rank_zero_warn(
                    f"only 1 readable image in {root}: using it for training and validation"
                )
                train_files += files
                val_files += files
            else:
                count = max(1, round(self.val_fraction * len(files)))
                count = min(count, self.max_val_images, len(files) - 1)
                rest, chosen = _split(files, count, self.split_seed)
                train_files += rest
                val_files += chosen
        if not train_files:
            raise ValueError(
                f"no training images left in {', '.join(map(str, self.roots))}: all are validation"
                f" images from {self.val_root}"
            )
        rank_zero_info(
            f"{type(self).__name__}: {len(train_files)} training and {len(val_files)} validation"
            f" images"
        )
        self.train_files, self.val_files = train_files, val_files
        train, val = (self._source(files) for files in (train_files, val_files))
        self._decoded = {}
        return self._train_set(train), self._val_set(val)

    def _source(self, files: list[Path]) -> ImageSource:
        return DecodedImages([self._decoded[path] for path in files]) if self.cache else files

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
            decoded = list(pool.map(self._decode, files))
        readable = [path for path, image in zip(files, decoded, strict=False) if image is not None]
        skipped = [
            str(path.relative_to(folder))
            for path, image in zip(files, decoded, strict=True)
            if image is None
        ]
        if not readable:
            raise ValueError(f"none of the {len(files)} image files in {folder} can be decoded")
        if skipped:
            rank_zero_warn(
                f"skipped {len(skipped)} unreadable image{'s' if len(skipped) > 1 else ''}"
                f" in {folder}: {', '.join(skipped)}"
            )
        if self.cache:
            self._decoded.update(
                (p, image) for p, image in zip(files, decoded, strict=False) if image is not None
            )
        return readable

    def _decode(self, path: Path) -> np.ndarray | None:
        try:
            image = decode_image(path, self.channels)
        except (ValueError, cv2.error):
            return None
        return image if self.cache else np.empty(0)


class SyntheticDataModule(RestorationDataModule):
    """Procedural images from :func:`synthetic_image`.

    Training uses image numbers ``0 .. num_train - 1``, validation the next ``num_val``.

    Args:
        num_train: number of training images.
        num_val: number of validation images.
        image_size: side of the generated images in pixels.
        seed: seed of the image family.
        cache: draw all images once in :meth:`setup` (``num * size^2 * channels * 4`` bytes)
            instead of on every access.
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
        check_number("num_train", num_train, 1, integer=True)
        check_number("num_val", num_val, 1, integer=True)
        check_number("image_size", image_size, 1, integer=True)
        check_number("seed", seed, 0, integer=True)
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


def _split(files: list[Path], count: int, seed: int) -> tuple[list[Path], list[Path]]:
    """Seeded random split into ``(rest, chosen)`` with ``min(count, len(files))`` chosen."""
    chosen = set(np.random.default_rng(seed).permutation(len(files))[:count].tolist())
    rest = [path for index, path in enumerate(files) if index not in chosen]
    return rest, [path for index, path in enumerate(files) if index in chosen]
