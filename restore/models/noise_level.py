"""Noise-level estimation: how strong the noise of each region of an image is, so the restoration
network can be told it instead of guessing (CBDNet's noise estimation subnetwork, on a coarse grid).

The estimator reads the image (and its hole mask) and returns the standard deviation of the noise
on a grid of ``CELL`` x ``CELL`` pixel cells, in grey levels (0-255 scale); :func:`upsample_level`
spreads it smoothly over the pixels. It learns from :func:`cell_noise_level`, the RMS of ``noisy -
clean`` over the known pixels of each cell, with :func:`asymmetric_level_loss`, which penalises
reading too little noise more than reading too much: a denoiser told too little leaves noise in
place, one told a little too much only smooths a little more (Guo et al., CBDNet, CVPR 2019).

Tensors are ``(B, C, H, W)`` floats in ``[0, 1]``; masks ``(B, 1, H, W)`` with 1 = missing pixel.
"""

from __future__ import annotations

import math

import kornia
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restore.geometry import pad_to_multiple

CELL = 16  # pixels per side of one cell of the estimated noise map
LEVEL_FLOOR = 0.25  # grey levels: the weakest noise the estimator is taught to read


def cell_noise_level(noisy: Tensor, clean: Tensor, mask: Tensor | None = None) -> Tensor:
    """The noise level of each ``CELL`` x ``CELL`` cell: the RMS of ``noisy - clean`` over the
    cell's known pixels (``mask == 0``) and channels, in grey levels, at least ``LEVEL_FLOOR``;
    ``(B, 1, ceil(H / CELL), ceil(W / CELL))``. A cell with no known pixel takes the image's
    level."""
    squared = (noisy.float() - clean.float()).square().mean(1, keepdim=True)
    known = torch.ones_like(squared) if mask is None else 1.0 - mask.float()
    total = F.avg_pool2d(pad_to_multiple(squared * known, CELL), CELL, ceil_mode=True)
    count = F.avg_pool2d(pad_to_multiple(known, CELL), CELL, ceil_mode=True)
    image = (squared * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp(
        min=1.0
    )
    mean = torch.where(count > 0, total / count.clamp(min=1e-6), image)
    return mean.sqrt().mul(255.0).clamp(min=LEVEL_FLOOR)


def residual_level(degraded: Tensor, restored: Tensor, mask: Tensor | None = None) -> Tensor:
    """The noise level an image showed: the RMS of ``degraded - restored`` over its known pixels
    (``mask == 0``) and channels, in grey levels (0-255 scale), at least 0.5; ``(B, 1, 1, 1)``.
    Inputs ``(B, C, H, W)`` in [0, 1]."""
    squared = (degraded - restored).square()
    weight = torch.ones_like(squared[:, :1]) if mask is None else 1.0 - mask.to(squared.dtype)
    total = (squared * weight).sum(dim=(1, 2, 3), keepdim=True)
    count = weight.sum(dim=(1, 2, 3), keepdim=True) * squared.shape[1]
    return (total / count.clamp(min=1.0)).sqrt().mul(255.0).clamp(min=0.5)


def asymmetric_level_loss(estimate: Tensor, target: Tensor, alpha: float = 0.3) -> Tensor:
    """CBDNet's asymmetric squared error, on log levels: an estimate below ``target`` is weighted
    ``1 - alpha``, above it ``alpha`` (``alpha < 0.5`` punishes under-reading more). Both are
    positive level maps of one shape."""
    diff = estimate.float().log() - target.float().log()
    weight = torch.where(diff < 0, 1.0 - alpha, alpha)
    return (weight * diff.square()).mean()


def upsample_level(cells: Tensor, size: tuple[int, int]) -> Tensor:
    """A cell map ``(B, 1, h, w)`` spread over ``size`` pixels (bilinear between cell centres)."""
    h, w = size
    full = F.interpolate(
        cells, size=(cells.shape[-2] * CELL, cells.shape[-1] * CELL), mode="bilinear"
    )
    return full[..., :h, :w]


class NoiseLevelNet(nn.Module):
    """A small fully convolutional estimator of the noise level on a grid of ``CELL``-pixel
    cells. It reads the image at 1/4 resolution (pixel-unshuffled) beside the log energy of two
    of its frequency bands per channel (fine: image minus a 1-px blur; middle: 1-px minus 2-px
    blur; means over 4 x 4 pixels): a convolution cannot square its input, and the energy of the
    fine band is what white noise raises, the middle band what correlated camera noise raises.
    Convolutions at 1/4, 1/8 and 1/16 of the resolution (receptive field about 150 px) tell noise
    from texture and give the log level per cell.

    Args:
        image_channels: 3 (RGB) or 1.
        width: channels of the hidden layers.
    """

    def __init__(self, image_channels: int = 3, width: int = 32) -> None:
        super().__init__()
        c_in = (image_channels + 1) * 16 + 2 * image_channels
        layers: list[nn.Module] = [nn.Conv2d(c_in, width, 3, padding=1), nn.SiLU()]
        for stride in (1, 2, 1, 2, 1):
            layers += [nn.Conv2d(width, width, 3, stride=stride, padding=1), nn.SiLU()]
        layers.append(nn.Conv2d(width, 1, 3, padding=1))
        self.body = nn.Sequential(*layers)
        nn.init.zeros_(self.body[-1].weight)
        nn.init.constant_(self.body[-1].bias, math.log(10.0))  # start at 10 grey levels

    def forward(self, images: Tensor, mask: Tensor | None = None) -> Tensor:
        """The noise level of each cell of ``images``, grey levels, ``(B, 1, ceil(H / CELL),
        ceil(W / CELL))``; ``mask``: holes, whose pixels say nothing about the noise."""
        if mask is None:
            mask = images.new_zeros((images.shape[0], 1, *images.shape[-2:]))
        # float32 whatever autocast asks: in bf16 the blurs become convolutions and the estimator
        # took twice the time on a CPU with native bf16 (MODEL_CARD.md, "AVX-512 with bf16")
        with torch.autocast(images.device.type, enabled=False):
            x = pad_to_multiple(torch.cat([images.float(), mask.float()], 1), CELL)
            pixels = x[:, :-1]
            blur1 = kornia.filters.gaussian_blur2d(
                pixels, (5, 5), (1.0, 1.0), border_type="reflect"
            )
            blur2 = kornia.filters.gaussian_blur2d(
                pixels, (9, 9), (2.0, 2.0), border_type="reflect"
            )
            bands = torch.cat([pixels - blur1, blur1 - blur2], 1).square()
            energy = F.avg_pool2d(bands, 4).add(1e-7).log().add(8.0).div(4.0)  # about [-2, 2]
            log_level = self.body(torch.cat([F.pixel_unshuffle(x, 4), energy], 1))
        return log_level.clamp(math.log(LEVEL_FLOOR), math.log(255.0)).exp()
