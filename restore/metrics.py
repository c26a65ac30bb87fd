"""Image quality metrics per image, the one implementation used by training, the benchmark and the
scripts: PSNR (torchmetrics) and SSIM (kornia), on ``(B, C, H, W)`` tensors of any device.

Both return one value per image, ``(B,)`` float32; average them yourself (or let a
``torchmetrics.MeanMetric`` do it, reduced across batches and processes, as training does).
"""

from __future__ import annotations

import kornia
import torch
from torch import Tensor
from torchmetrics.functional.image import peak_signal_noise_ratio


def psnr(
    output: Tensor, target: Tensor, data_range: float = 1.0, mask: Tensor | None = None
) -> Tensor:
    """PSNR in dB of each image; ``mask`` ``(B, 1, H, W)``: only where it is nonzero (NaN for an
    image whose mask is empty)."""
    output, target = output.double(), target.double()
    if mask is None:
        return peak_signal_noise_ratio(
            output, target, data_range=data_range, reduction="none", dim=(1, 2, 3)
        ).float()
    weight = (mask != 0).to(output.dtype).expand_as(output)
    count = weight.sum(dim=(1, 2, 3))
    mse = ((output - target) ** 2 * weight).sum(dim=(1, 2, 3)) / count
    value = 10 * torch.log10(data_range**2 / mse)
    return torch.where(count > 0, value, torch.nan).float()


def ssim(
    output: Tensor, target: Tensor, data_range: float = 1.0, window: int = 11, padding: str = "same"
) -> Tensor:
    """Mean SSIM of each image (kornia, Gaussian window of ``window`` px, sigma 1.5; ``padding``
    ``same`` or ``valid``, the region the published tables average over)."""
    value = kornia.metrics.ssim(
        output.float() / data_range,
        target.float() / data_range,
        window,
        max_val=1.0,
        padding=padding,
    )
    return value.mean(dim=(1, 2, 3))
