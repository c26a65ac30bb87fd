"""Torch datasets of training images: square patches of clean images (:class:`PatchDataset`, from
image files, images decoded in memory (:class:`DecodedImages`) or synthetic images) and real
noisy/clean pairs (:class:`PairedImages`, whole images for validation; :class:`PairedPatches`,
aligned crops of them for training).

Items are float32 tensors in ``[0, 1]``: ``(C, P, P)`` patches, ``(C, H, W)`` whole images.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from restore.data.synthetic import SyntheticImages
from restore.geometry import DIHEDRAL, dihedral, pad_to_size
from restore.io.images import decode_image, read_image, to_float
from restore.io.listing import IMAGE_SUFFIXES, list_images
from restore.options import check_number


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
        check_number("patch_size", patch_size, 1, integer=True)
        check_channels(channels)
        if len(source) == 0:
            raise ValueError("PatchDataset needs at least one image")
        if hasattr(source, "channels") and source.channels != channels:
            raise ValueError(f"source has {source.channels} channels, expected {channels}")
        self.source = source
        self.patch_size = patch_size
        self.train = train
        self.channels = channels
        check_number("length", length, 1, integer=True, optional=True)
        self.length = len(source) if length is None else length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Tensor:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} items")
        image = pad_to_size(self.image(index % len(self.source)), self.patch_size)
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

    def image(self, index: int) -> np.ndarray:
        """Image ``index`` of ``source``, decoded: an ``(H, W, C)`` array (uint8, uint16 or
        float32 in ``[0, 1]``)."""
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
        check_channels(channels)
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
        check_number("patch_size", patch_size, 1, integer=True)
        self.pairs = pairs
        self.patch_size = patch_size
        check_number("length", length, 1, integer=True, optional=True)
        self.length = len(pairs) if length is None else length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} items")
        noisy, clean = (
            pad_to_size(a, self.patch_size) for a in self.pairs.pairs[index % len(self.pairs)]
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


def check_channels(channels: int) -> None:
    """``channels`` must be 1 (luma) or 3 (RGB)."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (luma) or 3 (RGB), got {channels!r}")
