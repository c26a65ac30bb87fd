"""Clean training images: file reading, procedural images, patch datasets and data modules.

Images are float32 in ``[0, 1]``: ``(H, W, C)`` NumPy arrays from readers and generators,
``(C, H, W)`` tensors from datasets, ``(B, C, P, P)`` batches from data modules.
"""

from restore.data.datamodule import (
    DecodedImages,
    ImageFolderDataModule,
    PairedImages,
    PatchDataset,
    RestorationDataModule,
    SyntheticDataModule,
)
from restore.data.io import IMAGE_SUFFIXES, decode_image, list_images, read_image, to_float
from restore.data.synthetic import SyntheticImages, synthetic_image

__all__ = [
    "IMAGE_SUFFIXES", "DecodedImages", "ImageFolderDataModule", "PairedImages", "PatchDataset",
    "RestorationDataModule", "SyntheticDataModule", "SyntheticImages", "decode_image",
    "list_images", "read_image", "synthetic_image", "to_float",
]
