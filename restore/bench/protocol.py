"""The benchmark's protocol: which images, which noise and holes, which metrics.

Denoising: one standard-normal field per image from ``numpy.random.default_rng(seed + index)``,
scaled by sigma/255 and added to the clean 8-bit image in float64. Two inputs per sigma:
**float**, the noisy float image as is, not clipped (the protocol of the published tables), and
**uint8**, ``round(clip(x + n))``, as in a real noisy photo.
Real noise: the noisy/clean pairs of :data:`REAL_SETS` (8-bit photos of real camera noise; the
clean image is the mean of many shots, for RENOIR the rounded mean of its two low-ISO shots), given
as they are; "told the true sigma" is the RMS of noisy - clean on the 0-255 scale.
Inpainting: LaMa thin/medium/thick masks from ``IrregularMasks(preset)`` seeded with
``torch.Generator().manual_seed(seed + index)``, at the image size; hole pixels set to 0.
Metrics against the clean 8-bit image on the 0-255 scale, after clipping the method's output to
[0, 255] (float outputs are not rounded): PSNR, SSIM (:mod:`restore.metrics`: kornia, 11x11
Gaussian window, sigma 1.5, valid region, mean over channels), and for inpainting the PSNR inside
the holes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from restore import metrics


@dataclass(frozen=True)
class RealSet:
    """A set of real noisy/clean pairs: its folder under the data dir, how the files end (several
    clean suffixes: their mean is the target), which pairs (None: all), and its role in the
    split: ``test`` (never used for a choice) or ``validation``.

    Attributes:
        folder: the set's folder, relative to the data dir (:func:`data_dir`).
        noisy_suffix: how a noisy file's name ends before the extension (``<stem><suffix>.<ext>``).
        clean_suffix: the same for the clean file; a tuple of suffixes: the mean of those shots.
        role: ``test`` or ``validation``.
        names: the stems of the pairs to use; None: all in the folder.
    """

    folder: str
    noisy_suffix: str
    clean_suffix: str | tuple[str, ...]
    role: str
    names: tuple[str, ...] | None = None


# The real pair sets, by name. RENOIR-val: the four RENOIR_T3i triplets held out of training
# (conf/experiment/photo_v2.yaml), strong low-light noise of one camera.
REAL_SETS = {
    "CC15": RealSet("real/CC15", "_real", "_mean", "test"),
    "Nam25": RealSet("real/Nam25", "_noise", "_gt", "validation"),
    "RENOIR-val": RealSet(
        "real/RENOIR_T3i",
        "_noisy",
        ("_clean", "_reference"),
        "validation",
        ("03", "04", "11", "15"),
    ),
}
SSIM_NAME = "kornia.metrics.ssim, 11x11 Gaussian window (sigma 1.5), valid region, channel mean"


# --------------------------------------------------------------------------------------------------
# images


@dataclass
class Sample:
    """A clean test image.

    Attributes:
        name: the file's stem.
        clean: uint8 ``(H, W, C)``, C = 1 (gray) or 3 (RGB).
    """

    name: str
    clean: np.ndarray

    @property
    def megapixels(self) -> float:
        return self.clean.shape[0] * self.clean.shape[1] / 1e6


def default_images_dir() -> Path:
    """``CBSD68`` in :func:`data_dir`."""
    return data_dir() / "CBSD68"


@dataclass
class RealPair:
    """A real noisy photo and its clean reference.

    Attributes:
        name: the pair's stem.
        noisy: uint8 ``(H, W, 3)``.
        clean: uint8 ``(H, W, 3)``, the mean of many shots (or of the set's low-ISO shots).
    """

    name: str
    noisy: np.ndarray
    clean: np.ndarray

    @property
    def megapixels(self) -> float:
        return self.clean.shape[0] * self.clean.shape[1] / 1e6

    @property
    def sigma(self) -> float:
        """The RMS of noisy - clean, 0-255 scale: the "true sigma" of a real pair."""
        return float(np.sqrt(np.mean((self.noisy.astype(np.float64) - self.clean) ** 2)))


def data_dir() -> Path:
    """``$RESTORE_DATA_DIR`` when set, else ``../shared/data`` (from the current folder, as in
    training's ``paths.data_dir``)."""
    return Path(os.environ.get("RESTORE_DATA_DIR", "../shared/data"))


def load_real_pairs(
    root: str | Path, real_set: RealSet, max_images: int | None = None
) -> list[RealPair]:
    """The first ``max_images`` noisy/clean pairs of ``real_set`` under the data folder ``root``
    (paired as in training's validation: :class:`restore.data.PairedImages`), sorted by name, as
    8-bit images (a mean of several clean shots is rounded)."""
    from restore.data import PairedImages

    clean = real_set.clean_suffix
    pairs = PairedImages(
        Path(root) / real_set.folder,
        real_set.noisy_suffix,
        clean if isinstance(clean, str) else list(clean),
        real_set.folder,
        names=real_set.names,
    )
    found = [
        RealPair(name, noisy, _as_uint8(target))
        for name, (noisy, target) in zip(pairs.stems, pairs.pairs, strict=True)
    ]
    return found[:max_images] if max_images is not None else found


def _as_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


def load_images(folder: str | Path, max_images: int | None = None) -> list[Sample]:
    """The first ``max_images`` images under ``folder`` (sorted) as 8-bit arrays.

    Images whose three channels are equal are kept as one gray channel.
    """
    from restore.io import list_images, read_image

    folder = Path(folder)
    paths = list_images(folder)
    if not paths:
        raise FileNotFoundError(f"{folder}: no images found")
    if max_images is not None:
        paths = paths[:max_images]
    samples = []
    for path in paths:
        rgb = np.round(read_image(path, 3).astype(np.float64) * 255).astype(np.uint8)
        gray = np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])
        samples.append(
            Sample(path.relative_to(folder).as_posix(), rgb[..., :1].copy() if gray else rgb)
        )
    return samples


# --------------------------------------------------------------------------------------------------
# noise and holes


def noisy_pair(
    sample: Sample, index: int, sigma: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(float64 noisy image on the 0-1 scale, not clipped; its round(clip()) uint8 version)."""
    z = np.random.default_rng(seed + index).standard_normal(sample.clean.shape)
    noisy = sample.clean / 255.0 + (sigma / 255.0) * z
    return noisy, np.round(np.clip(noisy * 255.0, 0, 255)).astype(np.uint8)


def hole_mask(sample: Sample, index: int, preset: str, seed: int) -> np.ndarray:
    """Boolean (H, W) LaMa ``preset`` mask (True = hole) for image ``index``."""
    from restore.corruption import IrregularMasks

    h, w = sample.clean.shape[:2]
    generator = torch.Generator().manual_seed(seed + index)
    return IrregularMasks(preset)(torch.zeros(1, 1, h, w), generator=generator)[0, 0].numpy() > 0.5


# --------------------------------------------------------------------------------------------------
# metrics


def as_255(image: np.ndarray, shape: tuple[int, ...], clip: bool = True) -> np.ndarray:
    """``image`` (uint8, or float on the 0-1 scale) as float64 on the 0-255 scale, reshaped to
    ``shape`` (e.g. the clean image's ``(H, W, C)``) and clipped to [0, 255] unless ``clip`` is
    False: how every method's output is scored."""
    out = image.astype(np.float64) if image.dtype == np.uint8 else image.astype(np.float64) * 255.0
    out = out.reshape(shape)
    return np.clip(out, 0.0, 255.0) if clip else out


def rgb_tensor(image: np.ndarray) -> torch.Tensor:
    """``(1, 3, H, W)`` float32 on the 0-1 scale from an 8-bit or 0-1 float ``(H, W[, C])``."""
    x = torch.from_numpy(np.asarray(image, np.float32))
    x = x / 255.0 if image.dtype == np.uint8 else x
    x = x[..., None] if x.dim() == 2 else x
    x = x.permute(2, 0, 1)[None]
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def float64_batch(image: np.ndarray) -> torch.Tensor:
    """``(1, C, H, W)`` float64 of an ``(H, W[, C])`` image, values as they are (no rescaling):
    what the protocol's metrics take."""
    hwc = image if image.ndim == 3 else image[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(hwc, dtype=np.float64)).permute(2, 0, 1)[None]


def psnr(result: np.ndarray, clean: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB on the 0-255 scale (both 0-255); only inside ``mask`` (H, W) if given."""
    holes = None if mask is None else torch.from_numpy(np.asarray(mask))[None, None]
    return float(metrics.psnr(float64_batch(result), float64_batch(clean), 255.0, holes)[0])


def ssim(result: np.ndarray, clean: np.ndarray) -> float:
    """Mean SSIM (see ``SSIM_NAME``) of two (H, W, C) images on the 0-255 scale."""
    with torch.no_grad():
        return float(
            metrics.ssim(float64_batch(result), float64_batch(clean), 255.0, padding="valid")[0]
        )
