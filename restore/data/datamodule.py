"""Patch datasets and Lightning data modules serving clean images (and real noisy pairs).

Batches are float32 ``(B, C, P, P)`` tensors in ``[0, 1]``: random augmented ``patch_size`` crops
for training, fixed ``val_patch_size`` centre crops for validation. Real noisy/clean pairs for
validation (:class:`PairedImages`) come as dicts ``{"name", "noisy", "clean"}``, one whole image
per batch.
"""

from __future__ import annotations

import numbers
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
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

from restore.data.synthetic import SyntheticImages
from restore.geometry import DIHEDRAL, dihedral
from restore.io.images import decode_image, read_image, to_float
from restore.io.listing import IMAGE_SUFFIXES, list_images


class DecodedImages:
    """Images decoded once and kept in memory at their own bit depth (``(H, W, C)`` arrays).

    Args:
        images: the decoded images, ``(H, W, C)`` uint8, uint16 or float32 arrays (as
            :func:`restore.io.images.decode_image` gives them, C = the dataset's channels);
            patches are converted to float32 as they are cut.
    """

    def __init__(self, images: Sequence[np.ndarray]) -> None:
        self.images = list(images)

    def __len__(self) -> int:
        return len(self.images)

    def image(self, index: int) -> np.ndarray:
        return self.images[index]


ImageSource = Sequence[str | Path] | SyntheticImages | DecodedImages


class PatchDataset(Dataset):
    """Square patches of the images of ``source`` as float32 ``(C, P, P)`` tensors in ``[0, 1]``.

    Training mode takes a uniformly random crop, then one of the 8 flips / 90-degree rotations, all
    drawn from the global torch RNG (seeded per worker by the DataLoader, reproducibly under
    ``seed_everything(workers=True)``). Evaluation mode takes the centre crop. Images smaller than
    the patch are reflect-padded on both sides first.

    Args:
        source: image file paths (decoded with :func:`read_image` on every access), images decoded
            in memory or synthetic images.
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
        if hasattr(source, "channels") and source.channels != channels:
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
        crop = to_float(image[top : top + size, left : left + size])
        patch = torch.from_numpy(np.array(crop)).permute(
            2, 0, 1
        )  # a copy: the cache is not written
        if self.train:
            patch = dihedral(patch, *DIHEDRAL[int(torch.randint(0, 8, ()))])
        return patch.contiguous()

    def _load(self, index: int) -> np.ndarray:
        if hasattr(self.source, "image"):
            return self.source.image(index)
        return read_image(self.source[index], self.channels)


class PairedImages(Dataset):
    """Real noisy/clean pairs of one folder: ``<stem><noisy_suffix>.<ext>`` with
    ``<stem><clean_suffix>.<ext>`` (e.g. Nam25's ``x_noise.png`` / ``x_gt.png``).

    The clean image may be the mean of several shots (RENOIR's two low-ISO shots):
    ``clean_suffix=["_clean", "_reference"]``. ``names``/``exclude`` choose pairs by stem, so one
    folder can give training pairs and held-out validation pairs.

    Items are ``{"name": name, "noisy": (C, H, W), "clean": (C, H, W)}`` float32 tensors in
    ``[0, 1]``, decoded once in memory.

    Args:
        root: the folder.
        noisy_suffix, clean_suffix: how the files of a pair end, before the extension; a list of
            clean suffixes averages those shots.
        name: the name of the set (validation metrics are logged under it).
        channels: 1 (luma) or 3 (RGB).
        names: only these stems (None: all).
        exclude: never these stems.
    """

    def __init__(
        self,
        root: str | Path,
        noisy_suffix: str,
        clean_suffix: str | Sequence[str],
        name: str,
        channels: int = 3,
        names: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
    ) -> None:
        _check_channels(channels)
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"paired image folder not found: {root}")
        suffixes = [clean_suffix] if isinstance(clean_suffix, str) else list(clean_suffix)
        if not suffixes:
            raise ValueError("clean_suffix needs at least one suffix")
        wanted = None if names is None else {str(n) for n in names}
        excluded = {str(n) for n in exclude}
        self.name = name
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []  # (noisy, clean), decoded
        self.clean_paths: list[Path] = []
        self.stems: list[str] = []
        for clean_path in list_images(root):
            if not clean_path.stem.endswith(suffixes[0]):
                continue
            stem = clean_path.stem[: len(clean_path.stem) - len(suffixes[0])]
            if stem in excluded or (wanted is not None and stem not in wanted):
                continue
            noisy_path = _partner(clean_path, stem, noisy_suffix)
            noisy = decode_image(noisy_path, channels)
            shots = [decode_image(clean_path, channels)] + [
                decode_image(_partner(clean_path, stem, s), channels) for s in suffixes[1:]
            ]
            for shot in shots:
                if shot.shape != noisy.shape:
                    raise ValueError(
                        f"{noisy_path}: size {noisy.shape} differs from its clean image's "
                        f"{shot.shape}"
                    )
            clean = shots[0] if len(shots) == 1 else _mean_image(shots)
            self.pairs.append((noisy, clean))
            self.clean_paths.append(clean_path)
            self.stems.append(stem)
        if wanted is not None and wanted - set(self.stems):
            raise ValueError(f"{root}: no pairs named {sorted(wanted - set(self.stems))}")
        if not self.pairs:
            raise ValueError(
                f"no noisy/clean pairs (*{noisy_suffix}.* with *{suffixes[0]}.*) in {root}"
            )

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        noisy, clean = (
            torch.from_numpy(to_float(a).transpose(2, 0, 1).copy()) for a in self.pairs[index]
        )
        return {"name": self.name, "noisy": noisy, "clean": clean}


class PairedPatches(Dataset):
    """Random aligned crops of real noisy/clean pairs for training: items are ``(noisy, clean)``
    float32 ``(C, P, P)`` tensors in ``[0, 1]``, the same crop and the same one of the 8 flips /
    90-degree rotations of both (drawn from the global torch RNG, as :class:`PatchDataset`).

    Args:
        pairs: the pairs.
        patch_size: patch side in pixels (the pairs are reflect-padded when smaller).
        length: items per epoch; item ``i`` comes from pair ``i % len(pairs)``.
    """

    def __init__(self, pairs: PairedImages, patch_size: int, length: int | None = None) -> None:
        _check_int("patch_size", patch_size)
        self.pairs = pairs
        self.patch_size = patch_size
        if length is not None:
            _check_int("length", length)
        self.length = len(pairs) if length is None else length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} items")
        noisy, clean = (
            _pad_to(a, self.patch_size) for a in self.pairs.pairs[index % len(self.pairs)]
        )
        size = self.patch_size
        top = int(torch.randint(0, noisy.shape[0] - size + 1, ()))
        left = int(torch.randint(0, noisy.shape[1] - size + 1, ()))
        k, flip = DIHEDRAL[int(torch.randint(0, 8, ()))]
        crops = (
            torch.from_numpy(to_float(a[top : top + size, left : left + size]).transpose(2, 0, 1))
            for a in (noisy, clean)
        )
        noisy, clean = (dihedral(c, k, flip).contiguous() for c in crops)
        return noisy, clean


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
            _check_int(name, value)
        _check_int("num_workers", num_workers, minimum=0)
        _check_channels(channels)
        if real_train:
            _check_int("real_batch_size", real_batch_size)
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
        _check_int("max_val_images", max_val_images)
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


def _partner(clean_path: Path, stem: str, suffix: str) -> Path:
    """The one image file ``<stem><suffix>.*`` beside ``clean_path``."""
    found = [
        p for p in clean_path.parent.glob(f"{stem}{suffix}.*") if p.suffix.lower() in IMAGE_SUFFIXES
    ]
    if len(found) != 1:
        raise ValueError(f"{clean_path}: expected one image {stem}{suffix}.*, found {len(found)}")
    return found[0]


def _mean_image(shots: Sequence[np.ndarray]) -> np.ndarray:
    """The mean of several shots of one scene as float32 in ``[0, 1]``."""
    return np.mean([to_float(s) for s in shots], axis=0, dtype=np.float32)


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
