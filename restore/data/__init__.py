"""Clean training images: procedural images, patch datasets and data modules (files are read by
:mod:`restore.io`).

Images are float32 in ``[0, 1]``: ``(H, W, C)`` NumPy arrays from readers and generators,
``(C, H, W)`` tensors from datasets, ``(B, C, P, P)`` batches from data modules.
"""

from restore.data.datamodule import (
    DecodedImages,
    ImageFolderDataModule,
    PairedImages,
    PairedPatches,
    PatchDataset,
    RestorationDataModule,
    SyntheticDataModule,
)
from restore.data.synthetic import SyntheticImages, synthetic_image

__all__ = [
    "DecodedImages",
    "ImageFolderDataModule",
    "PairedImages",
    "PairedPatches",
    "PatchDataset",
    "RestorationDataModule",
    "SyntheticDataModule",
    "SyntheticImages",
    "synthetic_image",
]
