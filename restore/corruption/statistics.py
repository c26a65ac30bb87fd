"""Statistics that tell real camera noise from white noise, measured on ``noisy - clean``.

White Gaussian noise has no correlation between neighbours or colour channels and almost no
low-frequency power. Real sRGB noise has all three (demosaicing, in-camera noise reduction, JPEG):
these numbers are how :mod:`restore.corruption.camera` is checked against real noisy/clean pairs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import kornia
import torch
from torch import Tensor


@dataclass
class NoiseStatistics:
    """Means over a batch (see :func:`noise_statistics`) of statistics of the residual
    ``noisy - clean``.

    Attributes:
        rms: RMS of the residual, 0-255 scale.
        neighbour_correlation: lag-1 autocorrelation of the luma residual (mean of x and y); near
            0 for white noise.
        channel_correlation: mean correlation between the R, G and B residuals; near 0 for
            noise drawn independently per channel.
        low_frequency_share: share of the residual's variance left after a Gaussian blur (of
            ``blur_sigma`` pixels); about ``1 / (4 pi blur_sigma^2)`` for white noise.
        chroma_share: share of the residual's variance in its chroma (Cb and Cr of JPEG's
            YCbCr); about 0.65 for white noise drawn independently per channel, 0 for
            noise that is the same in every channel.
    """

    rms: float
    neighbour_correlation: float
    channel_correlation: float
    low_frequency_share: float
    chroma_share: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def noise_statistics(noisy: Tensor, clean: Tensor, blur_sigma: float = 2.0) -> NoiseStatistics:
    """Statistics of ``noisy - clean`` for ``(B, 3, H, W)`` images in ``[0, 1]``, averaged over B.

    ``low_frequency_share`` is ``var(blur(r)) / var(r)`` for a Gaussian blur of ``blur_sigma``
    pixels: about ``1 / (4 pi sigma^2)`` (0.02 at 2 px) for white noise, more for blotchy noise.
    """
    if noisy.shape != clean.shape or noisy.dim() != 4 or noisy.shape[1] != 3:
        raise ValueError(
            f"expected two (B, 3, H, W) tensors of one shape, got "
            f"{tuple(noisy.shape)} and {tuple(clean.shape)}"
        )
    r = noisy.double() - clean.double()
    r = r - r.mean(dim=(2, 3), keepdim=True)
    luma = kornia.color.rgb_to_grayscale(r)
    power = luma.square().mean(dim=(1, 2, 3))
    lag_x = (luma[..., 1:] * luma[..., :-1]).mean(dim=(1, 2, 3))
    lag_y = (luma[..., 1:, :] * luma[..., :-1, :]).mean(dim=(1, 2, 3))
    neighbour = 0.5 * (lag_x + lag_y) / power
    std = r.square().mean(dim=(2, 3)).sqrt()
    pairs = [(0, 1), (0, 2), (1, 2)]
    channel = torch.stack(
        [(r[:, i] * r[:, j]).mean(dim=(1, 2)) / (std[:, i] * std[:, j]) for i, j in pairs]
    ).mean(0)
    size = 2 * int(4 * blur_sigma) + 1
    blurred = kornia.filters.gaussian_blur2d(
        r, (size, size), (blur_sigma, blur_sigma), border_type="reflect"
    )
    low = blurred.square().mean(dim=(1, 2, 3)) / r.square().mean(dim=(1, 2, 3))
    rms = 255.0 * (noisy.double() - clean.double()).square().mean(dim=(1, 2, 3)).sqrt()
    ycbcr = kornia.color.rgb_to_ycbcr(r) - r.new_tensor([0.0, 0.5, 0.5])[:, None, None]
    chroma = ycbcr[:, 1:].square().mean(dim=(1, 2, 3)) * 2
    chroma_share = chroma / (chroma + ycbcr[:, :1].square().mean(dim=(1, 2, 3)))
    return NoiseStatistics(
        float(rms.mean()),
        float(neighbour.mean()),
        float(channel.mean()),
        float(low.mean()),
        float(chroma_share.mean()),
    )
