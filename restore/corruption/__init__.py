"""Synthetic corruptions for ``(B, C, H, W)`` float images in ``[0, 1]``: noise models, old-photo
damage and hole masks.

Mask convention: 1 = missing pixel; damage masks (:mod:`.damage`): 1 = damaged pixel, which keeps a
value. Noise ``sigma`` is on the 0-255 scale (see :mod:`.noise`).
"""

from restore.corruption.camera import (
    CameraNoise,
    CameraParams,
    CorrelatedNoise,
    camera_noise,
    correlated_noise,
)
from restore.corruption.compose import Corruption, CorruptionResult, RandomChoice, corrupt
from restore.corruption.damage import (
    DAMAGE_KINDS,
    Blotches,
    Creases,
    Damage,
    DamageKind,
    Dust,
    Hairs,
    Layer,
    Scratches,
    Style,
    TextAndStamps,
    add_damage,
    default_kinds,
)
from restore.corruption.masks import (
    LAMA_PRESETS,
    BrushStrokeMasks,
    FileMasks,
    IrregularMasks,
    MaskSampler,
    MixtureMasks,
    RectangleMasks,
    apply_mask,
)
from restore.corruption.noise import (
    DegradationOp,
    GaussianBlur,
    GaussianNoise,
    JPEGCompression,
    PoissonGaussianNoise,
    SaltAndPepperNoise,
    SpeckleNoise,
    gaussian_blur,
    gaussian_noise,
    jpeg_compression,
    poisson_gaussian_noise,
    salt_and_pepper_noise,
    speckle_noise,
)
from restore.corruption.statistics import NoiseStatistics, noise_statistics

__all__ = [
    "DAMAGE_KINDS",
    "LAMA_PRESETS",
    "Blotches",
    "BrushStrokeMasks",
    "CameraNoise",
    "CameraParams",
    "CorrelatedNoise",
    "Corruption",
    "CorruptionResult",
    "Creases",
    "Damage",
    "DamageKind",
    "Dust",
    "FileMasks",
    "GaussianBlur",
    "GaussianNoise",
    "Hairs",
    "IrregularMasks",
    "JPEGCompression",
    "Layer",
    "MaskSampler",
    "MixtureMasks",
    "DegradationOp",
    "NoiseStatistics",
    "PoissonGaussianNoise",
    "RandomChoice",
    "RectangleMasks",
    "SaltAndPepperNoise",
    "Scratches",
    "SpeckleNoise",
    "Style",
    "TextAndStamps",
    "add_damage",
    "apply_mask",
    "camera_noise",
    "correlated_noise",
    "corrupt",
    "default_kinds",
    "gaussian_blur",
    "gaussian_noise",
    "jpeg_compression",
    "noise_statistics",
    "poisson_gaussian_noise",
    "salt_and_pepper_noise",
    "speckle_noise",
]
