"""Clean training images: procedural images (:mod:`.synthetic`), patch datasets (:mod:`.datasets`)
and data modules (:mod:`.datamodule`; :mod:`.noisy` for adaptation); files are read by
:mod:`restore.io`.

Images are float32 in ``[0, 1]``: ``(H, W, C)`` NumPy arrays from readers and generators,
``(C, H, W)`` tensors from datasets, ``(B, C, P, P)`` batches from data modules.
"""

from restore.data.datamodule import (
    ImageFolderDataModule,
    RestorationDataModule,
    SyntheticDataModule,
)
from restore.data.datasets import DecodedImages, PairedImages, PairedPatches, PatchDataset
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
