"""Image quality metrics per image, the one implementation used by training, the benchmark and the
scripts: PSNR (torchmetrics) and SSIM (kornia), and for predicted uncertainty the interval
coverage, calibration error, sparsification error (AUSE) and Gaussian NLL, and for fills the
texture they hold (fine detail, patch SWD), on ``(B, C, H, W)`` tensors of any device.

All return one value per image, ``(B,)`` float32; average them yourself (or let a
``torchmetrics.MeanMetric`` do it, reduced across batches and processes, as training does). The
uncertainty metrics take the restoration, its predicted error standard deviation per pixel and
channel (``std``; pixels with ``std`` 0, such as copied known pixels, are left out) and the clean
image, all on one scale.
"""

from __future__ import annotations

import math

import kornia
import torch
import torch.nn.functional as F
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
    output: Tensor,
    target: Tensor,
    data_range: float = 1.0,
    window: int = 11,
    padding: str = "same",
    mask: Tensor | None = None,
) -> Tensor:
    """Mean SSIM of each image (kornia, Gaussian window of ``window`` px, sigma 1.5; ``padding``
    ``same`` or ``valid``, the region the published tables average over); ``mask``
    ``(B, 1, H, W)``: the SSIM map averaged only where it is nonzero (``same`` padding)."""
    value = kornia.metrics.ssim(
        output.float() / data_range,
        target.float() / data_range,
        window,
        max_val=1.0,
        padding=padding if mask is None else "same",
    )
    if mask is None:
        return value.mean(dim=(1, 2, 3))
    weight = (mask != 0).to(value.dtype).expand_as(value)
    return (value * weight).sum(dim=(1, 2, 3)) / weight.sum(dim=(1, 2, 3)).clamp_min(1)


def _normalised_errors(restored: Tensor, std: Tensor, clean: Tensor) -> tuple[Tensor, Tensor]:
    """``|clean - restored| / std`` flattened per image, and which values count (``std`` > 0)."""
    std = std.float().expand_as(restored)
    counted = (std > 0).flatten(1)
    ratio = ((clean.float() - restored.float()).abs() / std.clamp_min(1e-12)).flatten(1)
    return ratio, counted


def interval_coverage(restored: Tensor, std: Tensor, clean: Tensor, level: float = 0.9) -> Tensor:
    """Share of values of ``clean`` inside the central ``level`` interval of ``N(restored,
    std^2)``, per image: ideally ``level``."""
    z = math.sqrt(2.0) * torch.erfinv(torch.tensor(level, dtype=torch.float64)).item()
    ratio, counted = _normalised_errors(restored, std, clean)
    return ((ratio <= z) & counted).sum(1) / counted.sum(1).clamp_min(1)


def calibration_error(
    restored: Tensor,
    std: Tensor,
    clean: Tensor,
    levels: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
) -> Tensor:
    """Mean absolute gap between each central interval's nominal ``level`` and its observed
    coverage, per image (0 = calibrated; 0.1 = 10 percentage points off on average)."""
    gaps = [(interval_coverage(restored, std, clean, level) - level).abs() for level in levels]
    return torch.stack(gaps).mean(0)


def ause(restored: Tensor, std: Tensor, clean: Tensor, steps: int = 50) -> Tensor:
    """Area under the sparsification error curve, per image: remove the most uncertain values
    first (by ``std``) and follow the RMSE of those left, normalised by the full RMSE, against the
    same curve when the largest errors go first (the oracle). 0 = ``std`` orders the errors
    perfectly; random ordering gives about the area between a flat curve and the oracle."""
    err = (clean.float() - restored.float()).flatten(1)
    std = std.float().expand_as(restored).flatten(1)
    out = []
    for e, s in zip(err, std, strict=True):
        keep = s > 0
        e2, s = e[keep] ** 2, s[keep]
        n = e2.numel()
        if n == 0:
            out.append(torch.tensor(float("nan")))
            continue
        curves = []
        for order in (torch.argsort(s, descending=True), torch.argsort(e2, descending=True)):
            tail = e2[order].flip(0).cumsum(0).flip(0)  # sum of squared errors from index i on
            starts = (torch.arange(steps, dtype=torch.float64) / steps * n).long()
            left = (n - starts).clamp_min(1)
            curves.append((tail[starts] / left).sqrt())
        full = curves[0][0].clamp_min(1e-12)
        out.append(((curves[0] - curves[1]) / full).mean().float())
    return torch.stack(out)


def gaussian_nll(restored: Tensor, std: Tensor, clean: Tensor) -> Tensor:
    """Mean Gaussian negative log-likelihood (nats, constants dropped) of ``clean`` under
    ``N(restored, std^2)`` per image, over the values with ``std`` > 0."""
    std = std.float().expand_as(restored)
    counted = std > 0
    safe = std.clamp_min(1e-6)
    nll = torch.log(safe) + 0.5 * ((clean.float() - restored.float()) / safe) ** 2
    return (nll * counted).flatten(1).sum(1) / counted.flatten(1).sum(1).clamp_min(1)


def damage_average_precision(probability: Tensor, target: Tensor) -> Tensor:
    """Pixel average precision of a ``(B, 1, H, W)`` damage probability map against a 0/1
    target, per image (NaN for an image without damaged pixels)."""
    from torchmetrics.functional.classification import binary_average_precision

    values = []
    for p, t in zip(probability.float().flatten(1), target.flatten(1).long(), strict=True):
        values.append(binary_average_precision(p, t) if t.any() else torch.tensor(float("nan")))
    return torch.stack(values).float()


def damage_auroc(probability: Tensor, target: Tensor) -> Tensor:
    """Pixel AUROC of a damage probability map against a 0/1 target, per image (as above)."""
    from torchmetrics.functional.classification import binary_auroc

    values = []
    for p, t in zip(probability.float().flatten(1), target.flatten(1).long(), strict=True):
        has_both = t.any() and not t.all()
        values.append(binary_auroc(p, t) if has_both else torch.tensor(float("nan")))
    return torch.stack(values).float()


def gradient_energy(image: Tensor, mask: Tensor) -> Tensor:
    """Mean squared gradient magnitude (kornia's Sobel, summed over channels) over the pixels
    where ``mask`` ``(B, 1, H, W)`` is nonzero, per image: how much detail a region holds. The
    log of its ratio between a fill and the true content says whether the fill is too smooth
    (< 0) or too rough (> 0)."""
    grad = kornia.filters.spatial_gradient(image.float())  # (B, C, 2, H, W)
    energy = grad.square().sum(dim=(1, 2))[:, None]
    weight = (mask != 0).to(energy.dtype)
    return (energy * weight).sum(dim=(1, 2, 3)) / weight.sum(dim=(1, 2, 3)).clamp_min(1)


def _grey(image: Tensor) -> Tensor:
    """``(B, 1, H, W)`` luma (BT.601, kornia) of RGB images; gray images as they are."""
    image = image.float()
    return kornia.color.rgb_to_grayscale(image) if image.shape[1] == 3 else image


def fine_detail(image: Tensor, mask: Tensor, sigma: float = 1.5) -> Tensor:
    """Mean ``|g - blur(g)|`` over the pixels where ``mask`` ``(B, 1, H, W)`` is nonzero, per
    image, ``g`` the grey image and ``blur`` a Gaussian of ``sigma`` pixels (reflected borders):
    how much fine detail a region holds, on the image's scale. Its ratio between a fill and the
    true content is the fine-detail ratio (1: as much detail as the real photo; a haze is near
    0)."""
    grey = _grey(image)
    size = 2 * math.ceil(3 * sigma) + 1
    blurred = kornia.filters.gaussian_blur2d(grey, (size, size), (sigma, sigma), "reflect")
    weight = (mask != 0).to(grey.dtype)
    return ((grey - blurred).abs() * weight).sum(dim=(1, 2, 3)) / weight.sum(
        dim=(1, 2, 3)
    ).clamp_min(1)


def patch_swd(
    output: Tensor,
    target: Tensor,
    mask: Tensor,
    patch: int = 7,
    directions: int = 64,
    max_patches: int = 20000,
    seed: int = 0,
) -> Tensor:
    """Sliced Wasserstein distance between the ``patch`` x ``patch`` grey patches (each with its
    mean removed) of ``output`` and of ``target`` centred on the pixels where ``mask`` is
    nonzero, per image, on the images' scale: the mean over ``directions`` random unit
    directions (fixed by ``seed``) of the 1-D Wasserstein-1 distance between the two sets'
    projections. It compares the distributions of local texture, not pixel by pixel: a fill with
    the right kind of texture in other places scores low, a haze high. At most ``max_patches``
    centres per image (a seeded random subset); NaN for an image whose mask is empty."""
    g = torch.Generator().manual_seed(seed)
    dirs = torch.randn(patch * patch, directions, generator=g, dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    values = []
    for out, tgt, m in zip(_grey(output), _grey(target), mask, strict=True):
        centres = torch.nonzero(m[0] != 0).cpu()
        if centres.numel() == 0:
            values.append(torch.tensor(float("nan")))
            continue
        if centres.shape[0] > max_patches:
            centres = centres[torch.randperm(centres.shape[0], generator=g)[:max_patches]]
        projections = []
        for image in (out, tgt):
            padded = F.pad(image[None].double().cpu(), [patch // 2] * 4, mode="reflect")
            windows = padded[0, 0].unfold(0, patch, 1).unfold(1, patch, 1)
            patches = windows[centres[:, 0], centres[:, 1]].reshape(len(centres), -1)
            patches = patches - patches.mean(1, keepdim=True)
            projections.append((patches @ dirs).sort(0).values)
        values.append((projections[0] - projections[1]).abs().mean().float())
    return torch.stack(values)
